/**
 * Raised alarms live in the backend's "alarm" bucket, as etcd keeps them, so that (a) a restart
 * still refuses writes under NOSPACE and (b) a WAL replay after SIGKILL sees the alarm that the
 * first apply saw. The first test is the reviewer's reproducer: with a backend batch that only
 * commits when forced, the NOSPACE alarm entry is committed by a defragment, a later put is refused
 * (the client is told it failed), the process is killed, and the restart replays that put: it must
 * be refused again, not applied. The second test restarts cairn and real etcd cleanly under NOSPACE
 * and compares what they report; the third takes a snapshot under NOSPACE and restores it (etcd
 * keeps the "alarm" bucket through snapshot restore, with the old member's ID, so the restored
 * member still refuses writes until the alarm is disarmed).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireEtcd, startMember, type Member } from "./harness.js";
import { CAIRNUTL, runOk } from "./snapshot-helpers.js";

const CAIRNCTL = join(import.meta.dirname, "../../../bin/cairnctl");

const QUOTA_BYTES = 600_000;
const VALUE_BYTES = 100_000;
const MAX_FILL_PUTS = 100;

function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}

interface Reply {
  status: number;
  body: { error?: string; message?: string; kvs?: Array<{ value?: string }>; alarms?: Array<{ alarm?: string }> };
}

/** POSTs to the member's grpc-gateway. */
async function gateway(member: Member, path: string, body: unknown): Promise<Reply> {
  const response = await fetch(`${member.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Reply["body"] };
}

function put(member: Member, key: string, value: string): Promise<Reply> {
  return gateway(member, "/v3/kv/put", { key: b64(key), value: b64(value) });
}

/**
 * Puts 100 KB values until the member refuses with NOSPACE; returns the number accepted. With
 * `commitEach`, a Hash after every put commits the backend batch so that the file grows.
 */
async function fillUntilRefused(member: Member, commitEach = false): Promise<number> {
  const value = "x".repeat(VALUE_BYTES);
  for (let i = 0; i < MAX_FILL_PUTS; i++) {
    const reply = await put(member, `fill${i % 4}`, value);
    if (commitEach) await gateway(member, "/v3/maintenance/hash", {});
    if (reply.status !== 200) {
      assert.match(reply.body.error ?? reply.body.message ?? "", /database space exceeded/);
      return i;
    }
  }
  throw new Error(`${member.kind} accepted ${MAX_FILL_PUTS} puts of ${VALUE_BYTES} bytes under a ${QUOTA_BYTES}-byte quota`);
}

/** Raised alarm types, by name. */
async function alarmList(member: Member): Promise<string[]> {
  const reply = await gateway(member, "/v3/maintenance/alarm", { action: "GET" });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return (reply.body.alarms ?? []).map((a) => a.alarm ?? "NONE");
}

/** The value of `key`, or undefined when absent. */
async function get(member: Member, key: string): Promise<string | undefined> {
  const reply = await gateway(member, "/v3/kv/range", { key: b64(key) });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const value = reply.body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, "base64").toString();
}

test("a put refused under NOSPACE stays refused when the WAL is replayed after SIGKILL", { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-alarm-replay-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const flags = [`--quota-backend-bytes=${QUOTA_BYTES}`, "--backend-batch-interval=1h", "--backend-batch-limit=100000000"];
  let member: Member | undefined;
  try {
    member = await startMember("cairn", { dataDir, clientPort, peerPort, flags });
    const accepted = await fillUntilRefused(member, true);
    assert.ok(accepted > 0);
    assert.deepEqual(await alarmList(member), ["NOSPACE"]);
    // Deletes pass the capped applier; defragment commits the batch, alarm entry included.
    assert.equal((await gateway(member, "/v3/kv/deleterange", { key: b64("fill0") })).status, 200);
    assert.equal((await gateway(member, "/v3/maintenance/defragment", {})).status, 200);
    const refused = await put(member, "resurrect", "zzz");
    assert.notEqual(refused.status, 200);
    assert.match(refused.body.error ?? refused.body.message ?? "", /database space exceeded/);
    await member.kill("SIGKILL");

    member = await startMember("cairn", { dataDir, clientPort, peerPort, flags, waitFor: "answering" });
    assert.equal(await get(member, "resurrect"), undefined, "the replay applied a put whose client was told it failed");
    assert.deepEqual(await alarmList(member), ["NOSPACE"], "the NOSPACE alarm was lost across the kill");
    assert.equal(await get(member, "fill0"), undefined, "the delete was lost");
    const again = await put(member, "resurrect", "zzz");
    assert.match(again.body.error ?? again.body.message ?? "", /database space exceeded/);
  } finally {
    await member?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** Fills `kind` to NOSPACE, stops it with SIGTERM, restarts it; returns what it reports after. */
async function restartUnderNoSpace(kind: "etcd" | "cairn"): Promise<{ alarms: string[]; put: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), `${kind}-alarm-restart-`));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const flags = [`--quota-backend-bytes=${QUOTA_BYTES}`];
  let member: Member | undefined;
  try {
    member = await startMember(kind, { dataDir, clientPort, peerPort, flags });
    await fillUntilRefused(member);
    assert.deepEqual(await alarmList(member), ["NOSPACE"]);
    member.process.kill("SIGTERM");
    await member.waitExit();
    member = await startMember(kind, { dataDir, clientPort, peerPort, flags, waitFor: "answering" });
    const alarms = await alarmList(member);
    const reply = await put(member, "after-restart", "v");
    return { alarms, put: reply.status === 200 ? "ok" : (reply.body.error ?? reply.body.message ?? `status ${reply.status}`) };
  } finally {
    await member?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test("the NOSPACE alarm survives a clean restart, as in etcd", { timeout: 120_000 }, async (t) => {
  const cairn = await restartUnderNoSpace("cairn");
  assert.deepEqual(cairn.alarms, ["NOSPACE"]);
  assert.match(cairn.put, /database space exceeded/);
  if (!requireEtcd(t)) return;
  const etcd = await restartUnderNoSpace("etcd");
  assert.deepEqual(cairn, etcd);
});

/**
 * Fills `kind` to NOSPACE, saves a snapshot, restores it into a new data dir with the kind's own
 * tools (etcdctl or cairnctl + cairnutl) and starts a member there; returns what it reports.
 */
async function restoreUnderNoSpace(kind: "etcd" | "cairn"): Promise<{ alarms: string[]; put: string }> {
  const work = mkdtempSync(join(tmpdir(), `${kind}-alarm-snapshot-`));
  const flags = [`--quota-backend-bytes=${QUOTA_BYTES}`];
  let member: Member | undefined;
  try {
    member = await startMember(kind, { flags });
    await fillUntilRefused(member);
    const snapshot = join(work, "snapshot.db");
    const ctl = kind === "etcd" ? "etcdctl" : CAIRNCTL;
    await runOk(ctl, ["--endpoints", member.endpoint, "snapshot", "save", snapshot]);
    await member.stop();
    member = undefined;
    const peerPort = await freePort();
    const peer = `http://127.0.0.1:${peerPort}`;
    const restored = join(work, "restored");
    await runOk(kind === "etcd" ? "etcdctl" : CAIRNUTL, ["snapshot", "restore", snapshot, "--data-dir", join(restored, "data"), "--name", "default", "--initial-cluster", `default=${peer}`, "--initial-advertise-peer-urls", peer]);
    member = await startMember(kind, { dataDir: restored, peerPort, flags, waitFor: "answering" });
    const alarms = await alarmList(member);
    const reply = await put(member, "after-restore", "v");
    return { alarms, put: reply.status === 200 ? "ok" : (reply.body.error ?? reply.body.message ?? `status ${reply.status}`) };
  } finally {
    await member?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

test("a snapshot taken under NOSPACE restores with the alarm raised, as etcd's does", { timeout: 120_000 }, async (t) => {
  const cairn = await restoreUnderNoSpace("cairn");
  assert.deepEqual(cairn.alarms, ["NOSPACE"]);
  assert.match(cairn.put, /database space exceeded/);
  if (!requireEtcd(t)) return;
  assert.deepEqual(cairn, await restoreUnderNoSpace("etcd"));
});
