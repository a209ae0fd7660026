/**
 * The MVCC key-value store: etcd 3.4's revisioned keyspace on a Backend (LMDB in production).
 *
 * Every change set (a Put, a DeleteRange, or a whole Txn) gets the next main revision; the changes
 * inside it get sub revisions 0, 1, 2… Each change is stored in the "key" bucket under its revision
 * key with the full mvccpb.KeyValue as value (a tombstone for deletions), and the in-memory
 * TreeIndex maps user keys to their revisions. Everything on disk is byte-identical to etcd's, so
 * HashKV matches etcd and the buckets can be exported to an etcd snapshot.
 *
 * Concurrency: the store is synchronous and single-threaded. A read or write "transaction" is a
 * view that must be used and ended within one synchronous stretch of code (no await inside).
 *
 * Atomicity with the Raft log: all writes (KV changes, the consistent index, compaction marks, and
 * whatever lease/membership code writes through `store.backend`) go to the backend's pending batch
 * and are published together by `commit()`. The server applies a batch of entries, calls
 * `setConsistentIndex(lastAppliedIndex)` (or per entry) and then `commit()`; after a restart it
 * skips entries with index ≤ `consistentIndex()`.
 */
import { keyString, type Backend, type BucketEntry } from "../backend/backend.js";
import {
  ALL_BUCKETS, KEY_BUCKET, META_BUCKET, META_CONSISTENT_INDEX, META_FINISHED_COMPACT_REV, META_SCHEDULED_COMPACT_REV,
  decodeKeyValue, decodeRevisionKey, decodeUint64, encodeKeyValue, encodeRevisionKey, encodeUint64, isTombstoneKey,
  type KeyValue, type Revision,
} from "../schema.js";
import { CompactedError, FutureRevisionError } from "./errors.js";
import { KeyIndex, TreeIndex, revisionId } from "./key-index.js";
import { crc32cUpdate } from "./crc32c.js";

/** Callbacks into the lessor, called as etcd's store calls its lessor. */
export interface LeaseHooks {
  /** `key` is now attached to `lease` (a put with a lease, or found on restore). */
  attach(lease: bigint, key: Uint8Array): void;
  /** `key` is no longer attached to `lease` (overwritten or deleted). */
  detach(lease: bigint, key: Uint8Array): void;
}

/** Options of an MVCC-level range (etcd's mvcc.RangeOptions). */
export interface RangeOptions {
  /** Return at most this many kvs (0: all). `count` still counts everything. */
  limit?: number;
  /** Read at this revision (0: current). */
  rev?: number;
  /** Only count; return no kvs. */
  count?: boolean;
}

/** Result of an MVCC-level range. */
export interface RangeResult {
  /** Visible key-values in key order, at most `limit`. */
  kvs: KeyValue[];
  /** Number of visible keys in the range (ignoring `limit`). */
  count: number;
  /** The store revision the read ran against (the header revision). */
  rev: number;
}

/** A consistent read view. */
export interface TxnRead {
  /** Store revision of this view. */
  readonly rev: number;
  /** Compaction revision at the time the view was taken (-1: never compacted). */
  readonly firstRev: number;
  /**
   * Keys in [key, end) visible at `options.rev`. `end` null: only `key`; `end` empty: every key
   * ≥ `key`. Throws FutureRevisionError or CompactedError.
   */
  range(key: Uint8Array, end: Uint8Array | null, options?: RangeOptions): RangeResult;
}

/** A write transaction: all its changes share one main revision. Call `end()` when done. */
export interface TxnWrite extends TxnRead {
  /** Puts `key` = `value` attached to `lease` (0n: none); returns the revision it will have. */
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number;
  /** Deletes the keys in [key, end) (same `end` rules as range); returns how many and the revision. */
  deleteRange(key: Uint8Array, end: Uint8Array | null): { deleted: number; rev: number };
  /** Changes made so far (puts as stored, deletions as key-only tombstones). */
  changes(): readonly KeyValue[];
  /** Finishes the transaction; the store revision advances when it changed anything. */
  end(): void;
}

/** Result of HashKV (etcd's Maintenance.HashKV). */
export interface HashKVResult {
  /** CRC-32C over the key bucket as etcd 3.4 computes it. */
  hash: number;
  /** The store's current revision (response header revision). */
  revision: number;
  /** The compaction revision (-1 when never compacted), etcd's compact_revision field. */
  compactRevision: number;
}

/** Bytes of the zero revision key, the lowest key of the key bucket. */
const LOWEST_REVISION_KEY = new Uint8Array(17);

