/**
 * Workload descriptions, after the commands of etcd's `benchmark` tool (tools/benchmark/cmd): put,
 * range, txn-put, watch-latency and lease-keepalive. A spec is plain data so it can be posted to
 * worker threads; bench/worker.ts executes it.
 */

/** Options every request-driven workload has, as etcd's benchmark names them. */
export interface LoadShape {
  /** Row name in the table, e.g. "put-seq c=1". */
  readonly name: string;
  /** gRPC connections (TCP connections), spread over the workers. */
  readonly conns: number;
  /** Concurrent clients; each sends its next request when the previous one is answered. */
  readonly clients: number;
  /** Requests in total, over all clients. */
  readonly total: number;
  /** Requests per second over all clients; 0 means as fast as the server answers. */
  readonly rate: number;
}

export interface PutWorkload extends LoadShape {
  readonly kind: "put";
  readonly keySize: number;
  readonly valSize: number;
  /** Keys are drawn from [0, keySpace). */
  readonly keySpace: number;
  /** Sequential keys (request i writes key i mod keySpace) instead of random ones. */
  readonly sequential: boolean;
}

export interface RangeWorkload extends LoadShape {
  readonly kind: "range";
  readonly keySize: number;
  /** Each request reads one random key of [0, keySpace), which is loaded first. */
  readonly keySpace: number;
  /** "l": linearizable (ReadIndex), "s": serializable (local read). */
  readonly consistency: "l" | "s";
}

export interface TxnPutWorkload extends LoadShape {
  readonly kind: "txn-put";
  readonly keySize: number;
  readonly valSize: number;
  readonly keySpace: number;
  /** Puts per transaction (random distinct keys). */
  readonly txnOps: number;
}

export interface LeaseKeepAliveWorkload extends LoadShape {
  readonly kind: "lease-keepalive";
}

/** etcd's watch-latency: puts to one key at a fixed rate, each seen by every watcher. */
export interface WatchWorkload {
  readonly kind: "watch";
  readonly name: string;
  readonly conns: number;
  readonly streams: number;
  readonly watchersPerStream: number;
  /** Puts in total; each produces streams × watchersPerStream events. */
  readonly putTotal: number;
  /** Puts per second. */
  readonly putRate: number;
  readonly valSize: number;
}

export type Workload = PutWorkload | RangeWorkload | TxnPutWorkload | LeaseKeepAliveWorkload | WatchWorkload;

/** The key the watch workload writes and watches. */
export const WATCH_KEY = "bench-watch";

/** Key of index i: the decimal index, zero-padded to keySize bytes (readable in etcdctl). */
export function benchKey(index: number, keySize: number): Buffer {
  const text = String(index).padStart(keySize, "0");
  if (text.length > keySize) throw new Error(`key space does not fit in --key-size=${keySize}`);
  return Buffer.from(text, "latin1");
}

/** Whether a workload's shape may be split across several workers (watch must stay in one). */
export function splittable(workload: Workload): boolean {
  return workload.kind !== "watch";
}

/** The number of keys a workload reads, which must be present before it starts. */
export function preloadKeys(workload: Workload): number {
  return workload.kind === "range" ? workload.keySpace : 0;
}

/** Splits n into parts as even as possible; part i of count. */
export function share(n: number, index: number, count: number): number {
  return Math.floor(n / count) + (index < n % count ? 1 : 0);
}

/** First index of part i when n is split by share(). */
export function shareStart(n: number, index: number, count: number): number {
  let start = 0;
  for (let i = 0; i < index; i += 1) start += share(n, i, count);
  return start;
}
