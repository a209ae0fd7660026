/**
 * The Raft log as the core sees it: the persisted part behind LogStorage, followed by the unstable
 * part (entries and possibly a snapshot) not yet handed to the driver for persistence.
 *
 * Invariants: applied ≤ committed ≤ lastIndex; unstable entries start at `unstable.offset`, and
 * an unstable snapshot, when present, sits at index offset - 1.
 */
import { CompactedError, UnavailableError, assert } from "./errors.js";
import type { LogStorage } from "./storage.js";
import type { Entry, Snapshot } from "./types.js";
import { limitSize } from "./util.js";

/** Entries and a snapshot that the driver has not yet persisted. */
export class Unstable {
  /** An incoming snapshot waiting to be persisted, if any. */
  snapshot: Snapshot | undefined = undefined;
  /** Entries not yet persisted; entries[i] has index offset + i. */
  entries: Entry[] = [];
  /** Index of entries[0] (or where the next entry would go). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.entries[index - this.offset]!.term;
  }

  /** The driver persisted entries up to (index, term): drop them, unless they were since replaced. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || index < this.offset) return;
    if (t === term) {
      this.entries = this.entries.slice(index + 1 - this.offset);
      this.offset = index + 1;
    }
  }

  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.metadata.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  truncateAndAppend(entries: readonly Entry[]): void {
    const after = entries[0]!.index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // The new entries replace everything unstable.
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = [...this.slice(this.offset, after), ...entries];
    }
  }

  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi && lo >= this.offset && hi <= this.offset + this.entries.length, `unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  /** Persisted entries and the latest snapshot. */
  readonly storage: LogStorage;
  /** Not yet persisted entries and snapshot. */
  unstable: Unstable;
  /** Highest index known to be committed (stored in a quorum). */
  committed: number;
  /** Highest index the application has applied. Invariant: applied ≤ committed. */
  applied: number;
  /** Limit on the size of committed entries returned per Ready. */
  readonly maxNextEntriesBytes: number;

  constructor(storage: LogStorage, maxNextEntriesBytes: number) {
    this.storage = storage;
    this.maxNextEntriesBytes = maxNextEntriesBytes;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry `index`; 0 if the index is out of the known range or compacted away. */
  term(index: number): number {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex || index > this.lastIndex()) return 0;
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return 0;
      throw error;
    }
  }

  matchTerm(index: number, term: number): boolean {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex || index > this.lastIndex()) return false;
    return this.term(index) === term;
  }

  /**
   * Appends entries from the leader after (index, logTerm) if that position matches, truncating
   * any conflicting suffix; returns the new last index, or undefined on mismatch.
   */
  maybeAppend(index: number, logTerm: number, committed: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed entry [committed(${this.committed})]`);
      this.append(entries.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    assert(after >= this.committed, `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** Index of the first entry that is new or conflicts with the log, or 0 if all already match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * Walks back from `index` to the largest index whose term is ≤ `term`. Used on both sides of a
   * rejected append to skip a whole term of mismatching entries per round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    const last = this.lastIndex();
    if (index > last) return index;
    for (; index > 0; index--) {
      const dummyIndex = this.firstIndex() - 1;
      if (index < dummyIndex) return index;
      const t = this.term(index);
      if (t <= term) return index;
    }
    return 0;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries not yet applied, limited to maxNextEntriesBytes. */
  nextEntries(): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > lo) return this.slice(lo, this.committed + 1, this.maxNextEntriesBytes);
    return [];
  }

  hasNextEntries(): boolean {
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined && this.unstable.snapshot.metadata.index !== 0;
  }

  /** The unstable snapshot if any, else storage's. May throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(commit: number): void {
    if (this.committed < commit) {
      assert(this.lastIndex() >= commit, `tocommit(${commit}) is out of range [lastIndex(${this.lastIndex()})]`);
      this.committed = commit;
    }
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(this.committed >= index && index >= this.applied, `applied(${index}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = index;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** Entries from `index` onward, size-limited. Throws CompactedError if index was compacted. */
  entries(index: number, maxBytes: number): Entry[] {
    if (index > this.lastIndex()) return [];
    return this.slice(index, this.lastIndex() + 1, maxBytes);
  }

  /** True if a log ending at (lastIndex, term) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, term: number): boolean {
    return term > this.lastTerm() || (term === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Commits up to maxIndex if that entry is from `term` (only entries of the current term count). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** Entries in [lo, hi) from storage and the unstable part, size-limited. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let result: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxBytes);
      // Storage stopped early because of the size limit: return what fits.
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      result = stored;
    }
    if (hi > this.unstable.offset) {
      const fresh = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      result = result.length > 0 ? [...result, ...fresh] : fresh;
    }
    return limitSize(result, maxBytes);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    assert(lo <= hi, `invalid slice ${lo} > ${hi}`);
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError();
    assert(hi <= this.lastIndex() + 1, `slice[${lo},${hi}) out of bound [${first},${this.lastIndex()}]`);
  }
}
