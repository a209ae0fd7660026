/**
 * Differential test at the gRPC level: requests etcdctl cannot express (nested txns, compares with
 * range_end and every target/operator, duplicate keys, op limits, oversize requests, every range
 * option) and misbehaving clients (garbage bytes, unknown methods), sent to real etcd and to cairn.
 * Responses are compared as JSON with IDs and terms normalized; errors by code and message.
 */
import test from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { create, toJsonString, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { kvService, maintenanceService, clusterService } from "../../src/api/grpc.js";
import {
  AlarmRequestSchema,
  AlarmResponseSchema,
  Compare_CompareResult as R,
  Compare_CompareTarget as T,
  CompactionRequestSchema,
  CompactionResponseSchema,
  DeleteRangeRequestSchema,
  DeleteRangeResponseSchema,
  HashKVRequestSchema,
  HashKVResponseSchema,
  MemberListRequestSchema,
  MemberListResponseSchema,
  PutRequestSchema,
  PutResponseSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeRequestSchema,
  RangeResponseSchema,
  TxnRequestSchema,
  TxnResponseSchema,
  type RequestOp,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { SeededRandom } from "../../src/raft/rand.js";
import { requireEtcd, startMember, type Member } from "./harness.js";

const enc = (s: string): Uint8Array => Buffer.from(s);

type Call = { method: string; schema: DescMessage; output: DescMessage; request: unknown; service: "KV" | "Maintenance" | "Cluster" };

function kv(method: "Range" | "Put" | "DeleteRange" | "Txn" | "Compact", request: unknown): Call {
  const schemas = {
    Range: [RangeRequestSchema, RangeResponseSchema],
    Put: [PutRequestSchema, PutResponseSchema],
    DeleteRange: [DeleteRangeRequestSchema, DeleteRangeResponseSchema],
    Txn: [TxnRequestSchema, TxnResponseSchema],
    Compact: [CompactionRequestSchema, CompactionResponseSchema],
  } as const;
  const [schema, output] = schemas[method];
  return { method, schema, output, request, service: "KV" };
}

const putOp = (key: string, value: string): MessageInitShape<typeof import("../../src/api/gen/etcdserverpb/rpc_pb.js").RequestOpSchema> => ({ request: { case: "requestPut", value: { key: enc(key), value: enc(value) } } });
const delOp = (key: string, end = ""): MessageInitShape<typeof import("../../src/api/gen/etcdserverpb/rpc_pb.js").RequestOpSchema> => ({ request: { case: "requestDeleteRange", value: { key: enc(key), rangeEnd: enc(end) } } });
const getOp = (key: string, end = ""): MessageInitShape<typeof import("../../src/api/gen/etcdserverpb/rpc_pb.js").RequestOpSchema> => ({ request: { case: "requestRange", value: { key: enc(key), rangeEnd: enc(end) } } });
const txnOp = (txn: object): MessageInitShape<typeof import("../../src/api/gen/etcdserverpb/rpc_pb.js").RequestOpSchema> => ({ request: { case: "requestTxn", value: txn } });

function cmp(key: string, target: T, result: R, value: bigint | string, rangeEnd = ""): object {
  const union =
    target === T.VALUE ? { case: "value", value: enc(value as string) }
    : target === T.VERSION ? { case: "version", value }
    : target === T.CREATE ? { case: "createRevision", value }
    : target === T.MOD ? { case: "modRevision", value }
    : { case: "lease", value };
  return { key: enc(key), target, result, targetUnion: union, rangeEnd: enc(rangeEnd) };
}

function calls(): Call[] {
  const out: Call[] = [];
  for (const [k, v] of [["k1", "a"], ["k2", "b"], ["k3", "c"], ["k2", "bb"], ["k4", "d"], ["k5", "e"], ["k1", "aa"]]) out.push(kv("Put", { key: enc(k!), value: enc(v!) }));
  // Range options.
  for (const order of [RangeRequest_SortOrder.NONE, RangeRequest_SortOrder.ASCEND, RangeRequest_SortOrder.DESCEND]) {
    for (const target of [RangeRequest_SortTarget.KEY, RangeRequest_SortTarget.VERSION, RangeRequest_SortTarget.CREATE, RangeRequest_SortTarget.MOD, RangeRequest_SortTarget.VALUE]) {
      out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), sortOrder: order, sortTarget: target, limit: 3n }));
    }
  }
  out.push(kv("Range", { key: enc("k"), rangeEnd: new Uint8Array([0]) }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), keysOnly: true, limit: 2n }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), countOnly: true }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), revision: 4n }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), minModRevision: 3n, maxModRevision: 6n }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), minCreateRevision: 3n, maxCreateRevision: 5n, serializable: true }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), revision: 99n }));
  out.push(kv("Range", { key: new Uint8Array(0) }));
  out.push(kv("Range", { key: enc("\u0000"), rangeEnd: new Uint8Array([0]), limit: 1n }));
  // Put options.
  out.push(kv("Put", { key: enc("k1"), value: enc("z"), prevKv: true }));
  out.push(kv("Put", { key: enc("k1"), ignoreValue: true, prevKv: true }));
  out.push(kv("Put", { key: enc("k1"), ignoreLease: true }));
  out.push(kv("Put", { key: enc("k1"), value: enc("x"), ignoreValue: true }));
  out.push(kv("Put", { key: enc("k1"), lease: 5n, ignoreLease: true }));
  out.push(kv("Put", { key: enc("k1"), lease: 12345n }));
  out.push(kv("Put", { key: enc("missing"), ignoreValue: true }));
  out.push(kv("Put", { key: new Uint8Array(0), value: enc("v") }));
  // Compares: every target and operator, single keys and ranges.
  for (const target of [T.VALUE, T.VERSION, T.CREATE, T.MOD, T.LEASE]) {
    for (const result of [R.EQUAL, R.NOT_EQUAL, R.GREATER, R.LESS]) {
      const value = target === T.VALUE ? "b" : target === T.LEASE ? 0n : 3n;
      out.push(kv("Txn", { compare: [cmp("k2", target, result, value)], success: [getOp("k2")], failure: [getOp("k3")] }));
      out.push(kv("Txn", { compare: [cmp("k1", target, result, value, "k4")], success: [getOp("k1", "k4")], failure: [] }));
      out.push(kv("Txn", { compare: [cmp("nokey", target, result, value)], success: [getOp("nokey")], failure: [getOp("k1")] }));
    }
  }
  out.push(kv("Txn", { compare: [cmp("k", T.CREATE, R.GREATER, 0n, "\u0000")], success: [getOp("k", "\u0000")] }));
  // Nested txns, writes in both levels.
  out.push(kv("Txn", {
    compare: [cmp("k1", T.VERSION, R.GREATER, 0n)],
    success: [putOp("n1", "1"), txnOp({ compare: [cmp("k2", T.VALUE, R.EQUAL, "bb")], success: [putOp("n2", "2"), getOp("n", "o")], failure: [putOp("n3", "3")] }), getOp("n", "o")],
    failure: [putOp("n4", "4")],
  }));
  out.push(kv("Txn", { success: [txnOp({ success: [txnOp({ success: [putOp("deep", "x"), getOp("deep")] })] })] }));
  out.push(kv("Txn", { success: [txnOp({ success: [putOp("same", "1")], failure: [putOp("same", "2")] })] }));
  // Duplicate-key rules.
  out.push(kv("Txn", { success: [putOp("d", "1"), putOp("d", "2")] }));
  out.push(kv("Txn", { success: [putOp("d", "1"), delOp("d")] }));
  out.push(kv("Txn", { success: [putOp("d", "1"), delOp("a", "z")] }));
  out.push(kv("Txn", { success: [putOp("d", "1"), delOp("a", "\u0000")] }));
  out.push(kv("Txn", { success: [putOp("d", "1"), txnOp({ success: [putOp("d", "2")] })] }));
  out.push(kv("Txn", { success: [delOp("d"), txnOp({ success: [putOp("d", "2")] })] }));
  out.push(kv("Txn", { success: [putOp("d", "1")], failure: [putOp("d", "2")] }));
  out.push(kv("Txn", { success: [delOp("k1"), delOp("k1")] }));
  // Op limits and invalid ops.
  out.push(kv("Txn", { success: Array.from({ length: 129 }, (_, i) => getOp(`x${i}`)) }));
  out.push(kv("Txn", { success: Array.from({ length: 128 }, (_, i) => putOp(`many${i}`, "v")) }));
  out.push(kv("Txn", { compare: Array.from({ length: 129 }, () => cmp("k1", T.VERSION, R.GREATER, 0n)) }));
  out.push(kv("Txn", { success: [{}] }));
  out.push(kv("Txn", { compare: [cmp("", T.VERSION, R.EQUAL, 0n)] }));
  out.push(kv("Txn", { success: [txnOp({ success: Array.from({ length: 100 }, (_, i) => getOp(`y${i}`)) }), ...Array.from({ length: 50 }, (_, i) => getOp(`z${i}`))] }));
  out.push(kv("Txn", { success: [{ request: { case: "requestRange", value: { key: enc("k1"), revision: 999n } } }] }));
  out.push(kv("Txn", { success: [{ request: { case: "requestPut", value: { key: enc("nope"), ignoreValue: true } } }, putOp("shouldnot", "x")] }));
  // Sizes: just under and over max-request-bytes (1.5 MiB), and over the gRPC limit (2 MiB).
  out.push(kv("Put", { key: enc("big"), value: new Uint8Array(1024 * 1024) }));
  out.push(kv("Put", { key: enc("big"), value: new Uint8Array(1.5 * 1024 * 1024) }));
  out.push(kv("Put", { key: enc("big"), value: new Uint8Array(3 * 1024 * 1024) }));
  // Delete and compaction.
  out.push(kv("DeleteRange", { key: enc("many"), rangeEnd: enc("manz"), prevKv: false }));
  out.push(kv("DeleteRange", { key: enc("k1"), prevKv: true }));
  out.push(kv("DeleteRange", { key: new Uint8Array(0) }));
  out.push(kv("Compact", { revision: 10n }));
  out.push(kv("Compact", { revision: 5n }));
  out.push(kv("Compact", { revision: 100000n }));
  out.push(kv("Range", { key: enc("k"), rangeEnd: enc("l"), revision: 9n }));
  out.push(kv("Compact", { revision: 12n, physical: true }));
  out.push({ method: "HashKV", schema: HashKVRequestSchema, output: HashKVResponseSchema, request: {}, service: "Maintenance" });
  out.push({ method: "HashKV", schema: HashKVRequestSchema, output: HashKVResponseSchema, request: { revision: 14n }, service: "Maintenance" });
  out.push(...mixedWorkload(new SeededRandom(4), 400));
  out.push({ method: "HashKV", schema: HashKVRequestSchema, output: HashKVResponseSchema, request: {}, service: "Maintenance" });
  out.push({ method: "HashKV", schema: HashKVRequestSchema, output: HashKVResponseSchema, request: { revision: 3n }, service: "Maintenance" });
  out.push({ method: "Alarm", schema: AlarmRequestSchema, output: AlarmResponseSchema, request: {}, service: "Maintenance" });
  out.push({ method: "MemberList", schema: MemberListRequestSchema, output: MemberListResponseSchema, request: {}, service: "Cluster" });
  out.push(kv("Range", { key: enc("\u0000"), rangeEnd: new Uint8Array([0]) }));
  return out;
}

