/**
 * Binds the server's KvStore port to src/storage: the MVCC store on the LMDB backend. Translates
 * storage's errors into the shared error table and storage's KeyValue into the wire type, and
 * batches backend commits as etcd's batch transaction does (--backend-batch-interval,
 * --backend-batch-limit): applied entries accumulate in the backend's pending batch, which reads
 * already see, and one commit publishes many entries with the consistent index of the last one.
 * The commit comes when the batch holds `limit` operations or `intervalMs` after its first one,
 * whichever is first; hash, compaction, snapshot, defragment, checkpoint and close commit at once.
 *
 * Durability does not rest on these commits: the WAL is synced before any entry is applied (and so
 * before any client is answered), and after a crash the entries after the committed consistent index
 * are replayed from the WAL. An entry's effects and its consistent index land in the same commit,
 * because a commit is only ever made between entries.
 */
import { create } from "@bufbuild/protobuf";
import { etcdError } from "../api/errors.js";
import { KeyValueSchema, type KeyValue } from "../api/gen/mvccpb/kv_pb.js";
import { CompactedError, FutureRevisionError } from "../storage/mvcc/errors.js";
import { MvccStore, type TxnRead, type TxnWrite } from "../storage/mvcc/store.js";
import { ALARM_BUCKET, type KeyValue as StoredKeyValue } from "../storage/schema.js";
import type { WatchableStore } from "../storage/watch/index.js";
import type { BackendReadView } from "../storage/backend/backend.js";
import type { KvRead, KvStore, KvWrite, RangeOptions, RangeResult } from "./kv.js";
import { DefragmentableBackend, removeDefragLeftovers } from "./defrag.js";
import { openBackendView } from "./snapshot-stream.js";
import type { Clock } from "../platform/clock.js";

/** etcd 3.4's defaults when --backend-batch-interval / --backend-batch-limit are 0. */
export const DEFAULT_BACKEND_BATCH_INTERVAL_MS = 100;
export const DEFAULT_BACKEND_BATCH_LIMIT = 10_000;

/** When applied entries are committed to the backend. */
export interface BackendBatchPolicy {
  /** Longest time an applied entry waits in the pending batch, in ms (0: etcd's 100 ms). */
  intervalMs: number;
  /** Operations (changes plus one consistent-index write per entry) that force a commit (0: etcd's 10,000). */
  limit: number;
  /** Timer source for the interval. */
  clock: Pick<Clock, "after">;
}

/** A stored key-value as the wire's mvccpb.KeyValue (Range, watch events, election responses). */
export function toWire(kv: StoredKeyValue): KeyValue {
  return create(KeyValueSchema, {
    key: kv.key,
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    value: kv.value,
    lease: kv.lease,
  });
}

/** Runs `fn`, mapping storage's revision errors to etcd's. */
function translated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CompactedError) throw etcdError("compacted");
    if (err instanceof FutureRevisionError) throw etcdError("futureRev");
    throw err;
  }
}

function range(view: TxnRead, key: Uint8Array, end: Uint8Array | undefined, options: RangeOptions): RangeResult {
  const result = translated(() => view.range(key, end ?? null, { limit: options.limit, rev: options.revision, count: options.countOnly }));
  return { kvs: result.kvs.map(toWire), revision: result.rev, count: result.count };
}

class ReadAdapter implements KvRead {
  constructor(protected readonly view: TxnRead) {}
  range(key: Uint8Array, end: Uint8Array | undefined, options: RangeOptions): RangeResult {
    return range(this.view, key, end, options);
  }
  revision(): number {
    return this.view.rev;
  }
  firstRevision(): number {
    return this.view.firstRev + 1;
  }
}

class WriteAdapter extends ReadAdapter implements KvWrite {
  constructor(private readonly txn: TxnWrite) {
    super(txn);
  }
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    return this.txn.put(key, value, lease);
  }
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): { deleted: number; revision: number } {
    const { deleted, rev } = this.txn.deleteRange(key, end ?? null);
    return { deleted, revision: rev };
  }
  changes(): number {
    return this.txn.changes().length;
  }
}

