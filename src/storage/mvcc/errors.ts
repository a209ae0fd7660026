/**
 * Errors of the MVCC store, with etcd 3.4's messages (mvcc/kvstore.go). The server's error table
 * maps them to gRPC codes and adds the "etcdserver: " prefix etcd's rpctypes use
 * (ErrCompacted → OutOfRange "etcdserver: mvcc: required revision has been compacted",
 * ErrFutureRev → OutOfRange "etcdserver: mvcc: required revision is a future revision").
 */

/** The requested revision is at or below the compaction revision. */
export class CompactedError extends Error {
  readonly code = "MVCC_COMPACTED";
  constructor(readonly compactRevision: number) {
    super("mvcc: required revision has been compacted");
    this.name = "CompactedError";
  }
}

/** The requested revision is beyond the store's current revision. */
export class FutureRevisionError extends Error {
  readonly code = "MVCC_FUTURE_REV";
  constructor(readonly currentRevision: number) {
    super("mvcc: required revision is a future revision");
    this.name = "FutureRevisionError";
  }
}

/** Message of CompactedError, for the server's error table. */
export const COMPACTED_MESSAGE = "mvcc: required revision has been compacted";
/** Message of FutureRevisionError, for the server's error table. */
export const FUTURE_REVISION_MESSAGE = "mvcc: required revision is a future revision";