/**
 * A seeded random mix of puts (new keys, overwrites, prev_kv), deletes (single, ranges), txns with
 * compares and compactions, each followed by nothing: the HashKV after it must agree.
 */
function mixedWorkload(random: SeededRandom, count: number): Call[] {
  const out: Call[] = [];
  const key = (): string => `w/${String.fromCharCode(97 + random.intn(20))}${random.intn(3)}`;
  let revisionFloor = 20;
  for (let i = 0; i < count; i++) {
    const dice = random.intn(100);
    if (dice < 55) out.push(kv("Put", { key: enc(key()), value: enc(`v${i}`), prevKv: random.intn(2) === 0 }));
    else if (dice < 70) out.push(kv("DeleteRange", { key: enc(key()), prevKv: random.intn(2) === 0 }));
    else if (dice < 75) {
      const a = key();
      out.push(kv("DeleteRange", { key: enc(a), rangeEnd: enc(a.slice(0, 3) + "z") }));
    } else if (dice < 95) {
      const k = key();
      out.push(kv("Txn", {
        compare: [cmp(k, T.VERSION, random.intn(2) === 0 ? R.GREATER : R.EQUAL, BigInt(random.intn(3)))],
        success: [putOp(k, `t${i}`), getOp("w/", "w0")],
        failure: [delOp(key()), putOp(`w/fail${random.intn(5)}`, `f${i}`)],
      }));
    } else {
      revisionFloor += 10;
      out.push(kv("Compact", { revision: BigInt(revisionFloor + random.intn(10)) }));
    }
  }
  out.push(kv("Range", { key: enc("w/"), rangeEnd: enc("w0") }));
  return out;
}

