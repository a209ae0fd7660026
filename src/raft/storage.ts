/**
 * The log storage port. Raft reads persisted entries, terms and the latest snapshot through it; the
 * driver writes to it (after handling a Ready) by its own means. MemoryStorage is the in-memory
 * implementation used by tests, the simulator, and as a cache in front of a WAL.
 */
import { CompactedError, SnapshotOutOfDateError, UnavailableError, assert } from "./errors.js";
import { EMPTY_HARD_STATE, EntryType, type ConfState, type Entry, type HardState, type Snapshot } from "./types.js";
import { limitSize } from "./util.js";

/** What Raft needs from stable storage. All methods are synchronous. */
export interface LogStorage {
  /** The persisted hard state and the membership as of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), at least one if any are in range, total size limited by `maxBytes`.
   * Throws CompactedError if lo < firstIndex(), UnavailableError if hi > lastIndex() + 1.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * Term of entry `index`, for index in [firstIndex() - 1, lastIndex()] (firstIndex() - 1 is the
   * snapshot's index). Throws CompactedError below that range and UnavailableError above it.
   */
  term(index: number): number;
  /** Index of the first entry still available (the snapshot's index + 1). */
  firstIndex(): number;
  /** Index of the last entry. */
  lastIndex(): number;
  /** The most recent snapshot; may throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

export function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) };
}

/**
 * An in-memory LogStorage. `entries[0]` is a dummy entry holding the snapshot's index and term, so
 * that term(firstIndex - 1) is answerable. Invariant: entries are contiguous from entries[0].index.
 */
export class MemoryStorage implements LogStorage {
  /** Persisted hard state, as last set by the driver. */
  private hardState: HardState = { ...EMPTY_HARD_STATE };
  /** Latest snapshot applied or created. */
  private snap: Snapshot = emptySnapshot();
  /** entries[i] has index snap-index + i; entries[0] is the dummy. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConfState(this.snap.metadata.confState) };
  }

  /** Records the hard state the driver persisted. */
  setHardState(hardState: HardState): void {
    this.hardState = { ...hardState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) throw new UnavailableError();
    if (this.ents.length === 1) throw new UnavailableError();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(index: number): number {
    const offset = this.ents[0]!.index;
    if (index < offset) throw new CompactedError();
    if (index - offset >= this.ents.length) throw new UnavailableError();
    return this.ents[index - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the contents with a snapshot received from the leader (or restored at start). */
  applySnapshot(snapshot: Snapshot): void {
    if (this.snap.metadata.index >= snapshot.metadata.index) throw new SnapshotOutOfDateError();
    this.snap = snapshot;
    this.ents = [{ term: snapshot.metadata.term, index: snapshot.metadata.index, type: EntryType.Normal, data: new Uint8Array(0) }];
  }

  /**
   * Records an application snapshot at `index` (≤ last applied) so that the log before it can be
   * compacted and lagging followers can be sent it.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError();
    assert(index <= this.lastIndex(), `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    const offset = this.ents[0]!.index;
    this.snap = { metadata: { index, term: this.ents[index - offset]!.term, confState: cloneConfState(confState) }, data };
    return this.snap;
  }

  /** Discards entries before `compactIndex`; the entry at compactIndex becomes the dummy. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError();
    assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    const i = compactIndex - offset;
    const dummy = this.ents[i]!;
    this.ents = [{ term: dummy.term, index: dummy.index, type: EntryType.Normal, data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries the driver persisted. Entries that overlap existing ones replace them and
   * everything after (a follower truncating a conflicting suffix).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    const kept = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = kept[0]!.index - this.ents[0]!.index;
    assert(offset <= this.ents.length, `missing log entry [last: ${this.lastIndex()}, append at: ${kept[0]!.index}]`);
    // Truncate any conflicting suffix in place, then append.
    this.ents.length = offset;
    for (const entry of kept) this.ents.push(entry);
  }
}

export function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
