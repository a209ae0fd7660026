/**
 * Migration in both directions through snapshot files, with the real etcd 3.4 tools:
 *   cairn → `etcdctl snapshot save` → `etcdctl snapshot status` → `etcdctl snapshot restore` → etcd
 *   etcd → `etcdctl snapshot save` → `cairnutl snapshot restore` → cairn
 * and in each case the restored member serves the same key-values (with create/mod revisions and
 * versions), the same revision and the same HashKV (with compact revision) as the source.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireEtcd, startMember, type Member } from "./harness.js";
import { CAIRNUTL, ctlOk, hashKV, keySpace, run, runOk, seededWorkload } from "./snapshot-helpers.js";

interface SnapshotStatusJson {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/** Restores `snapshot` with `tool` into `<dir>/data` for a member named default on `peerPort`. */
async function restore(tool: string, snapshot: string, dir: string, peerPort: number): Promise<void> {
  const peer = `http://127.0.0.1:${peerPort}`;
  await runOk(tool, ["snapshot", "restore", snapshot, "--data-dir", join(dir, "data"), "--name", "default", "--initial-cluster", `default=${peer}`, "--initial-advertise-peer-urls", peer]);
}

async function assertSameState(source: Member, restored: Member): Promise<void> {
  const [a, b] = await Promise.all([keySpace(source.endpoint), keySpace(restored.endpoint)]);
  assert.ok(a.kvs.length > 0, "the workload left keys");
  assert.deepEqual(b, a, "restored member serves the same key-values and revision");
  const [ha, hb] = await Promise.all([hashKV(source.endpoint), hashKV(restored.endpoint)]);
  assert.deepEqual(hb, ha, "same HashKV, compact revision and revision");
}

test("cairn → etcd: etcdctl snapshot save from cairn, status, restore, etcd serves the same keys, revisions and HashKV", async (t) => {
  if (!requireEtcd(t)) return;
  const work = mkdtempSync(join(tmpdir(), "snap-c2e-"));
  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) await m.stop();
    rmSync(work, { recursive: true, force: true });
  });
  const cairn = await startMember("cairn");
  members.push(cairn);
  await seededWorkload(cairn.endpoint, 7, 60);

  const file = join(work, "cairn.db");
  const saved = await runOk("etcdctl", ["--endpoints", cairn.endpoint, "snapshot", "save", file]);
  assert.match(saved, /Snapshot saved at/);
  const status = JSON.parse(await runOk("etcdctl", ["snapshot", "status", file, "-w", "json"])) as SnapshotStatusJson;
  const { revision } = await keySpace(cairn.endpoint);
  assert.equal(status.revision, revision, "snapshot status reports cairn's revision");
  assert.ok(status.totalKey > 0);
  // etcdctl's file is the bbolt database plus the 32-byte sha256 trailer.
  assert.equal(statSync(file).size % 512, 32);

  const peerPort = await freePort();
  const dir = join(work, "etcd");
  await restore("etcdctl", file, dir, peerPort);
  const etcd = await startMember("etcd", { dataDir: dir, peerPort });
  members.push(etcd);
  await assertSameState(cairn, etcd);

  // The restored etcd is a working member: it takes writes at the next revision.
  await ctlOk(etcd.endpoint, ["put", "/after", "restore"]);
  assert.equal((await keySpace(etcd.endpoint)).revision, revision + 1);
});

