/**
 * The in-memory key index: for every key, its generations of revisions, as etcd's mvcc keyIndex
 * and treeIndex. A generation runs from the put that (re)creates a key to the tombstone that
 * deletes it; the index answers "which revision of this key is visible at revision R" without
 * touching the engine, and decides what compaction may drop.
 *
 * Example: put(a)@1 put(a)@2 del(a)@3 put(a)@4 →
 *   generations [{created 1, ver 3, revs [1, 2, 3(tombstone)]}, {created 4, ver 1, revs [4]}]
 *
 * Invariants: revisions within a key strictly increase; only the last generation may be open
 * (not ending in a tombstone); an empty last generation means the key is currently deleted.
 */
import { compareRevisions, type Revision } from "../schema.js";
import { keyBytes, keyString } from "../backend/backend.js";

/** Set of revisions, keyed "main_sub" (etcd uses map[revision]struct{}). */
export type RevisionSet = Set<string>;

export function revisionId(rev: Revision): string {
  return `${rev.main}_${rev.sub}`;
}

/** One life of a key, from creation to deletion. */
export interface Generation {
  /** Number of puts in this generation (a tombstone counts too, as in etcd). */
  version: number;
  /** Revision of the put that created this generation. */
  created: Revision;
  /** Revisions of every change in this generation, ascending; the last is a tombstone when closed. */
  revs: Revision[];
}

const ZERO: Revision = { main: 0, sub: 0 };

/** Index entry of one key. */
export class KeyIndex {
  /** Last revision that changed the key. */
  modified: Revision = ZERO;
  generations: Generation[] = [];
  /** The key as a one-char-per-byte string: compares (with < and >) exactly as the bytes do. */
  readonly id: string;
  /** The key's bytes, made from `id` when first asked for (a restart builds a million indexes). */
  private bytes: Uint8Array | undefined;

  /** Give `key`, or only `id` (keyString of the key) when the bytes are not at hand. */
  constructor(key: Uint8Array | undefined, id?: string) {
    this.bytes = key;
    this.id = id ?? keyString(key!);
  }

  get key(): Uint8Array {
    return (this.bytes ??= keyBytes(this.id));
  }

  /** Records a put at `rev`; revisions must increase. */
  put(rev: Revision): void {
    if (compareRevisions(rev, this.modified) <= 0) {
      throw new Error(`mvcc: put of ${revisionId(rev)} on key index modified at ${revisionId(this.modified)}`);
    }
    if (this.generations.length === 0) this.generations.push({ version: 0, created: ZERO, revs: [] });
    const g = this.generations[this.generations.length - 1]!;
    if (g.revs.length === 0) g.created = rev;
    g.revs.push(rev);
    g.version++;
    this.modified = rev;
  }

  /** Recreates the state of a key from its latest stored version (used when rebuilding the index). */
  restore(created: Revision, modified: Revision, version: number): void {
    if (this.generations.length !== 0) throw new Error("mvcc: restore into a non-empty key index");
    this.modified = modified;
    this.generations.push({ version, created, revs: [modified] });
  }

  /** Records a deletion at `rev`; returns false (and changes nothing) when the key is already deleted. */
  tombstone(rev: Revision): boolean {
    if (this.isEmpty()) throw new Error(`mvcc: tombstone on empty key index ${keyString(this.key)}`);
    if (this.generations[this.generations.length - 1]!.revs.length === 0) return false;
    this.put(rev);
    this.generations.push({ version: 0, created: ZERO, revs: [] });
    return true;
  }

  /** The visible version at `atRev`: its mod revision, create revision and version; null when absent. */
  get(atRev: number): { modified: Revision; created: Revision; version: number } | null {
    const g = this.findGeneration(atRev);
    if (g === null || g.revs.length === 0) return null;
    const n = walk(g, (rev) => rev.main > atRev);
    if (n === -1) return null;
    return { modified: g.revs[n]!, created: g.created, version: g.version - (g.revs.length - n - 1) };
  }

  /** Revisions changed since `rev` (main ≥ rev), one per main revision (the last sub), ascending. */
  since(rev: number): Revision[] {
    const since: Revision = { main: rev, sub: 0 };
    let gi = this.generations.length - 1;
    for (; gi > 0; gi--) {
      const g = this.generations[gi]!;
      if (g.revs.length === 0) continue;
      if (compareRevisions(since, g.created) > 0) break;
    }
    const revs: Revision[] = [];
    let last = 0;
    for (; gi < this.generations.length; gi++) {
      for (const r of this.generations[gi]!.revs) {
        if (compareRevisions(since, r) > 0) continue;
        if (r.main === last) {
          revs[revs.length - 1] = r;
          continue;
        }
        revs.push(r);
        last = r.main;
      }
    }
    return revs;
  }

