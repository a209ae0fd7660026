/**
 * The backend space quota, as etcd 3.4 computes it (etcdserver/quota.go).
 *
 * A request's cost is an estimate of what it adds to the backend: a put costs its key and value
 * plus `KV_OVERHEAD_BYTES` of metadata; a txn costs the larger of its success and failure branches
 * (top-level puts only, as etcd counts them); every other request costs 0 and always passes, so
 * reads, deletes, compactions and alarm changes go through while NOSPACE is raised. A request is
 * available when backend size + cost < quota. The quota is checked twice, as etcd does: before
 * proposing (refuse and raise NOSPACE) and after applying (the write stays, the client hears
 * NOSPACE, the alarm is raised).
 */
import type { PutRequest, RequestOp, TxnRequest } from "../api/gen/etcdserverpb/rpc_pb.js";

/** etcd's DefaultQuotaBytes: 2 GiB, used when --quota-backend-bytes is 0. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's MaxQuotaBytes: 8 GiB; a larger quota works but is warned about. */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
/** etcd's kvOverhead: estimated metadata bytes stored with each key. */
export const KV_OVERHEAD_BYTES = 256;

/** A write the quota can charge. */
export type QuotaRequest = { kind: "put"; request: PutRequest } | { kind: "txn"; request: TxnRequest };

export function costPut(request: PutRequest): number {
  return KV_OVERHEAD_BYTES + request.key.length + request.value.length;
}

function costOp(op: RequestOp): number {
  return op.request.case === "requestPut" ? costPut(op.request.value) : 0;
}

export function costTxn(request: TxnRequest): number {
  const success = request.success.reduce((sum, op) => sum + costOp(op), 0);
  const failure = request.failure.reduce((sum, op) => sum + costOp(op), 0);
  return Math.max(success, failure);
}

export function cost(request: QuotaRequest): number {
  return request.kind === "put" ? costPut(request.request) : costTxn(request.request);
}

/**
 * The effective quota for the --quota-backend-bytes flag value, logging as etcd 3.4 (capnslog)
 * logs it: negative disables the quota (Infinity, warned), 0 means the default, above 8 GiB is
 * warned about.
 */
export function resolveQuotaBytes(flagBytes: number, log: { warn(message: string): void; info(message: string): void }): number {
  if (flagBytes < 0) {
    log.warn("disabling backend quota");
    return Number.POSITIVE_INFINITY;
  }
  if (flagBytes === 0) return DEFAULT_QUOTA_BYTES;
  if (flagBytes > MAX_QUOTA_BYTES) log.warn(`backend quota ${flagBytes} exceeds maximum recommended quota ${MAX_QUOTA_BYTES}`);
  return flagBytes;
}

/** The quota over a backend whose size is read at each check. */
export class BackendQuota {
  /**
   * @param quotaBytes the effective quota (Infinity: disabled)
   * @param backendSizeBytes current size of the backend file (etcd's backend.Size())
   */
  constructor(
    readonly quotaBytes: number,
    private readonly backendSizeBytes: () => number,
  ) {}

  /** Whether the request fits: free requests always do. */
  available(request: QuotaRequest): boolean {
    const charge = cost(request);
    if (charge === 0) return true;
    return this.backendSizeBytes() + charge < this.quotaBytes;
  }

  /** Bytes left before the quota (negative when over it). */
  remainingBytes(): number {
    return this.quotaBytes - this.backendSizeBytes();
  }
}
