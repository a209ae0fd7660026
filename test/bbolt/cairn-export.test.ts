/**
 * The Cairn → etcd direction with a real Cairn member: keys written to `cairn`, its backend
 * exported offline into an etcd snapshot file, the file checked by etcdctl and restored into etcd,
 * which then serves the same keys, history and HashKV as the Cairn member did.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { exportBackendSnapshot } from "../../src/storage/bbolt/snapshot-file.js";
import { CAIRN_COMMAND, EtcdMember, etcdctl, etcdctlOk, freePort, putMany, requireEtcd, tempDir } from "./etcd-harness.js";
import { hashKV, keyspace } from "./workload.js";

const CAIRNUTL = join(import.meta.dirname, "../../src/utl/main.js");

test("a Cairn member's backend exported as a snapshot restores into etcd with the same data", async (t) => {
  if (!requireEtcd(t)) return;
  const dir = tempDir("cairn-export");
  const members: EtcdMember[] = [];
  try {
    const cairnDir = join(dir.path, "cairn");
    const cairn = await EtcdMember.start({ dataDir: cairnDir, command: CAIRN_COMMAND });
    members.push(cairn);
    await putMany(cairn.clientURL, Array.from({ length: 1500 }, (_, i) => [`/app/${i % 13}/item-${i}`, `v${i}-${"y".repeat(i % 70)}`] as [string, string]), 8);
    await putMany(cairn.clientURL, Array.from({ length: 200 }, (_, i) => [`/app/${i % 13}/item-${i}`, `second-${i}`] as [string, string]));
    cairn.etcdctl(["del", "--prefix", "/app/5/"]);
    cairn.etcdctl(["put", "large", "z".repeat(50_000)]);
    const revision = keyspace(cairn).revision;
    cairn.etcdctl(["compact", String(revision - 100)]);
    cairn.etcdctl(["put", "last", "1"]);
    const want = keyspace(cairn);
    const wantHistory = keyspace(cairn, [`--rev=${revision - 50}`]);
    const wantHash = hashKV(cairn);
    await cairn.stop();

    const snapshot = join(dir.path, "cairn.db");
    const backend = new LmdbBackend({ path: join(cairnDir, "member", "snap") });
    try {
      exportBackendSnapshot(backend, snapshot);
    } finally {
      await backend.close();
    }

    for (const format of ["simple", "table", "json", "fields"]) {
      const theirs = etcdctl(["snapshot", "status", snapshot, "-w", format]);
      assert.equal(theirs.status, 0, theirs.stderr);
      const ours = spawnSync(process.execPath, [CAIRNUTL, "snapshot", "status", snapshot, "-w", format], { encoding: "utf8" });
      assert.equal(ours.stdout, theirs.stdout, `status -w ${format}`);
    }

    const peerPort = await freePort();
    const peerURL = `http://127.0.0.1:${peerPort}`;
    const etcdDir = join(dir.path, "etcd");
    etcdctlOk(["snapshot", "restore", snapshot, `--data-dir=${etcdDir}`, "--name=e", `--initial-cluster=e=${peerURL}`, `--initial-advertise-peer-urls=${peerURL}`]);
    const etcd = await EtcdMember.start({ dataDir: etcdDir, name: "e", peerPort });
    members.push(etcd);
    assert.deepEqual(keyspace(etcd), want);
    assert.deepEqual(keyspace(etcd, [`--rev=${revision - 50}`]), wantHistory);
    assert.deepEqual(hashKV(etcd), wantHash);
  } finally {
    for (const member of members) await member.stop();
    dir.cleanup();
  }
});