  /**
   * Drops every revision older than the one visible at `atRev`, adding the revisions that remain
   * needed to `available`. A generation reduced to its tombstone disappears.
   */
  compact(atRev: number, available: RevisionSet): void {
    if (this.isEmpty()) throw new Error(`mvcc: compact on empty key index ${keyString(this.key)}`);
    let { genIdx, revIndex } = this.doCompact(atRev, available);
    const g = this.generations[genIdx]!;
    if (g.revs.length > 0) {
      if (revIndex !== -1) g.revs = g.revs.slice(revIndex);
      if (g.revs.length === 1 && genIdx !== this.generations.length - 1) {
        available.delete(revisionId(g.revs[0]!));
        genIdx++;
      }
    }
    this.generations = this.generations.slice(genIdx);
  }

  /** Adds to `available` the revision that compaction at `atRev` would keep (without compacting). */
  keep(atRev: number, available: RevisionSet): void {
    if (this.isEmpty()) return;
    const { genIdx, revIndex } = this.doCompact(atRev, available);
    const g = this.generations[genIdx]!;
    if (g.revs.length > 0 && revIndex === g.revs.length - 1 && genIdx !== this.generations.length - 1) {
      available.delete(revisionId(g.revs[revIndex]!));
    }
  }

  private doCompact(atRev: number, available: RevisionSet): { genIdx: number; revIndex: number } {
    let genIdx = 0;
    let g = this.generations[0]!;
    while (genIdx < this.generations.length - 1) {
      const tomb = g.revs[g.revs.length - 1]!.main;
      if (tomb > atRev) break;
      genIdx++;
      g = this.generations[genIdx]!;
    }
    const revIndex = walk(g, (rev) => {
      if (rev.main <= atRev) {
        available.add(revisionId(rev));
        return false;
      }
      return true;
    });
    return { genIdx, revIndex };
  }

  /** True when the key has no revisions left (a single empty generation). */
  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.revs.length === 0;
  }

  private findGeneration(rev: number): Generation | null {
    const lastg = this.generations.length - 1;
    for (let cg = lastg; cg >= 0; cg--) {
      const g = this.generations[cg]!;
      if (g.revs.length === 0) continue;
      if (cg !== lastg && g.revs[g.revs.length - 1]!.main <= rev) return null;
      if (g.revs[0]!.main <= rev) return g;
    }
    return null;
  }
}

/** Walks a generation's revisions newest first; returns the index where `f` first says stop, or -1. */
function walk(g: Generation, f: (rev: Revision) => boolean): number {
  for (let i = g.revs.length - 1; i >= 0; i--) if (!f(g.revs[i]!)) return i;
  return -1;
}

/** Largest chunk of the ordered key list before it is split in two. */
const MAX_CHUNK_KEYS = 1024;

/**
 * Key indexes in key order: a list of sorted chunks (each at most MAX_CHUNK_KEYS long, every key
 * of a chunk below every key of the next). Insert is a binary search plus a splice inside one
 * chunk, so inserting keys in any order stays cheap; iteration from a lower bound is a walk.
 */
class OrderedKeys {
  private chunks: KeyIndex[][] = [];
  private count = 0;

  size(): number {
    return this.count;
  }

  insert(ki: KeyIndex): void {
    this.count++;
    if (this.chunks.length === 0) {
      this.chunks.push([ki]);
      return;
    }
    let c = this.chunkFor(ki.id);
    if (c === this.chunks.length) c--;
    const chunk = this.chunks[c]!;
    chunk.splice(lowerBound(chunk, ki.id), 0, ki);
    if (chunk.length > MAX_CHUNK_KEYS) this.chunks.splice(c, 1, chunk.slice(0, chunk.length >>> 1), chunk.slice(chunk.length >>> 1));
  }

  /** Calls `f` for each key index with id ≥ `key` in order, until `f` returns false. */
  walkFrom(key: string, f: (ki: KeyIndex) => boolean): void {
    for (let c = this.chunkFor(key), first = true; c < this.chunks.length; c++, first = false) {
      const chunk = this.chunks[c]!;
      for (let i = first ? lowerBound(chunk, key) : 0; i < chunk.length; i++) if (!f(chunk[i]!)) return;
    }
  }

  toArray(): KeyIndex[] {
    return this.chunks.flat();
  }

  /** Replaces the contents with `sorted` (already in key order). */
  rebuild(sorted: KeyIndex[]): void {
    this.chunks = [];
    for (let i = 0; i < sorted.length; i += MAX_CHUNK_KEYS / 2) this.chunks.push(sorted.slice(i, i + MAX_CHUNK_KEYS / 2));
    this.count = sorted.length;
  }