/** The revisioned key-value store. Create with `MvccStore.open`. */
export class MvccStore {
  /** The engine; lease, membership and alarm code write their buckets through it. */
  readonly backend: Backend;
  private readonly index = new TreeIndex();
  private readonly leaseHooks: LeaseHooks | undefined;
  /** Revision of the last finished change set (1 on a new store, as etcd). */
  private currentRev = 1;
  /** Revision of the last compaction (-1 when never compacted). */
  private compactMainRev = -1;
  /** Index of the last Raft entry whose effects are in the backend (0: none). */
  private consistentIdx = 0;
  /** True while a write transaction is open; only one may be. */
  private writing = false;

  private constructor(backend: Backend, leaseHooks: LeaseHooks | undefined) {
    this.backend = backend;
    this.leaseHooks = leaseHooks;
  }

  /**
   * Opens the store on `backend`: creates etcd's buckets if missing, rebuilds the key index from
   * the key bucket, reattaches leases, and finishes a compaction that was interrupted.
   */
  static open(backend: Backend, options: { leaseHooks?: LeaseHooks } = {}): MvccStore {
    const store = new MvccStore(backend, options.leaseHooks);
    for (const bucket of ALL_BUCKETS) backend.createBucket(bucket);
    backend.commit();
    store.restore();
    return store;
  }

  /** The revision of the last change (etcd's header revision). */
  get revision(): number {
    return this.currentRev;
  }

  /** The last compaction revision, -1 when the store was never compacted. */
  get compactRevision(): number {
    return this.compactMainRev;
  }

  /** Index of the last Raft entry applied to this store (0 when none). */
  consistentIndex(): number {
    return this.consistentIdx;
  }

  /** Records that entries up to `index` are applied; published by the next `commit()`. */
  setConsistentIndex(index: number): void {
    this.consistentIdx = index;
    this.backend.put(META_BUCKET, textBytes(META_CONSISTENT_INDEX), encodeUint64(index));
  }

  /** Publishes all pending writes atomically (not necessarily durably). */
  commit(): void {
    this.backend.commit();
  }

  /** Commits and waits until everything is on stable storage (call before purging WAL segments). */
  async checkpoint(): Promise<void> {
    this.backend.commit();
    await this.backend.checkpoint();
  }

  /** A read view at the current revision. */
  read(): TxnRead {
    return new ReadView(this, this.currentRev, this.compactMainRev);
  }

  /** Starts a write transaction (one at a time). */
  write(): TxnWrite {
    if (this.writing) throw new Error("mvcc: a write transaction is already open");
    this.writing = true;
    return new WriteTxn(this);
  }

  /** Range at the current revision (shorthand for read().range). */
  range(key: Uint8Array, end: Uint8Array | null, options: RangeOptions = {}): RangeResult {
    return this.read().range(key, end, options);
  }

  /** A single put in its own change set; returns its revision. */
  put(key: Uint8Array, value: Uint8Array, lease: bigint = 0n): number {
    const txn = this.write();
    try {
      return txn.put(key, value, lease);
    } finally {
      txn.end();
    }
  }

  /** A single delete-range in its own change set. */
  deleteRange(key: Uint8Array, end: Uint8Array | null): { deleted: number; rev: number } {
    const txn = this.write();
    try {
      return txn.deleteRange(key, end);
    } finally {
      txn.end();
    }
  }

  /**
   * Compacts at `rev`: afterwards reads below `rev` fail with CompactedError, and the engine holds,
   * per key, only revisions after `rev` plus the one visible at `rev` (tombstones dropped), as
   * etcd's physical compaction leaves it. Commits.
   */
  compact(rev: number): void {
    if (rev <= this.compactMainRev) throw new CompactedError(this.compactMainRev);
    if (rev > this.currentRev) throw new FutureRevisionError(this.currentRev);
    this.compactMainRev = rev;
    this.backend.put(META_BUCKET, textBytes(META_SCHEDULED_COMPACT_REV), encodeRevisionKey({ main: rev, sub: 0 }));
    this.backend.commit();
    this.runCompaction(rev);
  }

  /** Deletes what compaction at `rev` drops from the engine and records it as finished. */
  private runCompaction(rev: number): void {
    const keep = this.index.compact(rev);
    const end = encodeUint64(rev + 1); // 8-byte prefix: every revision key with main ≤ rev sorts below it
    for (const { key } of this.backend.range(KEY_BUCKET, LOWEST_REVISION_KEY, end)) {
      if (!keep.has(revisionId(decodeRevisionKey(key)))) this.backend.delete(KEY_BUCKET, key);
    }
    this.backend.put(META_BUCKET, textBytes(META_FINISHED_COMPACT_REV), encodeRevisionKey({ main: rev, sub: 0 }));
    this.backend.commit();
  }

