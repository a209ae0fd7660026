/**
 * Crash test: a writer keeps many puts in flight against cairn while cairn is killed with SIGKILL
 * at random moments and restarted on the same data dir; every put that was acknowledged must be
 * readable, with its value, at the end. Does not need etcd.
 *
 * SIGKILL leaves the OS page cache intact, so this checks the WAL replay, the consistent index and
 * restarts from snapshot markers, not fsync against power loss.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kvService } from "../../src/api/grpc.js";
import { PutRequestSchema, RangeRequestSchema, type PutResponse, type RangeResponse } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { freePort, startMember, type Member } from "./harness.js";

/** Restarts (and so SIGKILLs) per run; CAIRN_CRASH_KILLS overrides. */
const KILLS = Number(process.env["CAIRN_CRASH_KILLS"] ?? 20);
/** Puts kept in flight by the writer. */
const IN_FLIGHT = 16;
/** Small, so that kills also land around WAL snapshot markers and restarts start from them. */
const SNAPSHOT_COUNT = 100;
/** A kill comes this many ms (uniform) after the member is healthy. */
const MIN_KILL_DELAY_MS = 20;
const MAX_KILL_DELAY_MS = 400;

const KVClient = grpc.makeGenericClientConstructor(kvService, "KV");
type Client = InstanceType<typeof KVClient>;

function put(client: Client, key: string, value: string): Promise<PutResponse> {
  const request = create(PutRequestSchema, { key: Buffer.from(key), value: Buffer.from(value) });
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest("/etcdserverpb.KV/Put", kvService.put.requestSerialize, kvService.put.responseDeserialize, request, { deadline: Date.now() + 3000 }, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

function rangePrefix(client: Client, prefix: string): Promise<RangeResponse> {
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  const request = create(RangeRequestSchema, { key: Buffer.from(prefix), rangeEnd: end });
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest("/etcdserverpb.KV/Range", kvService.range.requestSerialize, kvService.range.responseDeserialize, request, { deadline: Date.now() + 10000 }, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

test(`every acknowledged put survives ${KILLS} SIGKILLs`, { timeout: 600_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-crash-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const acknowledged = new Map<string, string>();
  let attempted = 0;
  let member: Member | undefined;
  let seq = 0;
  try {
    for (let round = 0; round <= KILLS; round++) {
      member = await startMember("cairn", { dataDir, clientPort, peerPort, flags: ["--snapshot-count", String(SNAPSHOT_COUNT)] });
      if (round === KILLS) break;
      const client = new KVClient(member.endpoint, grpc.credentials.createInsecure());
      let running = true;
      const writer = async (): Promise<void> => {
        while (running) {
          const key = `crash/${String(seq).padStart(8, "0")}`;
          const value = `v${seq}-r${round}`;
          seq++;
          attempted++;
          try {
            await put(client, key, value);
            acknowledged.set(key, value);
          } catch {
            // Not acknowledged: may or may not be there at the end; both are correct.
          }
        }
      };
      const writers = Array.from({ length: IN_FLIGHT }, () => writer());
      const delay = MIN_KILL_DELAY_MS + Math.floor(Math.random() * (MAX_KILL_DELAY_MS - MIN_KILL_DELAY_MS));
      await new Promise((r) => setTimeout(r, delay));
      await member.kill("SIGKILL");
      running = false;
      await Promise.all(writers);
      client.close();
    }
    const client = new KVClient(member!.endpoint, grpc.credentials.createInsecure());
    const all = await rangePrefix(client, "crash/");
    client.close();
    const found = new Map(all.kvs.map((kv) => [Buffer.from(kv.key).toString(), Buffer.from(kv.value).toString()]));
    const missing = [...acknowledged].filter(([key, value]) => found.get(key) !== value);
    t.diagnostic(`kills=${KILLS} attempted=${attempted} acknowledged=${acknowledged.size} present=${found.size} missing=${missing.length}`);
    assert.ok(acknowledged.size > 0, "the writer got no acknowledgement at all");
    assert.deepEqual(missing.slice(0, 10), []);
  } finally {
    await member?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
