/**
 * The storage-engine port under MVCC, lease, membership and alarm state: named buckets of
 * byte-ordered key/value pairs, as etcd's bbolt backend has.
 *
 * Writes go into one pending batch that readers of single keys already see (like etcd's batch
 * transaction buffer) and become visible to scans and durable together: `commit()` applies the
 * batch atomically (crash-consistent, but not necessarily on stable storage yet) and `checkpoint()`
 * waits until everything committed is on stable storage. Cairn's WAL is the durability point, so
 * commits may stay in the page cache; the server must `checkpoint()` before it purges WAL segments.
 *
 * Invariant the apply loop relies on: nothing but `commit()` publishes the pending batch, so the
 * effects of one Raft entry and the consistent index that names it always land together.
 */

/** A key/value pair of a bucket. Arrays may be views into engine memory: copy to keep them. */
export interface BucketEntry {
  key: Uint8Array;
  value: Uint8Array;
}

/** An ordered, bucketed key/value engine. All methods are synchronous except `checkpoint`. */
export interface Backend {
  /** Creates a bucket if missing (part of the pending batch). */
  createBucket(bucket: string): void;
  /** Names of existing buckets (committed or pending), sorted by their bytes. */
  buckets(): string[];
  /** Value of `key` in `bucket`, seeing pending writes; undefined when absent. */
  get(bucket: string, key: Uint8Array): Uint8Array | undefined;
  /** Queues a put into the pending batch. */
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  /** Queues a delete into the pending batch. */
  delete(bucket: string, key: Uint8Array): void;
  /**
   * Committed entries of `bucket` with start ≤ key < end (end null: to the last key), in key
   * order, at most `limit` (0: no limit). Scans do not see pending writes, so a scan of a bucket
   * with pending writes throws (PendingScanError): commit first.
   */
  range(bucket: string, start: Uint8Array, end: Uint8Array | null, limit?: number): BucketEntry[];
  /** Calls `fn` for every committed entry of `bucket` in key order; throws as `range` does. */
  forEach(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void;
  /** Whether writes are pending. */
  hasPending(): boolean;
  /** Atomically applies the pending batch. */
  commit(): void;
  /** Resolves once every committed batch is on stable storage. */
  checkpoint(): Promise<void>;
  /** Bytes the engine's files occupy (etcd's db_size). */
  sizeBytes(): number;
  /** Bytes holding live data (etcd's db_size_in_use). */
  sizeInUseBytes(): number;
  /** Commits, then rewrites the engine's files without free space (etcd's Defragment). */
  defragment(): Promise<void>;
  /** Commits pending writes and closes the engine. */
  close(): Promise<void>;
  /**
   * A consistent read-only view of everything committed so far (snapshot export); later commits
   * do not show in it. Engines without one are copied by the caller instead.
   */
  readView?(): BackendReadView;
}

/** A frozen, read-only view of the committed buckets. Release it: it pins the engine's old pages. */
export interface BackendReadView {
  /** Bucket names, sorted by their bytes. */
  buckets(): string[];
  /** Up to `limit` entries of `bucket` with key > `after` (every key when `after` is undefined), copied. */
  page(bucket: string, after: Uint8Array | undefined, limit: number): BucketEntry[];
  release(): void;
}

/** Encodes a key for use as a JS map key, one char per byte (bijective and cheap). */
export function keyString(key: Uint8Array): string {
  if (key.length <= 64) return String.fromCharCode.apply(null, key as unknown as number[]);
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

/** Inverse of keyString. */
export function keyBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "latin1"));
}

/** Compares byte strings as bbolt and LMDB order keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** A scan was asked of a bucket whose pending writes it would miss (a caller forgot to commit). */
export class PendingScanError extends Error {
  constructor(bucket: string) {
    super(`backend: scan of bucket ${JSON.stringify(bucket)} while it has uncommitted writes (commit first)`);
    this.name = "PendingScanError";
  }
}

/** A pending batch: per bucket, key → value (null: delete). Shared by the engines. */
export class PendingBatch {
  readonly creates = new Set<string>();
  readonly writes = new Map<string, Map<string, Uint8Array | null>>();

  put(bucket: string, key: Uint8Array, value: Uint8Array | null): void {
    let m = this.writes.get(bucket);
    if (m === undefined) {
      m = new Map();
      this.writes.set(bucket, m);
    }
    m.set(keyString(key), value);
  }

  /** The pending value: a Uint8Array, null for a pending delete, undefined when untouched. */
  lookup(bucket: string, key: Uint8Array): Uint8Array | null | undefined {
    if (this.writes.size === 0) return undefined;
    return this.writes.get(bucket)?.get(keyString(key));
  }

  /** Throws PendingScanError when `bucket` has pending writes (engines call it before a scan). */
  assertScannable(bucket: string): void {
    if (this.writes.has(bucket)) throw new PendingScanError(bucket);
  }

  isEmpty(): boolean {
    return this.creates.size === 0 && this.writes.size === 0;
  }

  clear(): void {
    this.creates.clear();
    this.writes.clear();
  }
}