  /**
   * etcd 3.4's HashKV: CRC-32C over "key" and every key-bucket entry with main revision ≤ `rev`
   * (0: current), skipping revisions at or below the compaction revision that compaction will
   * not keep. Throws CompactedError when 0 < rev ≤ compactRevision, FutureRevisionError when
   * rev > revision.
   */
  hashKV(rev = 0): HashKVResult {
    const compactRev = this.compactMainRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw new CompactedError(compactRev);
    if (rev > 0 && rev > currentRev) throw new FutureRevisionError(currentRev);
    const atRev = rev === 0 ? currentRev : rev;
    const keep = this.index.keep(atRev);
    this.backend.commit();
    let hash = crc32cUpdate(0, textBytes(KEY_BUCKET));
    this.backend.forEach(KEY_BUCKET, (key, value) => {
      const kr = decodeRevisionKey(key);
      if (kr.main > atRev) return;
      if (kr.main <= compactRev && keep.size > 0 && !keep.has(revisionId(kr))) return;
      hash = crc32cUpdate(hash, key);
      hash = crc32cUpdate(hash, value);
    });
    return { hash, revision: currentRev, compactRevision: compactRev };
  }

  /**
   * etcd's Maintenance.Hash: CRC-32C over every bucket (in name order: name, then each key and
   * value), ignoring meta/consistent_index. Returns the hash and the current revision.
   */
  hash(): { hash: number; revision: number } {
    this.backend.commit();
    let hash = 0;
    for (const bucket of this.backend.buckets()) {
      hash = crc32cUpdate(hash, textBytes(bucket));
      this.backend.forEach(bucket, (key, value) => {
        if (bucket === META_BUCKET && Buffer.from(key).toString("latin1") === META_CONSISTENT_INDEX) return;
        hash = crc32cUpdate(hash, key);
        hash = crc32cUpdate(hash, value);
      });
    }
    return { hash, revision: this.currentRev };
  }

  /** Number of keys that currently exist (etcd_debugging_mvcc_keys_total). */
  keyCount(): number {
    let live = 0;
    for (const ki of this.index.all()) {
      const last = ki.generations[ki.generations.length - 1];
      if (last !== undefined && last.revs.length > 0) live++;
    }
    return live;
  }

  /** Revisions of changes at or after `rev` in [key, end) (for watch catch-up). */
  revisionsSince(key: Uint8Array, end: Uint8Array | null, rev: number): Revision[] {
    return this.index.rangeSince(key, end, rev);
  }

  /** The stored key-bucket value at revision `rev` (tombstone or not), or undefined when compacted away. */
  kvAt(rev: Revision): { kv: KeyValue; tombstone: boolean } | undefined {
    const plain = this.backend.get(KEY_BUCKET, encodeRevisionKey(rev));
    if (plain !== undefined) return { kv: decodeKeyValue(plain), tombstone: false };
    const tomb = this.backend.get(KEY_BUCKET, encodeRevisionKey(rev, true));
    return tomb === undefined ? undefined : { kv: decodeKeyValue(tomb), tombstone: true };
  }

  /** Engine file size in bytes (Status db_size). */
  sizeBytes(): number {
    return this.backend.sizeBytes();
  }

  /** Bytes of live data in the engine (Status db_size_in_use). */
  sizeInUseBytes(): number {
    return this.backend.sizeInUseBytes();
  }

  /**
   * Snapshot export: calls `fn` for every bucket (name order) and every committed key/value in it
   * (key order). Commits first. Arrays passed to `fn` are only valid during the call.
   */
  forEachBucketEntry(fn: (bucket: string, key: Uint8Array, value: Uint8Array) => void): void {
    this.backend.commit();
    for (const bucket of this.backend.buckets()) this.backend.forEach(bucket, (key, value) => fn(bucket, key, value));
  }

  /** Commits and rewrites the engine without free space (Maintenance.Defragment). */
  async defragment(): Promise<void> {
    await this.backend.defragment();
  }

  /** Commits pending writes, flushes them, and closes the engine. */
  async close(): Promise<void> {
    await this.backend.close();
  }

  // ----- internals shared with the transaction views ------------------------------------------

