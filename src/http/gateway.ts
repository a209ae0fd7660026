/**
 * etcd 3.4's JSON gateway (grpc-gateway with proto field names): POST /v3/<service>/<method> with a
 * JSON request, answered with the JSON response; int64 as strings, bytes as base64, defaults
 * omitted, enums by name. Errors are grpc-gateway's {"error","message","code"} object.
 */
import { fromJson, toJsonString, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { EtcdError } from "../api/errors.js";
import {
  AlarmRequestSchema,
  AlarmResponseSchema,
  CompactionRequestSchema,
  CompactionResponseSchema,
  DefragmentRequestSchema,
  DefragmentResponseSchema,
  MoveLeaderRequestSchema,
  MoveLeaderResponseSchema,
  DeleteRangeRequestSchema,
  DeleteRangeResponseSchema,
  HashKVRequestSchema,
  HashKVResponseSchema,
  HashRequestSchema,
  HashResponseSchema,
  MemberListRequestSchema,
  MemberListResponseSchema,
  PutRequestSchema,
  PutResponseSchema,
  RangeRequestSchema,
  RangeResponseSchema,
  StatusRequestSchema,
  StatusResponseSchema,
  TxnRequestSchema,
  TxnResponseSchema,
} from "../api/gen/etcdserverpb/rpc_pb.js";
import type { EtcdServer } from "../server/server.js";
import { goDecode, GoJsonError } from "./gojson.js";
import { gatewayError, httpStatusFromGrpcCode, type GatewayReply } from "./router.js";

interface Route<I extends DescMessage, O extends DescMessage> {
  input: I;
  output: O;
  call: (request: MessageShape<I>) => Promise<MessageShape<O>> | MessageShape<O>;
}

function route<I extends DescMessage, O extends DescMessage>(input: I, output: O, call: Route<I, O>["call"]): Route<DescMessage, DescMessage> {
  return { input, output, call } as unknown as Route<DescMessage, DescMessage>;
}

export function gatewayRoutes(server: EtcdServer): Map<string, Route<DescMessage, DescMessage>> {
  return new Map([
    ["/v3/kv/range", route(RangeRequestSchema, RangeResponseSchema, (r) => server.range(r))],
    ["/v3/kv/put", route(PutRequestSchema, PutResponseSchema, (r) => server.put(r))],
    ["/v3/kv/deleterange", route(DeleteRangeRequestSchema, DeleteRangeResponseSchema, (r) => server.deleteRange(r))],
    ["/v3/kv/txn", route(TxnRequestSchema, TxnResponseSchema, (r) => server.txn(r))],
    ["/v3/kv/compaction", route(CompactionRequestSchema, CompactionResponseSchema, (r) => server.compact(r))],
    ["/v3/cluster/member/list", route(MemberListRequestSchema, MemberListResponseSchema, () => server.memberList())],
    ["/v3/maintenance/status", route(StatusRequestSchema, StatusResponseSchema, () => server.status())],
    ["/v3/maintenance/hash", route(HashRequestSchema, HashResponseSchema, () => server.hash())],
    ["/v3/maintenance/hashkv", route(HashKVRequestSchema, HashKVResponseSchema, (r) => server.hashKV(Number(r.revision)))],
    ["/v3/maintenance/alarm", route(AlarmRequestSchema, AlarmResponseSchema, (r) => server.alarm(r))],
    ["/v3/maintenance/defragment", route(DefragmentRequestSchema, DefragmentResponseSchema, () => server.defragment())],
    ["/v3/maintenance/transfer-leadership", route(MoveLeaderRequestSchema, MoveLeaderResponseSchema, (r) => server.moveLeader(r.targetID))],
  ]);
}

/** Builds the gateway function the HTTP router calls. */
export function createGateway(server: EtcdServer): (path: string, body: Buffer) => Promise<GatewayReply> | undefined {
  const routes = gatewayRoutes(server);
  return (path, body) => {
    const r = routes.get(path);
    if (r === undefined) return undefined;
    return serve(r, body);
  };
}

async function serve(r: Route<DescMessage, DescMessage>, body: Buffer): Promise<GatewayReply> {
  let request: MessageShape<DescMessage>;
  try {
    request = fromJson(r.input, goDecode(r.input, body.toString("utf8")) as JsonValue, { ignoreUnknownFields: true });
  } catch (err) {
    const message = err instanceof GoJsonError ? err.message : (goJsonError(body) ?? (err as Error).message);
    return { status: 400, body: gatewayError(3, message) };
  }
  try {
    const response = await r.call(request);
    return { status: 200, body: toJsonString(r.output, response, { useProtoFieldName: true }) };
  } catch (err) {
    const code = err instanceof EtcdError ? err.code : typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 2;
    return { status: httpStatusFromGrpcCode(code), body: gatewayError(code, (err as Error).message) };
  }
}

/**
 * The message Go's encoding/json gives for the two most common kinds of malformed input (a bad
 * first character, a truncated document); undefined for anything else or for valid JSON.
 */
export function goJsonError(body: Buffer): string | undefined {
  const text = body.toString("utf8");
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    const trimmed = text.trimStart();
    if (trimmed.length === 0) return "unexpected end of JSON input";
    const first = trimmed[0]!;
    if (!/[{["\-0-9tfn]/.test(first)) return `invalid character '${first}' looking for beginning of value`;
    // grpc-gateway reads with a streaming decoder, which reports a truncated document this way.
    return "unexpected EOF";
  }
}
