/** Typed errors of the Raft core. Storage errors are sentinels a LogStorage throws; the rest reach callers. */

/** Base class: every error the Raft core throws on purpose has a stable `code`. */
export class RaftError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A proposal was not accepted: no known leader, a leadership transfer in progress, or a limit reached. */
export class ProposalDroppedError extends RaftError {
  constructor(reason: string) {
    super("ProposalDropped", `raft proposal dropped: ${reason}`);
  }
}

/** Thrown by a LogStorage: the requested index precedes the first available entry (compacted). */
export class CompactedError extends RaftError {
  constructor() {
    super("Compacted", "requested index is unavailable due to compaction");
  }
}

/** Thrown by a LogStorage: the requested entries are not yet available (beyond the last index). */
export class UnavailableError extends RaftError {
  constructor() {
    super("Unavailable", "requested entry at index is unavailable");
  }
}

/** Thrown by a LogStorage: a snapshot is being prepared; Raft will retry later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor() {
    super("SnapshotTemporarilyUnavailable", "snapshot is temporarily unavailable");
  }
}

/** Thrown by MemoryStorage.applySnapshot/createSnapshot: the snapshot is older than the one held. */
export class SnapshotOutOfDateError extends RaftError {
  constructor() {
    super("SnapshotOutOfDate", "requested index is older than the existing snapshot");
  }
}

/** A broken invariant: a programmer error, never caught. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`raft: assertion failed: ${message}`);
}
