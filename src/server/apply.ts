/**
 * Applying committed requests to the key-value store, with etcd 3.4's semantics
 * (etcdserver/apply.go): Range with every option, Put with prev_kv / ignore_value / ignore_lease,
 * DeleteRange, Txn with compares and nested txns, Compaction, Alarm.
 *
 * Apply is a stack of small wrappers over one interface: `quotaApplier` (raises NOSPACE when the
 * backend outgrows its quota) over `cappedApplier` (refuses writes while NOSPACE is raised) over
 * `BackendApplier` (the store). Errors are EtcdErrors from the shared table; a request that fails
 * leaves the store unchanged.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { etcdError } from "../api/errors.js";
import {
  AlarmMemberSchema,
  AlarmRequest_AlarmAction,
  AlarmResponseSchema,
  AlarmType,
  Compare_CompareResult,
  Compare_CompareTarget,
  CompactionResponseSchema,
  DeleteRangeResponseSchema,
  PutResponseSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeResponseSchema,
  ResponseHeaderSchema,
  ResponseOpSchema,
  TxnResponseSchema,
  type AlarmMember,
  type AlarmRequest,
  type AlarmResponse,
  type Compare,
  type CompactionRequest,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
} from "../api/gen/etcdserverpb/rpc_pb.js";
import type { KeyValue } from "../api/gen/mvccpb/kv_pb.js";
import type { KvRead, KvStore, KvWrite } from "./kv.js";
import type { QuotaRequest } from "./quota.js";

/** One applied request's outcome. Headers carry only the revision; the server fills the rest. */
export interface Applier {
  put(request: PutRequest): PutResponse;
  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse;
  txn(request: TxnRequest): TxnResponse;
  compaction(request: CompactionRequest): CompactionResponse;
  alarm(request: AlarmRequest): AlarmResponse;
}

/** The raised alarms, shared by the alarm applier, the capped applier and the Alarm RPC. */
export class AlarmStore {
  /** Raised alarms by "memberID/type". */
  private readonly raised = new Map<string, AlarmMember>();
  /** Raises an alarm; `added` is false when it was already raised. */
  activate(memberId: bigint, alarm: AlarmType): { member: AlarmMember; added: boolean } {
    const key = `${memberId}/${alarm}`;
    const existing = this.raised.get(key);
    if (existing !== undefined) return { member: existing, added: false };
    const member = create(AlarmMemberSchema, { memberID: memberId, alarm });
    this.raised.set(key, member);
    return { member, added: true };
  }
  deactivate(memberId: bigint, alarm: AlarmType): AlarmMember | undefined {
    const key = `${memberId}/${alarm}`;
    const existing = this.raised.get(key);
    this.raised.delete(key);
    return existing;
  }
  /** Alarms of one type, or all for AlarmType.NONE, ordered as etcd orders them (by type, then member). */
  get(alarm: AlarmType): AlarmMember[] {
    return [...this.raised.values()]
      .filter((m) => alarm === AlarmType.NONE || m.alarm === alarm)
      .sort((a, b) => a.alarm - b.alarm || (a.memberID < b.memberID ? -1 : a.memberID > b.memberID ? 1 : 0));
  }
  has(alarm: AlarmType): boolean {
    return this.get(alarm).length > 0;
  }
  /**
   * Loads the alarms persisted in the backend's alarm bucket (keys: encoded AlarmMember), before
   * the WAL is replayed, so that replayed entries see the alarms their first apply saw.
   */
  load(keys: readonly Uint8Array[]): void {
    for (const key of keys) {
      const m = fromBinary(AlarmMemberSchema, key);
      this.activate(m.memberID, m.alarm);
    }
  }
}

/** etcd's mkGteRange: "\0" means "every key ≥ key" (an empty end); no end means the single key. */
export function rangeEnd(end: Uint8Array): Uint8Array | undefined {
  if (end.length === 1 && end[0] === 0) return new Uint8Array(0);
  return end.length === 0 ? undefined : end;
}

