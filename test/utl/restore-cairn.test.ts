/**
 * The etcd → Cairn direction end to end: a snapshot saved from a live etcd 3.4 is restored with
 * `cairnutl snapshot restore` into a Cairn data directory; `cairn` started on it serves the same
 * keys, values, revisions and HashKV as the etcd it came from, under the member and cluster IDs
 * etcd derives from the same flags, accepts writes after the restore, and keeps them across a
 * restart (the restored consistent index must not make the new Raft log skip entries).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildInitialCluster } from "../../src/utl/membership.js";
import { CAIRN_COMMAND, EtcdMember, etcdctlOk, freePort, requireEtcd, tempDir } from "../bbolt/etcd-harness.js";
import { hashKV, keyspace, runWorkload } from "../bbolt/workload.js";

const CAIRNUTL = join(import.meta.dirname, "../../src/utl/main.js");

function cairnutl(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CAIRNUTL, ...args], { encoding: "utf8" });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

test("an etcd snapshot restored with cairnutl serves the same data from cairn", async (t) => {
  if (!requireEtcd(t)) return;
  const dir = tempDir("restore-cairn");
  const members: EtcdMember[] = [];
  try {
    const source = await EtcdMember.start({ dataDir: join(dir.path, "etcd") });
    members.push(source);
    await runWorkload(source, 2000);
    const snapshot = join(dir.path, "etcd.db");
    etcdctlOk(["snapshot", "save", snapshot], { endpoint: source.clientURL });
    const want = keyspace(source);
    const wantHash = hashKV(source);

    const peerPort = await freePort();
    const peerURL = `http://127.0.0.1:${peerPort}`;
    const flags = { name: "cairn-1", initialCluster: `cairn-1=${peerURL}`, initialClusterToken: "migrated", initialAdvertisePeerURLs: peerURL };
    const dataDir = join(dir.path, "cairn");
    const restore = cairnutl([
      "snapshot", "restore", snapshot,
      `--data-dir=${dataDir}`,
      `--name=${flags.name}`,
      `--initial-cluster=${flags.initialCluster}`,
      `--initial-cluster-token=${flags.initialClusterToken}`,
      `--initial-advertise-peer-urls=${peerURL}`,
    ]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.ok(existsSync(join(dataDir, "member", "snap")));

    const start = () => EtcdMember.start({ dataDir, name: flags.name, peerPort, token: flags.initialClusterToken, command: CAIRN_COMMAND });
    let cairn = await start();
    members.push(cairn);
    assert.deepEqual(keyspace(cairn), want, "keys, values, create/mod revisions, versions, leases and the store revision");
    assert.deepEqual(hashKV(cairn), wantHash, "HashKV and compact revision");
    for (const revision of [want.revision - 150, want.revision - 1]) {
      assert.deepEqual(keyspace(cairn, [`--rev=${revision}`]), keyspace(source, [`--rev=${revision}`]), `history at ${revision}`);
    }

    const expected = buildInitialCluster(flags);
    const header = JSON.parse(cairn.etcdctl(["endpoint", "status", "-w", "json"]))[0].Status.header;
    // etcdctl prints the IDs as JSON numbers; compare their decimal text exactly.
    const raw = cairn.etcdctl(["endpoint", "status", "-w", "json"]);
    assert.match(raw, new RegExp(`"cluster_id":${expected.clusterId}\\b`));
    assert.match(raw, new RegExp(`"member_id":${expected.local.id}\\b`));
    assert.equal(header.revision, want.revision);

    // Writes continue from the snapshot's revision, and survive a restart.
    cairn.etcdctl(["put", "after-restore", "ok"]);
    const afterPut = keyspace(cairn, ["--keys-only"]);
    assert.equal(afterPut.revision, want.revision + 1);
    await cairn.stop();
    cairn = await start();
    members.push(cairn);
    assert.equal(cairn.etcdctl(["get", "after-restore", "--print-value-only"]), "ok\n");
    assert.equal(keyspace(cairn, ["--keys-only"]).revision, want.revision + 1);
  } finally {
    for (const member of members) await member.stop();
    dir.cleanup();
  }
});
