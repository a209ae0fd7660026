/**
 * Differential test at the gRPC level: Watch, Lease, Lock and Election against real etcd 3.4.23 and
 * against cairn, every response compared as JSON (cluster/member IDs and terms normalized).
 * Covers: created/canceled control responses, client-chosen and duplicate watch IDs, empty
 * ranges, NOPUT/NODELETE, prev_kv, one txn's events together in revision order, progress
 * requests, cancel, history catch-up, a watcher whose start revision is compacted (compact_revision
 * + cancel) while a live watcher carries on, 1,000 watchers on one stream, lease grant with an ID
 * (and its duplicate), keep-alive, time-to-live with keys, lease expiry deleting keys while a
 * watcher sees the DELETE events, the Lock and Election services.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create, toJsonString, type DescMessage } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { electionService, kvService, leaseService, lockService, watchService } from "../../src/api/grpc.js";
import {
  LeaseKeepAliveResponseSchema,
  TxnRequestSchema,
  WatchCreateRequest_FilterType,
  WatchRequestSchema,
  WatchResponseSchema,
  type WatchResponse,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { LeaderResponseSchema } from "../../src/api/gen/v3electionpb/v3election_pb.js";
import { requireEtcd, startMember } from "./harness.js";
import * as rpc from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import * as lockpb from "../../src/api/gen/v3lockpb/v3lock_pb.js";
import * as electionpb from "../../src/api/gen/v3electionpb/v3election_pb.js";

const REQUEST_SCHEMAS: Record<string, DescMessage> = {
  put: rpc.PutRequestSchema,
  txn: rpc.TxnRequestSchema,
  deleteRange: rpc.DeleteRangeRequestSchema,
  compact: rpc.CompactionRequestSchema,
  leaseGrant: rpc.LeaseGrantRequestSchema,
  leaseRevoke: rpc.LeaseRevokeRequestSchema,
  leaseTimeToLive: rpc.LeaseTimeToLiveRequestSchema,
  leaseLeases: rpc.LeaseLeasesRequestSchema,
  lock: lockpb.LockRequestSchema,
  unlock: lockpb.UnlockRequestSchema,
  campaign: electionpb.CampaignRequestSchema,
  proclaim: electionpb.ProclaimRequestSchema,
  leader: electionpb.LeaderRequestSchema,
  resign: electionpb.ResignRequestSchema,
};

const enc = (s: string): Uint8Array => Buffer.from(s);
type Unary = (request: unknown, callback: (err: grpc.ServiceError | null, response?: unknown) => void) => void;
type AnyClient = grpc.Client & Record<string, Unary>;

function clients(endpoint: string) {
  const make = (def: grpc.ServiceDefinition, name: string) => {
    const Ctor = grpc.makeGenericClientConstructor(def, name);
    return new Ctor(endpoint, grpc.credentials.createInsecure()) as unknown as AnyClient;
  };
  return {
    kv: make(kvService as unknown as grpc.ServiceDefinition, "KV"),
    watch: make(watchService as unknown as grpc.ServiceDefinition, "Watch"),
    lease: make(leaseService as unknown as grpc.ServiceDefinition, "Lease"),
    lock: make(lockService as unknown as grpc.ServiceDefinition, "Lock"),
    election: make(electionService as unknown as grpc.ServiceDefinition, "Election"),
  };
}

function call(client: AnyClient, method: string, request: unknown): Promise<unknown> {
  const schema = REQUEST_SCHEMAS[method];
  assert.ok(schema !== undefined, method);
  const message = create(schema, request as never);
  return new Promise((resolve) => {
    client[method]!.call(client, message, (err, response) => resolve(err !== null ? { rpcError: { code: err.code, details: err.details } } : response));
  });
}

function json(schema: DescMessage, message: unknown): string {
  if (typeof message === "object" && message !== null && "rpcError" in message) return JSON.stringify(message);
  return toJsonString(schema, message as never)
    .replace(/"(clusterId|memberId|raftTerm)":"\d+"/g, '"$1":"<$1>"');
}

/** A watch stream that records responses and lets the script wait for the next `n`. */
class WatchSession {
  readonly stream: grpc.ClientDuplexStream<unknown, WatchResponse>;
  private readonly received: WatchResponse[] = [];
  private waiter: (() => void) | undefined;
  constructor(client: AnyClient) {
    this.stream = (client as unknown as { watch: () => grpc.ClientDuplexStream<unknown, WatchResponse> }).watch();
    this.stream.on("data", (r: WatchResponse) => {
      this.received.push(r);
      this.waiter?.();
    });
    this.stream.on("error", () => undefined);
  }
  send(init: Parameters<typeof create<typeof WatchRequestSchema>>[1]): void {
    this.stream.write(create(WatchRequestSchema, init));
  }
  /** The next `n` responses, stably sorted by watch ID (their order across watchers is timing). */
  async next(n: number, timeoutMs = 15_000): Promise<WatchResponse[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
    const batch = this.received.splice(0, n);
    return batch.sort((a, b) => (a.watchId < b.watchId ? -1 : a.watchId > b.watchId ? 1 : 0));
  }
  /** Waits a little and returns whatever else arrived (expected: nothing). */
  async extra(waitMs = 300): Promise<WatchResponse[]> {
    await new Promise((r) => setTimeout(r, waitMs));
    return this.received.splice(0);
  }
}