/** A backend commit failed: the state cannot be trusted any more (fatal for the server). */
export class BackendCommitError extends Error {
  constructor(cause: unknown) {
    super(`backend commit failed, stopping (the WAL holds every applied entry): ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = "BackendCommitError";
  }
}

export class MvccKvStore implements KvStore {
  private commitObserver: (seconds: number) => void = () => undefined;
  /**
   * The backend's file size as of the last commit (-1: not known). The file changes only when a
   * batch is committed, and the quota asks for the size twice per write (admission and apply), so
   * a stat per commit is enough.
   */
  private sizeBytesCache = -1;
  /** Operations applied since the last commit (etcd's batchTx pending count). */
  private pendingOps = 0;
  /** Commit after this many pending operations; 1 (no batching) until `setBatchPolicy`. */
  private batchLimit = 1;
  private batchIntervalMs = 0;
  private batchClock: Pick<Clock, "after"> | undefined;
  /** Cancels the armed interval commit, when one is armed. */
  private cancelBatchTimer: (() => void) | undefined;
  private closed = false;
  /** The failed commit, after which the store refuses every operation that commits. */
  private failure: BackendCommitError | undefined;

  /** With `watchable`, writes and compactions go through it so watchers see them. */
  constructor(private readonly mvcc: MvccStore, private readonly watchable?: WatchableStore) {}

  /**
   * Batches commits (see the header). Without a policy every applied entry is committed at once,
   * which tests of the store alone rely on.
   */
  setBatchPolicy(policy: BackendBatchPolicy): void {
    // Node timers take at most 2^31-1 ms (longer delays fire after 1 ms).
    this.batchIntervalMs = policy.intervalMs > 0 ? Math.min(policy.intervalMs, 2 ** 31 - 1) : DEFAULT_BACKEND_BATCH_INTERVAL_MS;
    this.batchLimit = policy.limit > 0 ? policy.limit : DEFAULT_BACKEND_BATCH_LIMIT;
    this.batchClock = policy.clock;
  }

  /** Counts an applied entry's operations; commits when the batch is full, else arms the interval. */
  private applied(ops: number): void {
    this.pendingOps += ops;
    if (this.pendingOps >= this.batchLimit || this.batchClock === undefined) {
      this.commit();
      return;
    }
    if (this.cancelBatchTimer === undefined && !this.closed) {
      this.cancelBatchTimer = this.batchClock.after(this.batchIntervalMs, () => {
        this.cancelBatchTimer = undefined;
        if (!this.closed) this.commit();
      });
    }
  }

  observeCommits(observer: (seconds: number) => void): void {
    this.commitObserver = observer;
  }

  /**
   * Publishes the pending batch, timing the engine commit. A failed commit is fatal, as in etcd
   * (batch_tx.go: "cannot commit tx"): the batch can be neither committed nor dropped (later
   * entries build on it), so the store refuses everything after it, the failure goes to the fatal
   * handler (the process exits; the WAL still holds every applied entry) and the caller gets it too.
   */
  private commit(): void {
    this.throwIfFailed();
    this.cancelBatchTimer?.();
    this.cancelBatchTimer = undefined;
    this.pendingOps = 0;
    if (!this.mvcc.backend.hasPending()) return;
    const start = process.hrtime.bigint();
    try {
      this.mvcc.commit();
    } catch (err) {
      this.failure = new BackendCommitError(err);
      this.onFatal(this.failure);
      throw this.failure;
    }
    this.sizeBytesCache = -1;
    this.commitObserver(Number(process.hrtime.bigint() - start) / 1e9);
  }

  /** Nothing is applied on top of a batch that failed to commit. */
  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Where a failed backend commit goes. The default rethrows it outside the caller's stack, so
   * the server's uncaught-exception handler logs it as fatal and exits non-zero even when the
   * commit was started by an RPC (Hash, HashKV, Snapshot, Defragment) whose caller would only have
   * answered the client.
   */
  onFatal: (err: BackendCommitError) => void = (err) => {
    process.nextTick(() => {
      throw err;
    });
  };

  read<T>(fn: (txn: KvRead) => T): T {
    return fn(new ReadAdapter(this.mvcc.read()));
  }

  write<T>(consistentIndex: number, fn: (txn: KvWrite) => T): T {
    this.throwIfFailed();
    const txn = this.watchable?.write() ?? this.mvcc.write();
    try {
      return fn(new WriteAdapter(txn));
    } finally {
      const changes = txn.changes().length;
      txn.end();
      this.mvcc.setConsistentIndex(consistentIndex);
      this.applied(changes + 1);
    }
  }

  compact(consistentIndex: number, revision: number): void {
    this.throwIfFailed();
    try {
      translated(() => (this.watchable ?? this.mvcc).compact(revision));
    } finally {
      this.mvcc.setConsistentIndex(consistentIndex);
      this.commit();
    }
  }

  setConsistentIndex(consistentIndex: number): void {
    this.throwIfFailed();
    this.mvcc.setConsistentIndex(consistentIndex);
    this.applied(1);
  }

  writeAlarm(consistentIndex: number, key: Uint8Array, raised: boolean): void {
    this.throwIfFailed();
    if (raised) this.mvcc.backend.put(ALARM_BUCKET, key, new Uint8Array(0));
    else this.mvcc.backend.delete(ALARM_BUCKET, key);
    this.mvcc.setConsistentIndex(consistentIndex);
    this.applied(2);
  }

  alarmKeys(): Uint8Array[] {
    this.commit();
    const keys: Uint8Array[] = [];
    this.mvcc.backend.forEach(ALARM_BUCKET, (key) => keys.push(key.slice()));
    return keys;
  }

  consistentIndex(): number {
    return this.mvcc.consistentIndex();
  }
  currentRevision(): number {
    return this.mvcc.revision;
  }
  compactRevision(): number {
    return this.mvcc.compactRevision;
  }
  hashKV(revision: number): { hash: number; compactRevision: number; revision: number } {
    this.commit();
    return translated(() => this.mvcc.hashKV(revision));
  }
  hash(): number {
    this.commit();
    return this.mvcc.hash().hash;
  }
  keyCount(): number {
    return this.mvcc.keyCount();
  }
  totalSizeBytes(): number {
    if (this.sizeBytesCache < 0) this.sizeBytesCache = this.mvcc.sizeBytes();
    return this.sizeBytesCache;
  }
  size(): { totalBytes: number; inUseBytes: number } {
    return { totalBytes: this.totalSizeBytes(), inUseBytes: this.mvcc.sizeInUseBytes() };
  }
  /** Rewrites the LMDB file with live pages only (see defrag.ts); other engines just checkpoint. */
  async defragment(): Promise<void> {
    this.commit();
    this.sizeBytesCache = -1;
    try {
      const backend = this.mvcc.backend;
      if (backend instanceof DefragmentableBackend) backend.defragmentNow();
      else await this.mvcc.checkpoint();
    } finally {
      this.sizeBytesCache = -1;
    }
  }
  snapshotView(): BackendReadView {
    this.commit();
    return openBackendView(this.mvcc.backend);
  }
  /** Commits the pending batch and waits until it is on stable storage (before WAL segments go). */
  checkpoint(): Promise<void> {
    this.commit();
    this.sizeBytesCache = -1;
    return this.mvcc.checkpoint();
  }
  close(): Promise<void> {
    this.commit();
    this.closed = true;
    return this.mvcc.close();
  }
}

/** Opens (or creates) the member's backend in `dir`. */
export async function openKvStore(dir: string, _options: { unsafeNoFsync: boolean }): Promise<KvStore> {
  removeDefragLeftovers(dir);
  const backend = new DefragmentableBackend(dir);
  return new MvccKvStore(MvccStore.open(backend));
}
