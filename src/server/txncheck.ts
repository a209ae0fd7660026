/**
 * Request validation done before a request reaches Raft, with etcd 3.4's rules and errors
 * (etcdserver/api/v3rpc/key.go): empty keys, ignore_value/ignore_lease misuse, the txn operation
 * limit, and puts that collide with other puts or deletes in the same txn ("duplicate key").
 */
import { etcdError } from "../api/errors.js";
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from "../api/gen/etcdserverpb/rpc_pb.js";

export function checkRangeRequest(request: RangeRequest): void {
  if (request.key.length === 0) throw etcdError("emptyKey");
}

export function checkPutRequest(request: PutRequest): void {
  if (request.key.length === 0) throw etcdError("emptyKey");
  if (request.ignoreValue && request.value.length !== 0) throw etcdError("valueProvided");
  if (request.ignoreLease && request.lease !== 0n) throw etcdError("leaseProvided");
}

export function checkDeleteRequest(request: DeleteRangeRequest): void {
  if (request.key.length === 0) throw etcdError("emptyKey");
}

/**
 * The whole txn check: op counts against `maxTxnOps` (nested txns get what the outer level left,
 * as etcd computes it), every op valid, then the put/delete overlap check per branch.
 */
export function checkTxnRequest(request: TxnRequest, maxTxnOps: number): void {
  checkTxnOps(request, maxTxnOps);
  checkIntervals(request.success);
  checkIntervals(request.failure);
}

function checkTxnOps(request: TxnRequest, maxTxnOps: number): void {
  const opCount = Math.max(request.compare.length, request.success.length, request.failure.length);
  if (opCount > maxTxnOps) throw etcdError("tooManyOps");
  for (const compare of request.compare) if (compare.key.length === 0) throw etcdError("emptyKey");
  for (const op of request.success) checkRequestOp(op, maxTxnOps - opCount);
  for (const op of request.failure) checkRequestOp(op, maxTxnOps - opCount);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  switch (op.request.case) {
    case "requestRange":
      return checkRangeRequest(op.request.value);
    case "requestPut":
      return checkPutRequest(op.request.value);
    case "requestDeleteRange":
      return checkDeleteRequest(op.request.value);
    case "requestTxn":
      return checkTxnOps(op.request.value, maxTxnOps);
    default:
      // An empty RequestOp: etcd answers "key not found".
      throw etcdError("keyNotFound");
  }
}

/**
 * A half-open byte interval [begin, end) where an empty bound means +infinity, as etcd's
 * StringAffineComparable orders them. Note that a from-key delete (range_end "\0") is the interval
 * [key, "\0"), which is empty for every non-empty key: etcd 3.4 does not see a conflict between a
 * from-key delete and a put, and neither does Cairn.
 */
interface Interval {
  begin: Uint8Array;
  end: Uint8Array;
}

function compareAffine(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return Buffer.compare(a, b);
}

function overlaps(a: Interval, b: Interval): boolean {
  return compareAffine(a.begin, b.end) < 0 && compareAffine(b.begin, a.end) < 0;
}

function point(key: Uint8Array): Interval {
  const end = new Uint8Array(key.length + 1);
  end.set(key);
  return { begin: key, end };
}

const keyOf = (key: Uint8Array): string => Buffer.from(key).toString("latin1");

/** etcd's checkIntervals: returns this level's puts and deletes for the enclosing level. */
function checkIntervals(ops: readonly RequestOp[]): { puts: Set<string>; deletes: Interval[] } {
  const deletes: Interval[] = [];
  for (const op of ops) {
    if (op.request.case !== "requestDeleteRange") continue;
    const del = op.request.value;
    deletes.push(del.rangeEnd.length !== 0 ? { begin: del.key, end: del.rangeEnd } : point(del.key));
  }
  const intersectsDelete = (key: string): boolean => {
    const p = point(Buffer.from(key, "latin1"));
    return deletes.some((d) => overlaps(d, p));
  };
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.request.case !== "requestTxn") continue;
    const then = checkIntervals(op.request.value.success);
    const otherwise = checkIntervals(op.request.value.failure);
    for (const key of then.puts) {
      if (puts.has(key) || intersectsDelete(key)) throw etcdError("duplicateKey");
      puts.add(key);
    }
    for (const key of otherwise.puts) {
      // A key put in both branches of one nested txn is fine: only one branch runs.
      if (puts.has(key) && !then.puts.has(key)) throw etcdError("duplicateKey");
      if (intersectsDelete(key)) throw etcdError("duplicateKey");
      puts.add(key);
    }
    deletes.push(...then.deletes, ...otherwise.deletes);
  }
  for (const op of ops) {
    if (op.request.case !== "requestPut") continue;
    const key = keyOf(op.request.value.key);
    if (puts.has(key) || intersectsDelete(key)) throw etcdError("duplicateKey");
    puts.add(key);
  }
  return { puts, deletes };
}
