/**
 * The data of a normal Raft entry: one client request, tagged with the ID its proposer waits on.
 *
 *   offset 0      u8   request kind (RequestKind)
 *   offset 1..8   u64  request ID, big-endian (unique per proposer process; see RequestIdGenerator)
 *   offset 9..    protobuf encoding of the request message of that kind (etcdserverpb)
 *
 * An entry with empty data is the no-op a new leader appends; it carries no request. This is
 * Cairn's own format (etcd wraps requests in InternalRaftRequest); it only ever lives in Cairn's WAL.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AlarmRequestSchema,
  CompactionRequestSchema,
  DeleteRangeRequestSchema,
  PutRequestSchema,
  TxnRequestSchema,
  type AlarmRequest,
  type CompactionRequest,
  type DeleteRangeRequest,
  type PutRequest,
  type TxnRequest,
} from "../api/gen/etcdserverpb/rpc_pb.js";

export enum RequestKind {
  Put = 1,
  DeleteRange = 2,
  Txn = 3,
  Compaction = 4,
  Alarm = 5,
}

export type Request =
  | { kind: RequestKind.Put; request: PutRequest }
  | { kind: RequestKind.DeleteRange; request: DeleteRangeRequest }
  | { kind: RequestKind.Txn; request: TxnRequest }
  | { kind: RequestKind.Compaction; request: CompactionRequest }
  | { kind: RequestKind.Alarm; request: AlarmRequest };

const HEADER_BYTES = 9;

function body(request: Request): Uint8Array {
  switch (request.kind) {
    case RequestKind.Put:
      return toBinary(PutRequestSchema, request.request);
    case RequestKind.DeleteRange:
      return toBinary(DeleteRangeRequestSchema, request.request);
    case RequestKind.Txn:
      return toBinary(TxnRequestSchema, request.request);
    case RequestKind.Compaction:
      return toBinary(CompactionRequestSchema, request.request);
    case RequestKind.Alarm:
      return toBinary(AlarmRequestSchema, request.request);
  }
}

export function encodeRequest(id: bigint, request: Request): Uint8Array {
  const payload = body(request);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  out[0] = request.kind;
  new DataView(out.buffer).setBigUint64(1, id);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function decodeRequest(data: Uint8Array): { id: bigint; request: Request } {
  if (data.length < HEADER_BYTES) throw new Error(`request: entry data has ${data.length} bytes, want at least ${HEADER_BYTES}`);
  const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1);
  const payload = data.subarray(HEADER_BYTES);
  const kind = data[0] as RequestKind;
  switch (kind) {
    case RequestKind.Put:
      return { id, request: { kind, request: fromBinary(PutRequestSchema, payload) } };
    case RequestKind.DeleteRange:
      return { id, request: { kind, request: fromBinary(DeleteRangeRequestSchema, payload) } };
    case RequestKind.Txn:
      return { id, request: { kind, request: fromBinary(TxnRequestSchema, payload) } };
    case RequestKind.Compaction:
      return { id, request: { kind, request: fromBinary(CompactionRequestSchema, payload) } };
    case RequestKind.Alarm:
      return { id, request: { kind, request: fromBinary(AlarmRequestSchema, payload) } };
    default:
      throw new Error(`request: unknown request kind ${String(data[0])}`);
  }
}

/**
 * Request IDs as etcd's idutil.Generator makes them: the low 16 bits of the member ID, then 40 bits
 * of milliseconds at start, then a counter, so IDs never repeat across restarts of one member.
 */
export class RequestIdGenerator {
  private next: bigint;
  constructor(memberId: bigint, nowMs: number) {
    const prefix = (memberId & 0xffffn) << 48n;
    const time = (BigInt(nowMs) & 0xff_ffff_ffffn) << 8n;
    this.next = prefix | time;
  }
  generate(): bigint {
    this.next = BigInt.asUintN(64, this.next + 1n);
    return this.next;
  }
}
