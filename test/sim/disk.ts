/**
 * A simulated disk for one member: what survives a crash. An honest disk keeps every fsync'd write
 * and loses only unsynced ones. A lying disk (profile `lying-disk`) may also lose the last few
 * fsync'd writes on a crash: a forgotten vote, entries already acknowledged to the leader.
 */
import type { Entry, HardState, Snapshot } from "../../src/raft/types.js";
import { EMPTY_HARD_STATE } from "../../src/raft/types.js";
import type { SeededRandom } from "../../src/raft/rand.js";

/** How to undo one durable write, for the lying disk. */
interface UndoRecord {
  hardState: HardState;
  /** Entries from this index on were replaced or added by the write. */
  truncatedFrom: number;
  /** The entries the write replaced (from truncatedFrom on). */
  replaced: Entry[];
}

export class SimDisk {
  /** Durable hard state. */
  hardState: HardState = { ...EMPTY_HARD_STATE };
  /** Hard state written but not yet fsync'd (only commit-index changes are written unsynced). */
  private unsyncedHardState: HardState | undefined = undefined;
  snapshot: Snapshot;
  /** Durable entries after the snapshot: entries[i] has index snapshot index + 1 + i. */
  entries: Entry[] = [];
  /** Most recent durable writes first-to-last, for the lying disk; cleared by a snapshot write. */
  private undo: UndoRecord[] = [];
  /** Durable writes the disk lied about in total (for reports). */
  lostWrites = 0;

  constructor(snapshot: Snapshot, readonly lying: boolean) {
    this.snapshot = snapshot;
  }

  private firstIndex(): number {
    return this.snapshot.metadata.index + 1;
  }

  /** Persists the writes of one Ready; durable at once when `sync`, else until the next crash. */
  write(snapshot: Snapshot | undefined, entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): void {
    if (snapshot !== undefined) this.saveSnapshot(snapshot);
    if (!sync) {
      // Without fsync only the hard state (a commit index advance) may be written; it is lost on crash.
      if (hardState !== undefined) this.unsyncedHardState = hardState;
      return;
    }
    const record: UndoRecord = { hardState: this.hardState, truncatedFrom: Number.MAX_SAFE_INTEGER, replaced: [] };
    if (entries.length > 0) {
      const from = Math.max(entries[0]!.index, this.firstIndex());
      const offset = from - this.firstIndex();
      record.truncatedFrom = from;
      record.replaced = this.entries.slice(offset);
      this.entries.length = offset;
      for (const e of entries) if (e.index >= from) this.entries.push(e);
    }
    if (hardState !== undefined) this.hardState = hardState;
    else if (this.unsyncedHardState !== undefined) this.hardState = this.unsyncedHardState;
    this.unsyncedHardState = undefined;
    if (this.lying) {
      this.undo.push(record);
      if (this.undo.length > 8) this.undo.shift();
    }
  }

  /** Installs a snapshot (received, or created for compaction) and drops the entries it covers. */
  saveSnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snapshot.metadata.index) return;
    const drop = snapshot.metadata.index - this.snapshot.metadata.index;
    const tail = this.entries.slice(drop);
    // Entries after the snapshot survive only if they extend it consistently.
    const consistent = drop <= this.entries.length && this.entries[drop - 1]?.term === snapshot.metadata.term;
    this.entries = consistent ? tail : [];
    this.snapshot = snapshot;
    this.undo = [];
  }

  /** A crash: unsynced writes vanish; a lying disk may also drop up to `maxLost` synced writes. */
  crash(random: SeededRandom, maxLost: number): void {
    this.unsyncedHardState = undefined;
    if (!this.lying || this.undo.length === 0) return;
    const lose = 1 + random.intn(Math.min(maxLost, this.undo.length));
    for (let i = 0; i < lose; i++) {
      const record = this.undo.pop()!;
      this.hardState = record.hardState;
      if (record.truncatedFrom !== Number.MAX_SAFE_INTEGER) {
        const offset = record.truncatedFrom - this.firstIndex();
        this.entries = [...this.entries.slice(0, offset), ...record.replaced];
      }
      this.lostWrites++;
    }
  }

  lastIndex(): number {
    return this.snapshot.metadata.index + this.entries.length;
  }
}