  /** @internal */ get treeIndex(): TreeIndex {
    return this.index;
  }
  /** @internal */ get hooks(): LeaseHooks | undefined {
    return this.leaseHooks;
  }
  /** @internal */ finishWrite(changed: boolean): void {
    if (changed) this.currentRev++;
    this.writing = false;
  }

  /** @internal etcd's rangeKeys: index lookup at `rev`, then one engine get per visible key. */
  rangeKeys(key: Uint8Array, end: Uint8Array | null, curRev: number, options: RangeOptions): RangeResult {
    let rev = options.rev ?? 0;
    if (rev > curRev) throw new FutureRevisionError(curRev);
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw new CompactedError(this.compactMainRev);
    const { revs } = this.index.range(key, end, rev);
    if (revs.length === 0) return { kvs: [], count: 0, rev: curRev };
    if (options.count === true) return { kvs: [], count: revs.length, rev: curRev };
    let limit = options.limit ?? 0;
    if (limit <= 0 || limit > revs.length) limit = revs.length;
    const kvs: KeyValue[] = [];
    for (let i = 0; i < limit; i++) {
      const stored = this.backend.get(KEY_BUCKET, encodeRevisionKey(revs[i]!));
      if (stored === undefined) throw new Error(`mvcc: index names revision ${revisionId(revs[i]!)} but the engine has no such key`);
      kvs.push(decodeKeyValue(stored.slice()));
    }
    return { kvs, count: revs.length, rev: curRev };
  }

  /** Rebuilds the in-memory state from the engine (etcd's store.restore). */
  private restore(): void {
    const finished = this.backend.get(META_BUCKET, textBytes(META_FINISHED_COMPACT_REV));
    if (finished !== undefined) this.compactMainRev = decodeRevisionKey(finished).main;
    const scheduled = this.backend.get(META_BUCKET, textBytes(META_SCHEDULED_COMPACT_REV));
    let scheduledCompact = scheduled === undefined ? 0 : decodeRevisionKey(scheduled).main;
    const ci = this.backend.get(META_BUCKET, textBytes(META_CONSISTENT_INDEX));
    if (ci !== undefined) this.consistentIdx = decodeUint64(ci);

    const keyToLease = new Map<string, { key: Uint8Array; lease: bigint }>();
    const trackLeases = this.leaseHooks !== undefined;
    let currentRev = 1;
    this.backend.forEach(KEY_BUCKET, (revKey, value) => {
      const rev = readRevisionKey(revKey);
      // Decoded in place; only the key is kept, copied, so the engine's buffer is not retained.
      const kv = decodeKeyValue(value);
      const tombstone = isTombstoneKey(revKey);
      // One string per key serves as map key and sort key; the bytes are rebuilt from it on use.
      const id = keyString(kv.key);
      if (trackLeases) {
        if (tombstone || kv.lease === 0n) {
          if (keyToLease.size > 0) keyToLease.delete(id);
        } else keyToLease.set(id, { key: kv.key.slice(), lease: kv.lease });
      }
      currentRev = rev.main;
      const ki = this.index.lookupId(id);
      if (ki !== undefined) {
        if (tombstone) ki.tombstone(rev);
        else ki.put(rev);
      } else if (!tombstone) {
        const fresh = new KeyIndex(undefined, id);
        fresh.restore({ main: kv.createRevision, sub: 0 }, rev, kv.version);
        this.index.insertUnordered(fresh);
      }
    });
    this.index.finishBulkLoad();
    this.currentRev = Math.max(currentRev, this.compactMainRev);
    if (scheduledCompact <= this.compactMainRev) scheduledCompact = 0;
    if (this.leaseHooks !== undefined) for (const { key, lease } of keyToLease.values()) this.leaseHooks.attach(lease, key);
    if (scheduledCompact !== 0) {
      // A compaction was recorded but did not finish before the crash: finish it now.
      this.compactMainRev = scheduledCompact;
      this.runCompaction(scheduledCompact);
    }
  }
}

/**
 * Snapshot import: writes `entries` (bucket, key, value) into `backend`, committing every
 * `chunkEntries`. Use on an empty engine, then `MvccStore.open` it. Not atomic: import into a
 * temporary directory and move it into place when done.
 */
export function loadBuckets(backend: Backend, entries: Iterable<{ bucket: string; key: Uint8Array; value: Uint8Array }>, chunkEntries = 10_000): number {
  let n = 0;
  for (const { bucket, key, value } of entries) {
    backend.createBucket(bucket);
    backend.put(bucket, key, value);
    if (++n % chunkEntries === 0) backend.commit();
  }
  backend.commit();
  return n;
}

