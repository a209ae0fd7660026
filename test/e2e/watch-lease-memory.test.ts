/**
 * A stalled watcher does not grow the server's memory without bound. A gRPC client opens a watch
 * on a prefix and never reads; another writes 131 MB of values under that prefix (compacting as
 * it goes). The server's anonymous resident memory (RssAnon: heap and buffers, not the
 * memory-mapped database) must grow by far less than that beyond what the same load costs a
 * server without the watcher. (With the stream buffer made unbounded the excess was ~+80 MB for
 * 1,600 puts; bounded it was within noise.) Then the stalled client reads again and must be told
 * its history was compacted away.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { kvService, watchService } from "../../src/api/grpc.js";
import * as rpc from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { startMember } from "./harness.js";

function rssAnonBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /RssAnon:\s+(\d+) kB/.exec(status);
  assert.ok(match !== null, "RssAnon in /proc/<pid>/status");
  return Number(match[1]) * 1024;
}

/** Opens a watch on "big/" that is read until "created" and then never again. */
function stalledWatch(endpoint: string, t: { after: (fn: () => void) => void }): Promise<{ stream: grpc.ClientDuplexStream<unknown, rpc.WatchResponse>; received: rpc.WatchResponse[] }> {
  const Watch = grpc.makeGenericClientConstructor(watchService as unknown as grpc.ServiceDefinition, "Watch");
  const client = new Watch(endpoint, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const stream = (client as unknown as { watch: () => grpc.ClientDuplexStream<unknown, rpc.WatchResponse> }).watch();
  const received: rpc.WatchResponse[] = [];
  stream.on("error", () => undefined);
  return new Promise((resolve) => {
    stream.on("data", (r: rpc.WatchResponse) => {
      received.push(r);
      if (r.created) {
        stream.pause(); // stall: no more reads
        resolve({ stream, received });
      }
    });
    stream.write(create(rpc.WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: Buffer.from("big/"), rangeEnd: Buffer.from("big0"), prevKv: true } } }));
  });
}

/** Writes `n` 64 KiB values under "big/", compacting every 200 revisions; returns RssAnon growth. */
async function workload(endpoint: string, pid: number, t: { after: (fn: () => void) => void }): Promise<number> {
  const KV = grpc.makeGenericClientConstructor(kvService as unknown as grpc.ServiceDefinition, "KV");
  const client = new KV(endpoint, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const kv = client as unknown as Record<string, (r: unknown, cb: (e: unknown, r: unknown) => void) => void>;
  const call = (method: string, request: unknown) =>
    new Promise<unknown>((resolve, reject) => kv[method]!.call(kv, request, (e, r) => (e !== null ? reject(e as Error) : resolve(r))));
  const value = Buffer.alloc(64 * 1024, 120);
  const write = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const put = (await call("put", create(rpc.PutRequestSchema, { key: Buffer.from(`big/${i % 8}`), value }))) as rpc.PutResponse;
      if (i % 200 === 199) await call("compact", create(rpc.CompactionRequestSchema, { revision: put.header!.revision - 8n }));
    }
  };
  await write(200); // warm up (and let the stalled watcher's buffers fill)
  const before = rssAnonBytes(pid);
  await write(2000); // 131 MB of values
  return rssAnonBytes(pid) - before;
}

test("a stalled watcher keeps server memory bounded (RssAnon, against the same load without a watcher)", { timeout: 300_000 }, async (t) => {
  if (process.platform !== "linux") {
    t.skip("needs /proc (Linux)");
    return;
  }
  // The server's own memory also grows under this load (Raft log until the next snapshot, engine
  // buffers), so the stalled server is compared with an identical one that has no watcher.
  const flags = ["--snapshot-count", "200"];
  const [stalledServer, plainServer] = await Promise.all([startMember("cairn", { flags }), startMember("cairn", { flags })]);
  t.after(() => stalledServer.stop());
  t.after(() => plainServer.stop());
  const { stream, received } = await stalledWatch(stalledServer.endpoint, t);
  const [stalledGrowth, plainGrowth] = await Promise.all([
    workload(stalledServer.endpoint, stalledServer.process.pid!, t),
    workload(plainServer.endpoint, plainServer.process.pid!, t),
  ]);
  t.diagnostic(`RssAnon growth with a stalled watcher ${(stalledGrowth / 1e6).toFixed(1)} MB, without ${(plainGrowth / 1e6).toFixed(1)} MB; 131 MB written`);
  assert.ok(stalledGrowth - plainGrowth < 50e6, `a stalled watcher cost ${((stalledGrowth - plainGrowth) / 1e6).toFixed(1)} MB`);

  // Reading again: the buffered responses, then the cancel for history compacted meanwhile.
  stream.resume();
  const deadline = Date.now() + 60_000;
  while (!received.some((r) => r.compactRevision > 0n) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const cancel = received.find((r) => r.compactRevision > 0n);
  assert.ok(cancel !== undefined && cancel.canceled, "the stalled watcher is canceled with compact_revision once it reads again");
  stream.cancel();
});