async function scenario(endpoint: string): Promise<string[]> {
  const c = clients(endpoint);
  const log: string[] = [];
  const watchLog = (label: string, rs: WatchResponse[]) => log.push(`${label}: ${rs.map((r) => json(WatchResponseSchema, r)).join("\n")}`);
  const put = (key: string, value: string, lease = 0n) => call(c.kv, "put", { key: enc(key), value: enc(value), lease });
  const txnPuts = (kvs: Array<[string, string]>) =>
    call(c.kv, "txn", create(TxnRequestSchema, { success: kvs.map(([k, v]) => ({ request: { case: "requestPut" as const, value: { key: enc(k), value: enc(v) } } })) }));

  // ---- one stream, several watchers ----
  const w = new WatchSession(c.watch);
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("a"), rangeEnd: enc("b") } } });
  watchLog("create auto", await w.next(1));
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("b"), watchId: 100n, prevKv: true, filters: [WatchCreateRequest_FilterType.NOPUT] } } });
  watchLog("create id 100, NOPUT, prev_kv", await w.next(1));
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("b"), watchId: 100n } } });
  watchLog("duplicate id", await w.next(1));
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("z"), rangeEnd: enc("a") } } });
  watchLog("empty range", await w.next(1));
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("a"), rangeEnd: enc("c"), watchId: 7n, filters: [WatchCreateRequest_FilterType.NODELETE] } } });
  watchLog("create id 7 NODELETE", await w.next(1));
  await txnPuts([["a1", "x"], ["b", "y"], ["a2", "z"]]);
  watchLog("txn a1,b,a2", await w.next(2));
  await call(c.kv, "deleteRange", { key: enc("a"), rangeEnd: enc("c") });
  watchLog("delete a..c", await w.next(2));
  w.send({ requestUnion: { case: "progressRequest", value: {} } });
  watchLog("progress request", await w.next(1));
  w.send({ requestUnion: { case: "cancelRequest", value: { watchId: 100n } } });
  watchLog("cancel 100", await w.next(1));
  w.send({ requestUnion: { case: "cancelRequest", value: { watchId: 555n } } });
  watchLog("cancel unknown (no answer)", await w.extra());
  // History from revision 2, then live.
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("a"), rangeEnd: enc("b"), startRevision: 2n, prevKv: true } } });
  watchLog("history from 2", await w.next(2));
  // Compaction: a watcher behind it is canceled with compact_revision; the live ones carry on.
  for (let i = 0; i < 3; i++) await put("a1", `v${i}`);
  watchLog("three puts", await w.next(9));
  log.push("compact 5: " + json(rpc.CompactionResponseSchema, await call(c.kv, "compact", { revision: 5n })));
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("a"), rangeEnd: enc("b"), startRevision: 3n } } });
  watchLog("watch below the compaction", await w.next(2));
  w.send({ requestUnion: { case: "createRequest", value: { key: enc("a1"), startRevision: 5n } } });
  watchLog("watch at the compaction revision", await w.next(2));
  await put("a1", "after-compaction");
  watchLog("put after compaction", await w.next(4));
  w.stream.cancel();

  // ---- 1,000 watchers on one stream ----
  const many = new WatchSession(c.watch);
  for (let i = 0; i < 1000; i++) many.send({ requestUnion: { case: "createRequest", value: { key: enc(`m/${i % 10}`), watchId: BigInt(i + 1) } } });
  const created = await many.next(1000);
  log.push(`1000 creates: ${created.filter((r) => r.created && !r.canceled).length} created, ids ${created[0]?.watchId}..${created.at(-1)?.watchId}`);
  await txnPuts(Array.from({ length: 10 }, (_, i) => [`m/${i}`, `v${i}`] as [string, string]));
  const fanout = await many.next(1000);
  log.push(`1000 watchers: ${fanout.length} responses; ` + fanout.map((r) => `${r.watchId}:${r.events.map((e) => Buffer.from(e.kv!.key).toString()).join("+")}@${r.header?.revision}`).join(" "));
  watchLog("1000 watchers extra", await many.extra());
  many.stream.cancel();

  // ---- leases ----
  log.push("grant 8888 ttl 9000000001: " + json(leaseGrantOut, await call(c.lease, "leaseGrant", { ID: 8888n, TTL: 9000000001n })));
  log.push("grant 8888 ttl 60: " + json(leaseGrantOut, await call(c.lease, "leaseGrant", { ID: 8888n, TTL: 60n })));
  log.push("revoke 4242: " + json(rpc.LeaseRevokeResponseSchema, await call(c.lease, "leaseRevoke", { ID: 4242n })));
  log.push("ttl 4242: " + json(ttlOut, await call(c.lease, "leaseTimeToLive", { ID: 4242n, keys: true })));
  log.push("leases: " + json(leasesOut, await call(c.lease, "leaseLeases", {})));
  const ka = (c.lease as unknown as { leaseKeepAlive: () => grpc.ClientDuplexStream<unknown, unknown> }).leaseKeepAlive();
  const kaResponses: unknown[] = [];
  ka.on("data", (r) => kaResponses.push(r));
  ka.on("error", () => undefined);
  ka.write(create(rpc.LeaseKeepAliveRequestSchema, { ID: 8888n }));
  ka.write(create(rpc.LeaseKeepAliveRequestSchema, { ID: 4242n }));
  for (let i = 0; i < 400 && kaResponses.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  log.push("keepalive: " + kaResponses.map((r) => json(LeaseKeepAliveResponseSchema, r)).join(" "));
  ka.cancel();
  // Expiry: keys on lease 7777 (2 s after the minimum rule) disappear in one revision; a watcher sees it.
  const lw = new WatchSession(c.watch);
  lw.send({ requestUnion: { case: "createRequest", value: { key: enc("exp/"), rangeEnd: enc("exp0"), prevKv: true } } });
  watchLog("lease watcher", await lw.next(1));
  // Granted just before its keys are put: the 2 s lease must not expire before the puts and the
  // TTL call, which a loaded machine could not promise when a dozen calls came in between.
  log.push("grant 7777 ttl 1: " + json(leaseGrantOut, await call(c.lease, "leaseGrant", { ID: 7777n, TTL: 1n })));
  log.push("grant 7777 again: " + json(leaseGrantOut, await call(c.lease, "leaseGrant", { ID: 7777n, TTL: 10n })));
  for (const k of ["exp/1", "exp/2", "exp/3"]) await put(k, "v", 7777n);
  watchLog("leased puts", await lw.next(3));
  log.push("ttl 7777 keys: " + json(ttlOut, await call(c.lease, "leaseTimeToLive", { ID: 7777n, keys: true })).replace(/"TTL":"\d+"/, '"TTL":"<remaining>"').replace(/"keys":\[([^\]]*)\]/, (_m, keys: string) => `"keys":[${keys.split(",").sort().join(",")}]`)); // etcd lists keys in Go map order
  watchLog("expiry", await lw.next(1, 20_000));
  log.push("ttl 7777 after expiry: " + json(ttlOut, await call(c.lease, "leaseTimeToLive", { ID: 7777n })));
  lw.stream.cancel();

  // ---- Lock ----
  const zero = (await call(c.lock, "lock", { name: enc("L") })) as { key: Uint8Array };
  log.push("lock with lease 0 (a 60 s session lease is granted): " + json(lockOut, zero).replace(/"key":"[^"]*"/, '"key":"<L/session lease>"'));
  log.push("leases: " + json(leasesOut, await call(c.lease, "leaseLeases", {})).replace(/\{"ID":"\d{10,}"\}/, '{"ID":"<session>"}'));
  log.push("unlock it: " + json(unlockOut, await call(c.lock, "unlock", { key: zero.key })));
  const first = await call(c.lock, "lock", { name: enc("L"), lease: 8888n });
  log.push("lock: " + json(lockOut, first));
  await call(c.lease, "leaseGrant", { ID: 9999n, TTL: 60n });
  let secondDone = false;
  const second = call(c.lock, "lock", { name: enc("L"), lease: 9999n }).then((r) => ((secondDone = true), r));
  await new Promise((r) => setTimeout(r, 500));
  log.push(`second lock waiting: ${!secondDone}`);
  log.push("unlock: " + json(unlockOut, await call(c.lock, "unlock", { key: (first as { key: Uint8Array }).key })));
  log.push("second lock: " + json(lockOut, await second));

  // ---- Election ----
  log.push("leader (none): " + json(LeaderResponseSchema, await call(c.election, "leader", { name: enc("E") })));
  const campaign = (await call(c.election, "campaign", { name: enc("E"), lease: 8888n, value: enc("one") })) as { leader: unknown };
  log.push("campaign: " + json(campaignOut, campaign));
  log.push("leader: " + json(LeaderResponseSchema, await call(c.election, "leader", { name: enc("E") })));
  const observe = (c.election as unknown as { observe: (r: unknown) => grpc.ClientReadableStream<unknown> }).observe(create(electionpb.LeaderRequestSchema, { name: enc("E") }));
  const observed: unknown[] = [];
  observe.on("data", (r) => observed.push(r));
  observe.on("error", () => undefined);
  for (let i = 0; i < 400 && observed.length < 1; i++) await new Promise((r) => setTimeout(r, 50));
  log.push("proclaim: " + json(proclaimOut, await call(c.election, "proclaim", { leader: campaign.leader, value: enc("two") })));
  for (let i = 0; i < 400 && observed.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  log.push("observed: " + observed.map((r) => json(LeaderResponseSchema, r)).join(" "));
  observe.cancel();
  log.push("proclaim without leader: " + json(proclaimOut, await call(c.election, "proclaim", { value: enc("x") })));
  log.push("proclaim stale: " + json(proclaimOut, await call(c.election, "proclaim", { leader: { ...(campaign.leader as object), rev: 1n }, value: enc("x") })));
  log.push("resign: " + json(resignOut, await call(c.election, "resign", { leader: campaign.leader })));
  log.push("leader after resign: " + json(LeaderResponseSchema, await call(c.election, "leader", { name: enc("E") })));

  for (const client of Object.values(c)) client.close();
  return log;
}

import {
  LeaseGrantResponseSchema as leaseGrantOut,
  LeaseLeasesResponseSchema as leasesOut,
  LeaseTimeToLiveResponseSchema as ttlOut,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { LockResponseSchema as lockOut, UnlockResponseSchema as unlockOut } from "../../src/api/gen/v3lockpb/v3lock_pb.js";
import {
  CampaignResponseSchema as campaignOut,
  ProclaimResponseSchema as proclaimOut,
  ResignResponseSchema as resignOut,
} from "../../src/api/gen/v3electionpb/v3election_pb.js";

test("gRPC Watch / Lease / Lock / Election: cairn answers as etcd 3.4 does", { timeout: 180_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  const etcd = await startMember("etcd");
  t.after(() => etcd.stop());
  const cairn = await startMember("cairn");
  t.after(() => cairn.stop());
  const [want, got] = await Promise.all([scenario(etcd.endpoint), scenario(cairn.endpoint)]);
  if (process.env["DUMP_TRANSCRIPT"] !== undefined) process.stderr.write(`ETCD:\n${want.join("\n")}\nCAIRN:\n${got.join("\n")}\n`);
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.equal(got[i], want[i], `step ${i}`);
  t.diagnostic(`${want.length} steps compared`);
});