class ReadView implements TxnRead {
  constructor(private readonly store: MvccStore, readonly rev: number, readonly firstRev: number) {}

  range(key: Uint8Array, end: Uint8Array | null, options: RangeOptions = {}): RangeResult {
    return this.store.rangeKeys(key, end, this.rev, options);
  }
}

class WriteTxn implements TxnWrite {
  /** Store revision when the transaction began; its changes get beginRev + 1. */
  private readonly beginRev: number;
  private readonly changeList: KeyValue[] = [];
  private ended = false;

  constructor(private readonly store: MvccStore) {
    this.beginRev = store.revision;
  }

  get rev(): number {
    return this.beginRev;
  }

  get firstRev(): number {
    return this.store.compactRevision;
  }

  range(key: Uint8Array, end: Uint8Array | null, options: RangeOptions = {}): RangeResult {
    this.assertOpen();
    const rev = this.changeList.length > 0 ? this.beginRev + 1 : this.beginRev;
    return this.store.rangeKeys(key, end, rev, options);
  }

  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    this.assertOpen();
    const rev = this.beginRev + 1;
    const index = this.store.treeIndex;
    const found = index.get(key, rev);
    let oldLease = 0n;
    if (found !== null && this.store.hooks !== undefined) {
      const previous = this.store.backend.get(KEY_BUCKET, encodeRevisionKey(found.modified));
      if (previous !== undefined) oldLease = decodeKeyValue(previous).lease;
    }
    const idxRev = { main: rev, sub: this.changeList.length };
    const kv: KeyValue = {
      key: key.slice(),
      value: value.slice(),
      createRevision: found === null ? rev : found.created.main,
      modRevision: rev,
      version: (found?.version ?? 0) + 1,
      lease,
    };
    this.store.backend.put(KEY_BUCKET, encodeRevisionKey(idxRev), encodeKeyValue(kv));
    index.put(key, idxRev);
    this.changeList.push(kv);
    if (oldLease !== 0n) this.store.hooks?.detach(oldLease, kv.key);
    if (lease !== 0n) this.store.hooks?.attach(lease, kv.key);
    return rev;
  }

  deleteRange(key: Uint8Array, end: Uint8Array | null): { deleted: number; rev: number } {
    this.assertOpen();
    const readRev = this.changeList.length > 0 ? this.beginRev + 1 : this.beginRev;
    const { keys } = this.store.treeIndex.range(key, end, readRev);
    for (const k of keys) this.deleteOne(k);
    const changed = keys.length !== 0 || this.changeList.length > 0;
    return { deleted: keys.length, rev: changed ? this.beginRev + 1 : this.beginRev };
  }

  private deleteOne(key: Uint8Array): void {
    const idxRev = { main: this.beginRev + 1, sub: this.changeList.length };
    const index = this.store.treeIndex;
    let lease = 0n;
    if (this.store.hooks !== undefined) {
      const found = index.get(key, idxRev.main);
      const current = found === null ? undefined : this.store.backend.get(KEY_BUCKET, encodeRevisionKey(found.modified));
      if (current !== undefined) lease = decodeKeyValue(current).lease;
    }
    const kv: KeyValue = { key: key.slice(), value: new Uint8Array(0), createRevision: 0, modRevision: 0, version: 0, lease: 0n };
    this.store.backend.put(KEY_BUCKET, encodeRevisionKey(idxRev, true), encodeKeyValue(kv));
    if (!index.tombstone(key, idxRev)) throw new Error(`mvcc: cannot tombstone key ${Buffer.from(key).toString("latin1")}`);
    this.changeList.push(kv);
    if (lease !== 0n) this.store.hooks?.detach(lease, kv.key);
  }

  changes(): readonly KeyValue[] {
    return this.changeList;
  }

  end(): void {
    this.assertOpen();
    this.ended = true;
    this.store.finishWrite(this.changeList.length > 0);
  }

  private assertOpen(): void {
    if (this.ended) throw new Error("mvcc: write transaction already ended");
  }
}

/** decodeRevisionKey for the restart scan: the same {main, sub}, read byte by byte (no DataView). */
function readRevisionKey(key: Uint8Array): Revision {
  if (key.length !== 17 && key.length !== 18) return decodeRevisionKey(key);
  const u32 = (at: number): number => ((key[at]! << 24) | (key[at + 1]! << 16) | (key[at + 2]! << 8) | key[at + 3]!) >>> 0;
  return { main: u32(0) * 2 ** 32 + u32(4), sub: u32(9) * 2 ** 32 + u32(13) };
}

function textBytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export type { BucketEntry };
