/**
 * The port through which the server's apply code reads and writes the MVCC key-value store. It
 * mirrors etcd's mvcc.TxnRead / TxnWrite so the apply logic (apply.ts) reads like etcd's; an
 * adapter binds it to src/storage's MVCC.
 */
import type { KeyValue } from "../api/gen/mvccpb/kv_pb.js";
import type { BackendReadView } from "../storage/backend/backend.js";

export interface RangeOptions {
  /** At most this many keys (0 = no limit). `count` still reports all matches. */
  limit: number;
  /** Read at this revision (0 = current). */
  revision: number;
  /** Only count; return no key-values. */
  countOnly: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** Revision the range was served at. */
  revision: number;
  /** Number of keys in the range, ignoring the limit. */
  count: number;
}

/**
 * A read view. `end` undefined selects the single key; an empty `end` selects every key ≥ `key`
 * (etcd's from-key, "\0" on the wire); otherwise [key, end). Throws the `compacted` or `futureRev`
 * EtcdError for a revision outside [compactRevision + 1, revision].
 */
export interface KvRead {
  range(key: Uint8Array, end: Uint8Array | undefined, options: RangeOptions): RangeResult;
  /** Current revision of this view. */
  revision(): number;
  /** The oldest revision still readable: the compaction revision + 1. */
  firstRevision(): number;
}

/** A write transaction: every change gets the same main revision (current + 1). */
export interface KvWrite extends KvRead {
  /** Writes key=value with the lease; returns the txn's revision. */
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number;
  /** Deletes the range; returns how many keys were deleted and the txn's revision. */
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): { deleted: number; revision: number };
  /** Number of changes made so far. */
  changes(): number;
}

/** The whole store as the server drives it. */
export interface KvStore {
  /** Runs `fn` in a read view of the current state. */
  read<T>(fn: (txn: KvRead) => T): T;
  /** Runs `fn` in one write txn; its changes and the consistent index are committed together. */
  write<T>(consistentIndex: number, fn: (txn: KvWrite) => T): T;
  /** Physical compaction up to `revision`; throws `compacted` / `futureRev` as etcd does. */
  compact(consistentIndex: number, revision: number): void;
  /** Records the consistent index for an entry that changes no key. */
  setConsistentIndex(consistentIndex: number): void;
  /**
   * Raises (`raised`) or clears an alarm in the backend's alarm bucket, with the entry's consistent
   * index in the same batch. `key` is the encoded etcdserverpb.AlarmMember (see ALARM_BUCKET).
   */
  writeAlarm(consistentIndex: number, key: Uint8Array, raised: boolean): void;
  /** The alarm bucket's keys as committed (read at start-up, before the WAL is replayed). */
  alarmKeys(): Uint8Array[];
  /** The last applied Raft index (committed to the backend with the next batch; a restart replays the WAL after the committed one). */
  consistentIndex(): number;
  currentRevision(): number;
  compactRevision(): number;
  /** etcd's HashKV at `revision` (0 = current): CRC-32C over the key bucket; see storage. */
  hashKV(revision: number): { hash: number; compactRevision: number; revision: number };
  /** etcd's Hash: CRC-32C over the whole backend. */
  hash(): number;
  /** Number of live keys. */
  keyCount(): number;
  /** Physical size and in-use size of the backend, in bytes (the in-use size is costly to compute). */
  size(): { totalBytes: number; inUseBytes: number };
  /** Physical size of the backend in bytes (cheap; what the quota is checked against, as in etcd). */
  totalSizeBytes(): number;
  defragment(): Promise<void>;
  /** A consistent read-only view of every bucket as committed now (Maintenance.Snapshot). */
  snapshotView(): BackendReadView;
  /** Resolves once every committed change is on stable storage. */
  checkpoint(): Promise<void>;
  /** Receives the duration of every backend commit, in seconds (etcd_disk_backend_commit_duration_seconds). */
  observeCommits(observer: (seconds: number) => void): void;
  close(): Promise<void>;
}
