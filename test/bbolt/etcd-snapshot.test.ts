/**
 * Differential tests against real etcd 3.4: a snapshot saved from a live etcd is read by Cairn's
 * reader, its status printed by cairnutl byte for byte as etcdctl prints it, and rewritten by
 * Cairn's writer into a file that `etcdctl snapshot restore` accepts and that a restored etcd serves
 * with the same keys, values, revisions, leases and HashKV as the original.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BboltReader, decodeBucketValue } from "../../src/storage/bbolt/reader.js";
import { checkSnapshotHash, snapshotStatus, writeSnapshotFile } from "../../src/storage/bbolt/snapshot-file.js";
import { FileSource } from "../../src/storage/bbolt/source.js";
import { EtcdMember, etcdctl, etcdctlOk, freePort, requireEtcd, tempDir } from "./etcd-harness.js";
import { hashKV, keyspace, runWorkload } from "./workload.js";

const CAIRNUTL = join(import.meta.dirname, "../../src/utl/main.js");
const FORMATS = ["simple", "table", "json", "fields"];

function cairnutl(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CAIRNUTL, ...args], { encoding: "utf8" });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function leases(member: EtcdMember): string {
  return member.etcdctl(["lease", "list"]);
}

/** Copies every bucket of a bbolt file through Cairn's reader and writer into a new snapshot file. */
function rewriteSnapshot(from: string, to: string): void {
  const source = new FileSource(from, checkSnapshotHash(from).dbSizeBytes);
  try {
    const reader = BboltReader.open(source);
    reader.check();
    writeSnapshotFile(to, (writer) => {
      for (const bucket of reader.entries(reader.rootBucket())) {
        const ref = decodeBucketValue(bucket.value);
        writer.beginBucket(bucket.key, ref.sequence);
        for (const entry of reader.entries(ref)) writer.put(entry.key, entry.value);
        writer.endBucket();
      }
    });
  } finally {
    source.close();
  }
}

/** Restores a snapshot with etcdctl into a new data dir and starts etcd on it. */
async function restoreAndStart(snapshot: string, dataDir: string): Promise<EtcdMember> {
  const peerPort = await freePort();
  const peerURL = `http://127.0.0.1:${peerPort}`;
  etcdctlOk([
    "snapshot", "restore", snapshot,
    `--data-dir=${dataDir}`,
    "--name=restored",
    `--initial-cluster=restored=${peerURL}`,
    `--initial-advertise-peer-urls=${peerURL}`,
    "--initial-cluster-token=cairn-roundtrip",
  ]);
  return EtcdMember.start({ dataDir, name: "restored", peerPort, token: "cairn-roundtrip" });
}

test("snapshots of real etcd: status byte for byte, and a round trip through Cairn's writer", async (t) => {
  if (!requireEtcd(t)) return;
  const dir = tempDir("etcd-snapshot");
  const members: EtcdMember[] = [];
  try {
    const original = await EtcdMember.start({ dataDir: join(dir.path, "original") });
    members.push(original);
    await runWorkload(original);
    const saved = join(dir.path, "saved.db");
    etcdctlOk(["snapshot", "save", saved], { endpoint: original.clientURL });
    const rewritten = join(dir.path, "rewritten.db");
    rewriteSnapshot(saved, rewritten);

    await t.test("cairnutl snapshot status prints what etcdctl prints, in every format", () => {
      for (const file of [saved, rewritten]) {
        for (const format of FORMATS) {
          const expected = etcdctl(["snapshot", "status", file, "-w", format]);
          const actual = cairnutl(["snapshot", "status", file, "-w", format]);
          assert.equal(expected.status, 0, expected.stderr);
          assert.equal(actual.stdout, expected.stdout, `${file} -w ${format}`);
          assert.equal(actual.status, expected.status);
        }
      }
    });

    await t.test("the rewritten file has a valid trailer and the same hash, revision and keys", () => {
      assert.ok(checkSnapshotHash(rewritten).matches);
      const before = snapshotStatus(saved);
      const after = snapshotStatus(rewritten);
      assert.deepEqual({ ...after, totalSize: 0 }, { ...before, totalSize: 0 });
      assert.ok(after.revision > 4000n);
      assert.ok(after.totalSize <= before.totalSize, `compact: ${after.totalSize} <= ${before.totalSize}`);
    });

    await t.test("etcd restored from the rewritten file serves the same keys, revisions, leases and HashKV", async () => {
      const restored = await restoreAndStart(rewritten, join(dir.path, "restored"));
      members.push(restored);
      const want = keyspace(original);
      const got = keyspace(restored);
      assert.equal(got.revision, want.revision);
      assert.equal(got.kvs.length, want.kvs.length);
      assert.deepEqual(got.kvs, want.kvs);
      assert.deepEqual(hashKV(restored), hashKV(original));
      assert.equal(leases(restored), leases(original));
      // The restored member accepts writes on top of the rewritten file.
      restored.etcdctl(["put", "after-restore", "ok"]);
      assert.equal(restored.etcdctl(["get", "after-restore", "--print-value-only"]), "ok\n");
    });
  } finally {
    for (const member of members) await member.stop();
    dir.cleanup();
  }
});

test("files written by Cairn pass bbolt's own checks and etcdctl computes the same status", async (t) => {
  if (!requireEtcd(t)) return;
  const dir = tempDir("cairn-written");
  try {
    const revisionKey = (main: number) => {
      const key = Buffer.alloc(17);
      key.writeBigInt64BE(BigInt(main), 0);
      key[8] = 0x5f;
      return key;
    };
    const file = join(dir.path, "synthetic.db");
    writeSnapshotFile(file, (writer) => {
      writer.beginBucket("alarm");
      writer.endBucket();
      // Keys larger than a page: one leaf per key, branch pages spanning overflow pages.
      writer.beginBucket("bigkeys");
      for (let i = 0; i < 41; i++) writer.put(Buffer.alloc(5000, 0x41 + i), Buffer.from([i]));
      writer.endBucket();
      writer.beginBucket("key");
      // 40,000 keys: three B+tree levels; every 997th value spans overflow pages.
      for (let rev = 1; rev <= 40_000; rev++) writer.put(revisionKey(rev), Buffer.alloc(rev % 997 === 0 ? 9000 : 60, rev & 0xff));
      writer.endBucket();
      writer.beginBucket("meta");
      writer.put(Buffer.from("consistent_index"), Buffer.alloc(8));
      writer.endBucket();
    });
    for (const format of FORMATS) {
      const expected = etcdctl(["snapshot", "status", file, "-w", format]);
      assert.equal(expected.status, 0, expected.stderr);
      assert.equal(cairnutl(["snapshot", "status", file, "-w", format]).stdout, expected.stdout);
    }
    assert.equal(snapshotStatus(file).revision, 40_000n);

    // Sizes whose human form is a tie under %.0f (20.5 kB, 65.5 kB): Go rounds half to even.
    for (const [name, valueBytes] of [["five-pages.db", 2000], ["sixteen-pages.db", 4096 * 11 + 100]] as const) {
      const small = join(dir.path, name);
      writeSnapshotFile(small, (writer) => {
        writer.beginBucket("key");
        writer.put(revisionKey(1), Buffer.alloc(valueBytes));
        writer.endBucket();
      });
      const expected = etcdctl(["snapshot", "status", small]);
      assert.equal(cairnutl(["snapshot", "status", small]).stdout, expected.stdout, name);
    }
  } finally {
    dir.cleanup();
  }
});