test("cairn → etcd while writes continue: the snapshot is one consistent revision", async (t) => {
  if (!requireEtcd(t)) return;
  const work = mkdtempSync(join(tmpdir(), "snap-live-"));
  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) await m.stop();
    rmSync(work, { recursive: true, force: true });
  });
  const cairn = await startMember("cairn");
  members.push(cairn);
  // Enough data for the stream to take several chunks and event-loop turns.
  const big = "v".repeat(2000);
  for (let i = 0; i < 40; i++) await ctlOk(cairn.endpoint, ["put", `/big/${i}`, big + i]);

  let writing = true;
  let writes = 0;
  // Writes through the grpc-gateway (one HTTP request each, cheaper than an etcdctl process).
  const writer = (async () => {
    while (writing) {
      const body = JSON.stringify({ key: Buffer.from(`/live/${writes % 5}`).toString("base64"), value: Buffer.from(`w${writes}`).toString("base64") });
      const response = await fetch(`${cairn.url}/v3/kv/put`, { method: "POST", body });
      assert.equal(response.status, 200, await response.text());
      writes++;
    }
  })();
  const file = join(work, "live.db");
  // Let the writer get going, then save while it runs.
  while (writes < 3) await new Promise((r) => setTimeout(r, 10));
  await runOk("etcdctl", ["--endpoints", cairn.endpoint, "snapshot", "save", file]);
  const writesDuringSave = writes;
  while (writes < writesDuringSave + 3) await new Promise((r) => setTimeout(r, 10));
  writing = false;
  await writer;

  const status = JSON.parse(await runOk("etcdctl", ["snapshot", "status", file, "-w", "json"])) as SnapshotStatusJson;
  const now = (await keySpace(cairn.endpoint)).revision;
  assert.ok(status.revision < now, `writes continued after the snapshot (snapshot at ${status.revision}, cairn at ${now})`);

  const peerPort = await freePort();
  const dir = join(work, "etcd");
  await restore("etcdctl", file, dir, peerPort);
  const etcd = await startMember("etcd", { dataDir: dir, peerPort });
  members.push(etcd);
  // The restored state is exactly cairn's state at the snapshot's revision (headers of reads at an
  // old revision carry the current revision, so only the data and hashes are compared).
  const restored = await keySpace(etcd.endpoint);
  assert.equal(restored.revision, status.revision);
  assert.deepEqual(restored.kvs, (await keySpace(cairn.endpoint, status.revision)).kvs);
  const [he, hc] = await Promise.all([hashKV(etcd.endpoint), hashKV(cairn.endpoint, status.revision)]);
  assert.deepEqual({ hash: he.hash, compactRevision: he.compactRevision }, { hash: hc.hash, compactRevision: hc.compactRevision });
});

test("etcd → cairn: etcdctl snapshot save from etcd, cairnutl snapshot restore, cairn serves the same keys, revisions and HashKV", async (t) => {
  if (!requireEtcd(t)) return;
  const work = mkdtempSync(join(tmpdir(), "snap-e2c-"));
  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) await m.stop();
    rmSync(work, { recursive: true, force: true });
  });
  const etcd = await startMember("etcd");
  members.push(etcd);
  await seededWorkload(etcd.endpoint, 11, 60);
  const file = join(work, "etcd.db");
  await runOk("etcdctl", ["--endpoints", etcd.endpoint, "snapshot", "save", file]);

  // cairnutl status agrees with etcdctl's on the same file.
  const etcdStatus = JSON.parse(await runOk("etcdctl", ["snapshot", "status", file, "-w", "json"])) as SnapshotStatusJson;
  const cairnStatus = JSON.parse(await runOk(CAIRNUTL, ["snapshot", "status", file, "-w", "json"])) as SnapshotStatusJson;
  assert.deepEqual(cairnStatus, etcdStatus);

  const peerPort = await freePort();
  const dir = join(work, "cairn");
  const restored = await run(CAIRNUTL, ["snapshot", "restore", file, "--data-dir", join(dir, "data"), "--name", "default", "--initial-cluster", `default=http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`]);
  assert.equal(restored.code, 0, `cairnutl snapshot restore failed: ${restored.stderr}`);
  const cairn = await startMember("cairn", { dataDir: dir, peerPort });
  members.push(cairn);
  await assertSameState(etcd, cairn);
  const { revision } = await keySpace(cairn.endpoint);
  await ctlOk(cairn.endpoint, ["put", "/after", "restore"]);
  assert.equal((await keySpace(cairn.endpoint)).revision, revision + 1);
});