  /** Index of the first chunk whose last id is ≥ `key` (chunks.length when none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]!.id < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** First position in `sorted` whose id is ≥ `key`. */
function lowerBound(sorted: KeyIndex[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.id < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** All keys' indexes: a hash map for lookups plus OrderedKeys for range scans. */
export class TreeIndex {
  private readonly byKey = new Map<string, KeyIndex>();
  private readonly sorted = new OrderedKeys();

  /** Number of keys in the index (including deleted keys not yet compacted away). */
  size(): number {
    return this.sorted.size();
  }

  /** The key index of `key`, or undefined. */
  lookup(key: Uint8Array): KeyIndex | undefined {
    return this.byKey.get(keyString(key));
  }

  /** The key index whose id (keyString of the key) is `id`, or undefined. */
  lookupId(id: string): KeyIndex | undefined {
    return this.byKey.get(id);
  }

  /** Adds a key index (the key must not be present). */
  insert(ki: KeyIndex): void {
    this.sorted.insert(ki);
    this.byKey.set(ki.id, ki);
  }

  put(key: Uint8Array, rev: Revision): void {
    let ki = this.lookup(key);
    if (ki === undefined) {
      ki = new KeyIndex(key.slice());
      this.insert(ki);
    }
    ki.put(rev);
  }

  /** Visible version of one key at `atRev`, or null. */
  get(key: Uint8Array, atRev: number): { modified: Revision; created: Revision; version: number } | null {
    const ki = this.lookup(key);
    return ki === undefined ? null : ki.get(atRev);
  }

  /** Tombstones `key` at `rev`; false when it is absent or already deleted. */
  tombstone(key: Uint8Array, rev: Revision): boolean {
    const ki = this.lookup(key);
    return ki === undefined ? false : ki.tombstone(rev);
  }

  /**
   * Keys and mod revisions visible at `atRev` in [key, end): `end` null means the single key
   * `key`; an empty `end` means every key ≥ `key`.
   */
  range(key: Uint8Array, end: Uint8Array | null, atRev: number): { keys: Uint8Array[]; revs: Revision[] } {
    const keys: Uint8Array[] = [];
    const revs: Revision[] = [];
    if (end === null) {
      const found = this.get(key, atRev);
      if (found !== null) {
        keys.push(key);
        revs.push(found.modified);
      }
      return { keys, revs };
    }
    this.visit(key, end, (ki) => {
      const found = ki.get(atRev);
      if (found !== null) {
        keys.push(ki.key);
        revs.push(found.modified);
      }
    });
    return { keys, revs };
  }

  /** Revisions of changes at or after `rev` in [key, end), ascending (for watch catch-up). */
  rangeSince(key: Uint8Array, end: Uint8Array | null, rev: number): Revision[] {
    if (end === null) return this.lookup(key)?.since(rev) ?? [];
    const revs: Revision[] = [];
    this.visit(key, end, (ki) => revs.push(...ki.since(rev)));
    return revs.sort(compareRevisions);
  }

  /** Compacts every key at `rev`; returns the revisions that must stay in the engine. */
  compact(rev: number): RevisionSet {
    const available: RevisionSet = new Set();
    const survivors: KeyIndex[] = [];
    for (const ki of this.sorted.toArray()) {
      ki.compact(rev, available);
      if (ki.isEmpty()) this.byKey.delete(ki.id);
      else survivors.push(ki);
    }
    this.sorted.rebuild(survivors);
    return available;
  }

  /** Revisions a compaction at `rev` would keep. */
  keep(rev: number): RevisionSet {
    const available: RevisionSet = new Set();
    this.sorted.walkFrom("", (ki) => {
      ki.keep(rev, available);
      return true;
    });
    return available;
  }

  /** Every key index in key order (for tests and diagnostics). */
  all(): readonly KeyIndex[] {
    return this.sorted.toArray();
  }

  private visit(key: Uint8Array, end: Uint8Array, f: (ki: KeyIndex) => void): void {
    const endId = end.length > 0 ? keyString(end) : null;
    this.sorted.walkFrom(keyString(key), (ki) => {
      if (endId !== null && ki.id >= endId) return false;
      f(ki);
      return true;
    });
  }

  /**
   * Bulk load for rebuilding: `insertUnordered` adds keys to the map only; `finishBulkLoad`
   * sorts them once and rebuilds the ordered list (much cheaper than ordered inserts).
   */
  insertUnordered(ki: KeyIndex): void {
    this.byKey.set(ki.id, ki);
  }

  finishBulkLoad(): void {
    // The default sort compares strings by UTF-16 code units: for one-char-per-byte ids that is
    // byte order, and it runs without calling back into JS per comparison.
    const ids = [...this.byKey.keys()].sort();
    this.sorted.rebuild(ids.map((id) => this.byKey.get(id)!));
  }
}
