/**
 * Watch fragments (etcd vs cairn, both with a small --max-request-bytes so a history response must
 * be split) and periodic progress notifications (cairn only: etcd 3.4 has no flag to shorten its
 * 10-minute interval; cairn's CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS does it for tests).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create, toJsonString } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { kvService, watchService } from "../../src/api/grpc.js";
import * as rpc from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { requireEtcd, startMember, type Member } from "./harness.js";

function clients(m: Member) {
  const KV = grpc.makeGenericClientConstructor(kvService as unknown as grpc.ServiceDefinition, "KV");
  const Watch = grpc.makeGenericClientConstructor(watchService as unknown as grpc.ServiceDefinition, "Watch");
  const kv = new KV(m.endpoint, grpc.credentials.createInsecure());
  const watch = new Watch(m.endpoint, grpc.credentials.createInsecure());
  const put = (key: string, value: string) =>
    new Promise<void>((resolve, reject) =>
      (kv as unknown as Record<string, (r: unknown, cb: (e: unknown) => void) => void>).put!(create(rpc.PutRequestSchema, { key: Buffer.from(key), value: Buffer.from(value) }), (e) => (e !== null ? reject(e as Error) : resolve())),
    );
  const stream = () => (watch as unknown as { watch: () => grpc.ClientDuplexStream<unknown, rpc.WatchResponse> }).watch();
  return { put, stream, close: () => (kv.close(), watch.close()) };
}

async function collect(s: grpc.ClientDuplexStream<unknown, rpc.WatchResponse>, until: (all: rpc.WatchResponse[]) => boolean, timeoutMs = 15_000): Promise<rpc.WatchResponse[]> {
  const all: rpc.WatchResponse[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(all), timeoutMs);
    s.on("data", (r: rpc.WatchResponse) => {
      all.push(r);
      if (until(all)) {
        clearTimeout(timer);
        resolve(all);
      }
    });
  });
}

async function fragmentSession(m: Member): Promise<string[]> {
  const c = clients(m);
  try {
    for (let i = 0; i < 14; i++) await c.put(`f/${i}`, "x".repeat(60_000));
    const s = c.stream();
    s.on("error", () => undefined);
    const done = collect(s, (all) => all.some((r) => r.events.length > 0 && !r.fragment) || all.filter((r) => r.events.length > 0).length > 20);
    s.write(create(rpc.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: Buffer.from("f/"), rangeEnd: Buffer.from("f0"), startRevision: 2n, fragment: true } } }));
    const responses = await done;
    s.cancel();
    return responses.map((r) => `fragment=${r.fragment} events=${r.events.map((e) => Buffer.from(e.kv!.key).toString()).join(",")} rev=${r.header?.revision} bytes=${toJsonString(rpc.WatchResponseSchema, r).length > 0 ? rpcSize(r) : 0}`);
  } finally {
    c.close();
  }
}

function rpcSize(r: rpc.WatchResponse): number {
  const copy = create(rpc.WatchResponseSchema, { ...r, header: create(rpc.ResponseHeaderSchema, { revision: r.header?.revision ?? 0n }) });
  return toJsonString(rpc.WatchResponseSchema, copy).length;
}

test("fragmented watch responses split as etcd 3.4 splits them", { timeout: 120_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  // etcd splits at max-request-bytes + 512 KiB: 14 × 60 kB of history must come in parts.
  const flags = ["--max-request-bytes", "65536"];
  const [etcd, cairn] = await Promise.all([startMember("etcd", { flags }), startMember("cairn", { flags })]);
  t.after(() => etcd.stop());
  t.after(() => cairn.stop());
  const [want, got] = await Promise.all([fragmentSession(etcd), fragmentSession(cairn)]);
  t.diagnostic(`etcd sent ${want.length} parts`);
  if (process.env["DUMP_TRANSCRIPT"] !== undefined) process.stderr.write(`${want.join("\n")}\n---\n${got.join("\n")}\n`);
  assert.ok(want.length > 2, "the scenario makes etcd fragment");
  assert.deepEqual(got, want);
});

test("progress_notify: periodic empty responses at the current revision while idle (cairn)", { timeout: 60_000 }, async (t) => {
  const previous = process.env["CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS"];
  process.env["CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS"] = "300";
  const cairn = await startMember("cairn").finally(() => {
    if (previous === undefined) delete process.env["CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS"];
    else process.env["CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS"] = previous;
  });
  t.after(() => cairn.stop());
  const c = clients(cairn);
  t.after(() => c.close());
  await c.put("p/a", "1");
  const s = c.stream();
  s.on("error", () => undefined);
  const done = collect(s, (all) => all.filter((r) => !r.created && r.events.length === 0).length >= 2);
  s.write(create(rpc.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: Buffer.from("p/"), rangeEnd: Buffer.from("p0"), progressNotify: true, watchId: 5n } } }));
  s.write(create(rpc.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: Buffer.from("q/"), rangeEnd: Buffer.from("q0"), watchId: 6n } } }));
  const responses = await done;
  s.cancel();
  const progress = responses.filter((r) => !r.created && r.events.length === 0);
  assert.ok(progress.length >= 2, "progress notifications arrive");
  for (const r of progress) {
    assert.equal(r.watchId, 5n, "only the watcher that asked for progress_notify gets them");
    assert.equal(r.header?.revision, 2n);
  }
});