function invoke(client: grpc.Client, call: Call): Promise<string> {
  const request = create(call.schema, call.request as never);
  const service = call.service === "KV" ? kvService : call.service === "Maintenance" ? maintenanceService : clusterService;
  const definition = Object.values(service).find((d) => d.path.endsWith(`/${call.method}`))!;
  return new Promise((resolve) => {
    client.makeUnaryRequest(definition.path, definition.requestSerialize as (v: unknown) => Buffer, definition.responseDeserialize, request, { deadline: Date.now() + 10_000 }, (err, res) => {
      if (err) resolve(`error code=${err.code} details=${err.details}`);
      else resolve(toJsonString(call.output, res as never, { useProtoFieldName: true }));
    });
  });
}

/** Replaces header IDs and the term, which legitimately differ. */
function normalizeJson(text: string): string {
  return text.replace(/"(cluster_id|member_id|raft_term|ID)":"\d+"/g, '"$1":"<$1>"').replace(/"(peerURLs|clientURLs)":\["[^"]*"\]/g, '"$1":["<url>"]');
}

async function rawExchange(member: Member, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(member.clientPort, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 3000);
    socket.on("connect", () => socket.end(bytes));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(classifyReply(Buffer.concat(chunks)));
    });
  });
}

/**
 * What a peer answered to raw bytes: nothing, an HTTP/1 status line, or HTTP/2 frames (the
 * contents of SETTINGS differ between Go's and Node's HTTP/2 stacks and are not compared).
 */