function header(revision: number) {
  return create(ResponseHeaderSchema, { revision: BigInt(revision) });
}

/** Range against a read view, with etcd's filtering, sorting and limit rules. */
export function applyRange(txn: KvRead, request: RangeRequest): RangeResponse {
  const filtered = request.minModRevision !== 0n || request.maxModRevision !== 0n || request.minCreateRevision !== 0n || request.maxCreateRevision !== 0n;
  let limit = Number(request.limit);
  // Sorting and filtering need every key; otherwise fetch one extra to learn `more`.
  if (request.sortOrder !== RangeRequest_SortOrder.NONE || filtered) limit = 0;
  if (limit > 0) limit += 1;
  const result = txn.range(request.key, rangeEnd(request.rangeEnd), { limit, revision: Number(request.revision), countOnly: request.countOnly });
  let kvs = result.kvs;
  if (request.maxModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision <= request.maxModRevision);
  if (request.minModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision >= request.minModRevision);
  if (request.maxCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision <= request.maxCreateRevision);
  if (request.minCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision >= request.minCreateRevision);
  let order = request.sortOrder;
  // The store returns keys in ascending key order; any other target sorts ascending by default.
  if (request.sortTarget !== RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.NONE) order = RangeRequest_SortOrder.ASCEND;
  if (order !== RangeRequest_SortOrder.NONE) {
    const less = sortComparator(request.sortTarget);
    kvs = [...kvs].sort(order === RangeRequest_SortOrder.ASCEND ? less : (a, b) => less(b, a));
  }
  let more = false;
  if (request.limit > 0n && kvs.length > Number(request.limit)) {
    kvs = kvs.slice(0, Number(request.limit));
    more = true;
  }
  if (request.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
  return create(RangeResponseSchema, { header: header(result.revision), kvs, more, count: BigInt(result.count) });
}

function sortComparator(target: RangeRequest_SortTarget): (a: KeyValue, b: KeyValue) => number {
  const big = (x: bigint, y: bigint): number => (x < y ? -1 : x > y ? 1 : 0);
  switch (target) {
    case RangeRequest_SortTarget.KEY:
      return (a, b) => Buffer.compare(a.key, b.key);
    case RangeRequest_SortTarget.VERSION:
      return (a, b) => big(a.version, b.version);
    case RangeRequest_SortTarget.CREATE:
      return (a, b) => big(a.createRevision, b.createRevision);
    case RangeRequest_SortTarget.MOD:
      return (a, b) => big(a.modRevision, b.modRevision);
    case RangeRequest_SortTarget.VALUE:
      return (a, b) => Buffer.compare(a.value, b.value);
    default:
      return () => 0;
  }
}

/** Put inside a write txn. `checkLease` verifies that a lease exists (no lessor yet: only lease 0). */
function applyPut(txn: KvWrite, request: PutRequest): PutResponse {
  let value = request.value;
  let lease = request.lease;
  let previous: KeyValue | undefined;
  if (request.ignoreValue || request.ignoreLease || request.prevKv) {
    previous = txn.range(request.key, undefined, { limit: 0, revision: 0, countOnly: false }).kvs[0];
  }
  if ((request.ignoreValue || request.ignoreLease) && previous === undefined) throw etcdError("keyNotFound");
  if (request.ignoreValue) value = previous!.value;
  if (request.ignoreLease) lease = previous!.lease;
  const revision = txn.put(request.key, value, lease);
  return create(PutResponseSchema, { header: header(revision), prevKv: request.prevKv ? previous : undefined });
}

function applyDeleteRange(txn: KvWrite, request: DeleteRangeRequest): DeleteRangeResponse {
  const end = rangeEnd(request.rangeEnd);
  const prevKvs = request.prevKv ? txn.range(request.key, end, { limit: 0, revision: 0, countOnly: false }).kvs : [];
  const { deleted, revision } = txn.deleteRange(request.key, end);
  return create(DeleteRangeResponseSchema, { header: header(revision), deleted: BigInt(deleted), prevKvs });
}

/** Whether a txn only reads (then the server may answer it without Raft). */
export function isTxnReadOnly(request: TxnRequest): boolean {
  for (const op of [...request.success, ...request.failure]) {
    if (op.request.case === "requestPut" || op.request.case === "requestDeleteRange") return false;
    if (op.request.case === "requestTxn" && !isTxnReadOnly(op.request.value)) return false;
  }
  return true;
}

/** Evaluates every compare, depth-first, into the path of taken branches (etcd's compareToPath). */
function compareToPath(view: KvRead, request: TxnRequest): boolean[] {
  const succeeded = request.compare.every((c) => applyCompare(view, c));
  const path = [succeeded];
  for (const op of succeeded ? request.success : request.failure) {
    if (op.request.case === "requestTxn") path.push(...compareToPath(view, op.request.value));
  }
  return path;
}

function applyCompare(view: KvRead, compare: Compare): boolean {
  const kvs = view.range(compare.key, rangeEnd(compare.rangeEnd), { limit: 0, revision: 0, countOnly: false }).kvs;
  if (kvs.length === 0) {
    // A missing key has no value to compare; its revisions, version and lease are 0.
    if (compare.target === Compare_CompareTarget.VALUE) return false;
    return compareKeyValue(compare, undefined);
  }
  return kvs.every((kv) => compareKeyValue(compare, kv));
}

function compareKeyValue(compare: Compare, kv: KeyValue | undefined): boolean {
  const union = compare.targetUnion;
  const number = (x: bigint, y: bigint): number => (x < y ? -1 : x > y ? 1 : 0);
  let result: number;
  switch (compare.target) {
    case Compare_CompareTarget.VALUE:
      result = Buffer.compare(kv?.value ?? new Uint8Array(0), union.case === "value" ? union.value : new Uint8Array(0));
      break;
    case Compare_CompareTarget.CREATE:
      result = number(kv?.createRevision ?? 0n, union.case === "createRevision" ? union.value : 0n);
      break;
    case Compare_CompareTarget.MOD:
      result = number(kv?.modRevision ?? 0n, union.case === "modRevision" ? union.value : 0n);
      break;
    case Compare_CompareTarget.VERSION:
      result = number(kv?.version ?? 0n, union.case === "version" ? union.value : 0n);
      break;
    case Compare_CompareTarget.LEASE:
      result = number(kv?.lease ?? 0n, union.case === "lease" ? union.value : 0n);
      break;
    default:
      result = 0;
  }
  switch (compare.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

/**
 * Checks the ops on the taken path before any write (etcd's checkRequests): ignore_value /
 * ignore_lease need an existing key; a range at a revision must be readable.
 *
 * Unlike etcd 3.4, a put with ignore_value / ignore_lease whose key an earlier delete of the same
 * txn removes (possible only with a from-key delete, which the duplicate-key check lets through)
 * is refused here with "key not found"; etcd panics on it in the middle of the txn.
 */
function checkTxnPath(view: KvRead, request: TxnRequest, path: boolean[], cursor: { i: number }, writes: boolean, deleted: Array<{ key: Uint8Array; end: Uint8Array | undefined }> = [], leaseExists: (id: bigint) => boolean = () => false): void {
  const ops = path[cursor.i++] === true ? request.success : request.failure;
  for (const op of ops) {
    const r = op.request;
    if (r.case === "requestTxn") {
      checkTxnPath(view, r.value, path, cursor, writes, deleted, leaseExists);
    } else if (r.case === "requestDeleteRange") {
      deleted.push({ key: r.value.key, end: rangeEnd(r.value.rangeEnd) });
    } else if (r.case === "requestPut" && writes && (r.value.ignoreValue || r.value.ignoreLease)) {
      const key = r.value.key;
      const exists = view.range(key, undefined, { limit: 0, revision: 0, countOnly: false }).kvs.length > 0;
      if (!exists || deleted.some((d) => covers(d.key, d.end, key))) throw etcdError("keyNotFound");
    } else if (r.case === "requestPut" && writes && r.value.lease !== 0n && !leaseExists(r.value.lease)) {
      throw etcdError("leaseNotFound");
    } else if (r.case === "requestRange" && r.value.revision !== 0n) {
      if (Number(r.value.revision) > view.revision()) throw etcdError("futureRev");
      if (Number(r.value.revision) < view.firstRevision()) throw etcdError("compacted");
    }
  }
}

/** Whether the range [key, end) (end undefined: the key alone; empty: to the last key) holds `k`. */
function covers(key: Uint8Array, end: Uint8Array | undefined, k: Uint8Array): boolean {
  if (end === undefined) return Buffer.compare(key, k) === 0;
  return Buffer.compare(key, k) <= 0 && (end.length === 0 || Buffer.compare(k, end) < 0);
}

/** Runs the ops of the taken path in `txn`, filling responses in request order. */
function runTxnPath(txn: KvWrite, request: TxnRequest, path: boolean[], cursor: { i: number }): TxnResponse {
  const succeeded = path[cursor.i++] === true;
  const responses = (succeeded ? request.success : request.failure).map((op) => {
    const r = op.request;
    switch (r.case) {
      case "requestRange":
        return create(ResponseOpSchema, { response: { case: "responseRange", value: applyRange(txn, r.value) } });
      case "requestPut":
        return create(ResponseOpSchema, { response: { case: "responsePut", value: applyPut(txn, r.value) } });
      case "requestDeleteRange":
        return create(ResponseOpSchema, { response: { case: "responseDeleteRange", value: applyDeleteRange(txn, r.value) } });
      case "requestTxn":
        return create(ResponseOpSchema, { response: { case: "responseTxn", value: runTxnPath(txn, r.value, path, cursor) } });
      default:
        return create(ResponseOpSchema, {});
    }
  });
  return create(TxnResponseSchema, { header: create(ResponseHeaderSchema, {}), succeeded, responses });
}

/**
 * A read-only txn against a read view (served without Raft, as etcd serves it). The headers of
 * nested responses are empty, as etcd leaves them.
 */
export function applyReadOnlyTxn(view: KvRead, request: TxnRequest): TxnResponse {
  const path = compareToPath(view, request);
  checkTxnPath(view, request, path, { i: 0 }, false);
  const asWrite: KvWrite = {
    ...bindRead(view),
    put: () => {
      throw new Error("read-only txn attempted a put");
    },
    deleteRange: () => {
      throw new Error("read-only txn attempted a delete");
    },
    changes: () => 0,
  };
  const response = runTxnPath(asWrite, request, path, { i: 0 });
  response.header = header(view.revision());
  return response;
}

function bindRead(view: KvRead): KvRead {
  return { range: view.range.bind(view), revision: view.revision.bind(view), firstRevision: view.firstRevision.bind(view) };
}

/** The bottom of the chain: applies to the store, recording `index` as the consistent index. */
export class BackendApplier implements Applier {
  /** Raft index of the entry being applied; written with the entry's effects. */
  index = 0;
  /** Whether a lease exists (the lessor's lookup once the server has one). */
  leaseExists: (id: bigint) => boolean = () => false;
  constructor(private readonly store: KvStore, private readonly alarms: AlarmStore) {}

  put(request: PutRequest): PutResponse {
    if (request.lease !== 0n && !this.leaseExists(request.lease)) throw etcdError("leaseNotFound");
    return this.store.write(this.index, (txn) => applyPut(txn, request));
  }

  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse {
    return this.store.write(this.index, (txn) => applyDeleteRange(txn, request));
  }

  txn(request: TxnRequest): TxnResponse {
    return this.store.write(this.index, (txn) => {
      const path = compareToPath(txn, request);
      checkTxnPath(txn, request, path, { i: 0 }, true, [], this.leaseExists);
      const response = runTxnPath(txn, request, path, { i: 0 });
      // The view's revision is the one before this txn; its changes land at the next one.
      response.header = header(txn.revision() + (txn.changes() > 0 ? 1 : 0));
      return response;
    });
  }

  compaction(request: CompactionRequest): CompactionResponse {
    this.store.compact(this.index, Number(request.revision));
    return create(CompactionResponseSchema, { header: header(this.store.currentRevision()) });
  }

  /**
   * A raised or cleared alarm is written to the alarm bucket in the same batch as the entry's
   * consistent index (etcd's AlarmStore writes its bucket in the apply's batch transaction).
   */
  alarm(request: AlarmRequest): AlarmResponse {
    const response = create(AlarmResponseSchema, {});
    let changed: { member: AlarmMember; raised: boolean } | undefined;
    switch (request.action) {
      case AlarmRequest_AlarmAction.GET:
        response.alarms = this.alarms.get(request.alarm);
        break;
      case AlarmRequest_AlarmAction.ACTIVATE:
        if (request.alarm !== AlarmType.NONE) {
          const { member, added } = this.alarms.activate(request.memberID, request.alarm);
          response.alarms = [member];
          if (added) changed = { member, raised: true };
        }
        break;
      case AlarmRequest_AlarmAction.DEACTIVATE: {
        const member = this.alarms.deactivate(request.memberID, request.alarm);
        if (member !== undefined) {
          response.alarms = [member];
          changed = { member, raised: false };
        }
        break;
      }
    }
    if (changed === undefined) this.store.setConsistentIndex(this.index);
    else this.store.writeAlarm(this.index, toBinary(AlarmMemberSchema, changed.member), changed.raised);
    return response;
  }
}

/** Refuses writes while the NOSPACE alarm is raised (etcd's applierV3Capped). */
export class CappedApplier implements Applier {
  constructor(private readonly next: Applier, private readonly alarms: AlarmStore) {}
  put(request: PutRequest): PutResponse {
    if (this.alarms.has(AlarmType.NOSPACE)) throw etcdError("noSpace");
    return this.next.put(request);
  }
  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse {
    return this.next.deleteRange(request);
  }
  txn(request: TxnRequest): TxnResponse {
    if (this.alarms.has(AlarmType.NOSPACE) && !isTxnReadOnly(request)) throw etcdError("noSpace");
    return this.next.txn(request);
  }
  compaction(request: CompactionRequest): CompactionResponse {
    return this.next.compaction(request);
  }
  alarm(request: AlarmRequest): AlarmResponse {
    return this.next.alarm(request);
  }
}

/**
 * Applies, then reports NOSPACE when the backend has outgrown its quota (etcd's quotaApplierV3:
 * the write still happens; the server raises the alarm).
 */
export class QuotaApplier implements Applier {
  constructor(private readonly next: Applier, private readonly available: (request: QuotaRequest) => boolean, private readonly onExceeded: () => void) {}
  put(request: PutRequest): PutResponse {
    const ok = this.available({ kind: "put", request });
    const response = this.next.put(request);
    if (!ok) this.exceeded();
    return response;
  }
  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse {
    return this.next.deleteRange(request);
  }
  txn(request: TxnRequest): TxnResponse {
    const ok = this.available({ kind: "txn", request });
    const response = this.next.txn(request);
    if (!ok) this.exceeded();
    return response;
  }
  compaction(request: CompactionRequest): CompactionResponse {
    return this.next.compaction(request);
  }
  alarm(request: AlarmRequest): AlarmResponse {
    return this.next.alarm(request);
  }
  /** The write is kept, but the client hears NOSPACE, as from etcd. */
  private exceeded(): never {
    this.onExceeded();
    throw etcdError("noSpace");
  }
}