function classifyReply(reply: Buffer): string {
  if (reply.length === 0) return "closed without reply";
  if (reply.subarray(0, 5).toString("latin1") === "HTTP/") return reply.toString("latin1").split("\r\n")[0]!;
  return reply.length >= 9 && reply[3] === 0x04 ? "HTTP/2 SETTINGS frame" : `other ${reply.subarray(0, 16).toString("hex")}`;
}

test("gRPC calls give the same answers from etcd and cairn", { timeout: 240_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  const subject = process.env["CAIRN_E2E_SUBJECT"] === "etcd" ? "etcd" : "cairn";
  const etcd = await startMember("etcd");
  let other: Member | undefined;
  const clients: grpc.Client[] = [];
  try {
    other = await startMember(subject);
    const [a, b] = [etcd, other].map((m) => {
      const c = new grpc.Client(m.endpoint, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": 8 * 1024 * 1024 });
      clients.push(c);
      return c;
    }) as [grpc.Client, grpc.Client];
    const differences: string[] = [];
    const list = calls();
    for (const call of list) {
      const [expected, actual] = [normalizeJson(await invoke(a, call)), normalizeJson(await invoke(b, call))];
      if (expected !== actual) differences.push(`${call.method} ${JSON.stringify(call.request, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? (v.length > 64 ? `<${v.length} bytes>` : Buffer.from(v).toString()) : v))}\n--- etcd\n${expected.slice(0, 1500)}\n--- ${subject}\n${actual.slice(0, 1500)}`);
    }
    // An unknown method, and garbage on the socket: both members must answer and stay up.
    const unknown = await Promise.all([a, b].map((c) => new Promise<string>((resolve) => c.makeUnaryRequest("/etcdserverpb.KV/Nope", (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (err) => resolve(`code=${err?.code}`)))));
    if (unknown[0] !== unknown[1]) differences.push(`unknown method: etcd ${unknown[0]} / ${subject} ${unknown[1]}`);
    for (const garbage of [Buffer.from("\x00\x01\x02garbage\r\n\r\n"), Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\ngarbage-after-preface"), Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]) {
      const [x, y] = [await rawExchange(etcd, garbage), await rawExchange(other, garbage)];
      if (x !== y) differences.push(`garbage ${JSON.stringify(garbage.toString("latin1"))}: etcd ${JSON.stringify(x)} / ${subject} ${JSON.stringify(y)}`);
    }
    const afterwards = await Promise.all([a, b].map((c) => invoke(c, kv("Range", { key: enc("k2") }))));
    assert.ok(!afterwards[1]!.startsWith("error"), `${subject} stopped answering after bad input: ${afterwards[1]}`);
    t.diagnostic(`${list.length} calls, ${differences.length} differences`);
    assert.equal(differences.length, 0, differences.join("\n\n"));
  } finally {
    for (const c of clients) c.close();
    await etcd.stop();
    await other?.stop();
  }
});
