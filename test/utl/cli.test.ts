/**
 * cairnutl's command line: help, exit codes and error messages on bad input, compared with
 * etcdctl 3.4 where etcdctl gives a defined answer (it crashes on some corrupt files; cairnutl
 * must instead report a clear error), and restore's promise to write nothing when it fails.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../src/utl/cli.js";
import type { RestorePlan, RestoreTarget } from "../../src/utl/snapshot-restore.js";
import { etcdctl, requireEtcd, tempDir } from "../bbolt/etcd-harness.js";
import { writeSnapshotFile } from "../../src/storage/bbolt/snapshot-file.js";
import { keyValueProto, revisionKey, writeFixtureSnapshot } from "./fixtures.js";

const CAIRNUTL = join(import.meta.dirname, "../../src/utl/main.js");

async function cairnutl(args: string[], restoreTarget?: RestoreTarget): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await run(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) }, { restoreTarget });
  return { status, stdout, stderr };
}

/** A directory with a good snapshot and broken variants of it. */
function makeFiles(dir: string): Record<string, string> {
  const good = join(dir, "good.db");
  writeFixtureSnapshot(good, 400);
  const size = readFileSync(good).length;
  const files: Record<string, string> = { good, missing: join(dir, "missing.db") };
  files.empty = join(dir, "empty.db");
  writeFileSync(files.empty, "");
  files.tiny = join(dir, "tiny.db");
  writeFileSync(files.tiny, readFileSync(good).subarray(0, 100));
  files.garbage = join(dir, "garbage.db");
  writeFileSync(files.garbage, Buffer.alloc(8192, 0x5a));
  files.truncated = join(dir, "truncated.db");
  copyFileSync(good, files.truncated);
  truncateSync(files.truncated, Math.floor(size / 2));
  files.noHash = join(dir, "nohash.db");
  copyFileSync(good, files.noHash);
  truncateSync(files.noHash, size - 32);
  files.badHash = join(dir, "badhash.db");
  const bad = readFileSync(good);
  bad[size - 5] = bad[size - 5]! ^ 0xff;
  writeFileSync(files.badHash, bad);
  files.corrupt = join(dir, "corrupt.db");
  const corrupt = readFileSync(good);
  // Scramble the element table of the last data page before the freelist.
  const pages = Math.floor((size - 32) / 4096);
  corrupt.fill(0xee, (pages - 3) * 4096 + 16, (pages - 3) * 4096 + 48);
  writeFileSync(files.corrupt, corrupt);
  return files;
}

test("help and usage errors", async () => {
  for (const args of [[], ["--help"], ["help"], ["snapshot"], ["snapshot", "status", "--help"], ["snapshot", "restore", "-h"], ["help", "snapshot"]]) {
    const result = await cairnutl(args);
    assert.equal(result.status, 0, args.join(" "));
    assert.match(result.stdout, /USAGE:/);
  }
  assert.match((await cairnutl(["snapshot", "restore", "--help"])).stdout, /--initial-cluster-token="etcd-cluster"/);
  assert.equal((await cairnutl(["frobnicate"])).status, 128);
  assert.equal((await cairnutl(["snapshot", "frobnicate"])).status, 128);
  const unknownFlag = await cairnutl(["snapshot", "status", "--nope", "x"]);
  assert.deepEqual([unknownFlag.status, unknownFlag.stderr], [1, "Error: unknown flag: --nope\n"]);
});

test("status errors: the same message and exit code as etcdctl where etcdctl has one", async (t) => {
  const dir = tempDir("utl-status");
  try {
    const files = makeFiles(dir.path);
    const cases: [string, string[]][] = [
      ["no argument", ["snapshot", "status"]],
      ["two arguments", ["snapshot", "status", files.good!, files.good!]],
      ["protobuf format", ["snapshot", "status", files.good!, "-w", "protobuf"]],
      ["unknown format", ["snapshot", "status", files.good!, "--write-out=yaml"]],
      ["missing file", ["snapshot", "status", files.missing!]],
      ["tiny file", ["snapshot", "status", files.tiny!]],
      ["garbage", ["snapshot", "status", files.garbage!]],
      ["good file", ["snapshot", "status", files.good!, "-w=table"]],
      ["bad trailer (status ignores it)", ["snapshot", "status", files.badHash!, "-w", "json"]],
    ];
    const expectations = new Map<string, { status: number; stdout: string; stderr: string }>([
      ["no argument", { status: 128, stdout: "", stderr: "Error: snapshot status requires exactly one argument\n" }],
      ["protobuf format", { status: 4, stdout: "", stderr: "Error: protobuf not supported as output format\n" }],
      ["unknown format", { status: 4, stdout: "", stderr: "Error: unsupported output format\n" }],
      ["missing file", { status: 1, stdout: "", stderr: `Error: stat ${files.missing}: no such file or directory\n` }],
      ["tiny file", { status: 1, stdout: "", stderr: "Error: invalid database\n" }],
    ]);
    const haveEtcd = requireEtcd(t);
    for (const [name, args] of cases) {
      const ours = await cairnutl(args);
      const expected = expectations.get(name);
      if (expected !== undefined) assert.deepEqual(ours, expected, name);
      if (haveEtcd) {
        const theirs = etcdctl(args);
        assert.equal(ours.status, theirs.status, `${name}: exit code`);
        assert.equal(ours.stdout, theirs.stdout, `${name}: stdout`);
        assert.equal(ours.stderr, theirs.stderr.split("\n").filter((l) => l.startsWith("Error:")).join("\n") + (ours.stderr === "" ? "" : "\n"), `${name}: stderr`);
      }
    }
    // etcdctl crashes (Go panic, exit 2) or fails oddly on these; cairnutl gives a clear error.
    assert.deepEqual(await cairnutl(["snapshot", "status", files.empty!]), { status: 1, stdout: "", stderr: "Error: file size too small (0 bytes)\n" });
    const truncated = await cairnutl(["snapshot", "status", files.truncated!]);
    assert.equal(truncated.status, 1);
    assert.match(truncated.stderr, /^Error: truncated database: file is \d+ bytes but the database claims \d+ pages of 4096 bytes\n$/);
    const corrupt = await cairnutl(["snapshot", "status", files.corrupt!]);
    assert.equal(corrupt.status, 1);
    assert.match(corrupt.stderr, /^Error: snapshot file integrity check failed\. 1 errors found\.\npage \d+: /);
  } finally {
    dir.cleanup();
  }
});

test("the bin entry point exits with the command's code", () => {
  const result = spawnSync(process.execPath, [CAIRNUTL, "snapshot", "status", "/nonexistent/x.db"], { encoding: "utf8" });
  assert.equal(result.status, 1);
  assert.equal(result.stderr, "Error: stat /nonexistent/x.db: no such file or directory\n");
});

/** A restore target that records what it was asked to write and writes a marker file. */
class RecordingTarget implements RestoreTarget {
  buckets = new Map<string, [string, string][]>();
  constructor(private readonly failAfterWriting = false) {}
  write(plan: RestorePlan, dataDir: string, walDir: string): void {
    for (const bucket of plan.buckets()) {
      this.buckets.set(bucket.name, [...bucket.entries].map((e) => [Buffer.from(e.key).toString("latin1"), Buffer.from(e.value).toString("latin1")]));
    }
    writeFileSync(join(dataDir, "marker"), "data");
    writeFileSync(join(walDir, "marker"), "wal");
    if (this.failAfterWriting) throw new Error("disk full");
  }
}

test("restore: etcd's checks and messages, and nothing written on failure", async (t) => {
  const dir = tempDir("utl-restore");
  try {
    const files = makeFiles(dir.path);
    const target = new RecordingTarget();
    const out = join(dir.path, "out");
    const outForEtcdctl = join(dir.path, "out-etcdctl");
    const peer = "--initial-advertise-peer-urls=http://127.0.0.1:2380";
    const cluster = "--initial-cluster=m1=http://127.0.0.1:2380";
    const cases: [string, string[], string][] = [
      ["no argument", ["snapshot", "restore"], "Error: snapshot restore requires exactly one argument\n"],
      ["name not in cluster", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--name=x", cluster, peer], 'Error: couldn\'t find local name "x" in the initial cluster configuration\n'],
      ["bad scheme", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--initial-advertise-peer-urls=ftp://a:1"], "Error: URL scheme must be http, https, unix, or unixs: ftp://a:1\n"],
      ["no port", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--initial-advertise-peer-urls=http://a"], 'Error: URL address does not have the form "host:port": http://a\n'],
      ["path", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--initial-advertise-peer-urls=http://a:1/p"], "Error: URL must not contain a path: http://a:1/p\n"],
      ["advertise mismatch", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--name=m1", cluster, "--initial-advertise-peer-urls=http://127.0.0.1:2390"], "Error: --initial-cluster has m1=http://127.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://127.0.0.1:2390 (resolved urls: \"http://127.0.0.1:2390\" != \"http://127.0.0.1:2380\")\n"],
      ["advertise extra", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--name=m1", cluster, "--initial-advertise-peer-urls=http://127.0.0.1:2380,http://127.0.0.1:2381"], "Error: --initial-advertise-peer-urls has http://127.0.0.1:2381 but missing from --initial-cluster=m1=http://127.0.0.1:2380,m1=http://127.0.0.1:2381\n"],
      ["advertise fewer", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--name=m1", "--initial-cluster=m1=http://127.0.0.1:2380,m1=http://127.0.0.1:2381", peer], "Error: --initial-cluster has m1=http://127.0.0.1:2381 but missing from --initial-advertise-peer-urls=http://127.0.0.1:2380 (len([\"http://127.0.0.1:2380\"]) != len([\"http://127.0.0.1:2380\" \"http://127.0.0.1:2381\"]))\n"],
      ["duplicate url", ["snapshot", "restore", files.good!, `--data-dir=${out}`, "--name=m1", "--initial-cluster=m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2380", peer], "Error: initial cluster m1=http://127.0.0.1:2380,m2=http://127.0.0.1:2380 has duplicate url\n"],
      ["data dir exists", ["snapshot", "restore", files.good!, `--data-dir=${dir.path}`], `Error: data-dir "${dir.path}" exists\n`],
      ["missing hash", ["snapshot", "restore", files.noHash!, `--data-dir=${out}`], "Error: snapshot missing hash but --skip-hash-check=false\n"],
      ["bad hash", ["snapshot", "restore", files.badHash!, `--data-dir=${out}`], ""],
    ];
    const haveEtcd = requireEtcd(t);
    for (const [name, args, expectedStderr] of cases) {
      const ours = await cairnutl(args, target);
      assert.equal(ours.status, name === "no argument" ? 128 : 1, name);
      if (expectedStderr !== "") assert.equal(ours.stderr, expectedStderr, name);
      assert.ok(!existsSync(out), `${name}: wrote ${out}`);
      if (haveEtcd) {
        // etcdctl leaves a partial data dir behind on some failures: give it its own.
        const theirs = etcdctl(args.map((arg) => arg.replace(out, outForEtcdctl)));
        rmSync(outForEtcdctl, { recursive: true, force: true });
        const theirError = theirs.stderr.split("\n").filter((l) => l.startsWith("Error:")).join("\n") + "\n";
        assert.equal(ours.stderr, theirError, `${name}: same message as etcdctl`);
        assert.equal(ours.status, theirs.status, `${name}: same exit code as etcdctl`);
      }
    }
    assert.match((await cairnutl(["snapshot", "restore", files.badHash!, `--data-dir=${out}`], target)).stderr, /^Error: expected sha256 \[[0-9 ]+\], got \[[0-9 ]+\]\n$/);
    for (const broken of [files.truncated!, files.corrupt!, files.garbage!, files.empty!]) {
      const result = await cairnutl(["snapshot", "restore", broken, `--data-dir=${out}`, "--skip-hash-check"], target);
      assert.equal(result.status, 1, broken);
      assert.match(result.stderr, /^Error: /);
      assert.ok(!existsSync(out), `${broken}: wrote ${out}`);
    }
    assert.equal(target.buckets.size, 0, "the target was never called for a bad snapshot");

    // A target that fails midway: its partial output is removed.
    const failing = new RecordingTarget(true);
    await assert.rejects(cairnutl(["snapshot", "restore", files.good!, `--data-dir=${out}`], failing), /disk full/);
    assert.ok(!existsSync(out));
    assert.deepEqual(readdirSync(dir.path).filter((name) => name.includes("restoring")), []);

    // Without a storage backend the command stops after validating, and writes nothing.
    const noBackend = await cairnutl(["snapshot", "restore", files.good!, `--data-dir=${out}`]);
    assert.equal(noBackend.status, 1);
    assert.match(noBackend.stderr, /cannot write a Cairn data directory/);
    assert.ok(!existsSync(out));
  } finally {
    dir.cleanup();
  }
});

test("restore: the plan replaces the members, empties members_removed and streams the rest", async () => {
  const dir = tempDir("utl-plan");
  try {
    const snapshot = join(dir.path, "s.db");
    writeFixtureSnapshot(snapshot, 30);
    const target = new RecordingTarget();
    const out = join(dir.path, "new", "member-data");
    const wal = join(dir.path, "wal-elsewhere");
    mkdirSync(join(dir.path, "new"));
    const result = await cairnutl(
      ["snapshot", "restore", snapshot, `--data-dir=${out}`, `--wal-dir=${wal}`, "--name=default", "--initial-cluster=default=http://localhost:2380"],
      target,
    );
    assert.deepEqual(result, { status: 0, stdout: `restored snapshot ${snapshot} into ${out}: member 8e9e05c52164694d (default) in cluster cdf818194e3a8c32\n`, stderr: "" });
    assert.equal(readFileSync(join(out, "marker"), "utf8"), "data");
    assert.equal(readFileSync(join(wal, "marker"), "utf8"), "wal");
    assert.deepEqual([...target.buckets.keys()], ["alarm", "cluster", "key", "lease", "members", "members_removed", "meta"]);
    assert.deepEqual(target.buckets.get("members"), [["8e9e05c52164694d", '{"id":10276657743932975437,"peerURLs":["http://localhost:2380"],"name":"default"}']]);
    assert.deepEqual(target.buckets.get("members_removed"), []);
    assert.equal(target.buckets.get("key")!.length, 30);
    assert.deepEqual(target.buckets.get("cluster"), [["clusterVersion", "3.4.0"]]);

    // A snapshot without membership buckets (as a Cairn export may be) still gets the new members.
    const bare = join(dir.path, "bare.db");
    writeSnapshotFile(bare, (writer) => {
      writer.beginBucket("key");
      writer.put(revisionKey(1), keyValueProto("a", "b", 1));
      writer.endBucket();
    });
    const bareTarget = new RecordingTarget();
    const bareResult = await cairnutl(["snapshot", "restore", bare, `--data-dir=${join(dir.path, "bare-out")}`], bareTarget);
    assert.equal(bareResult.status, 0, bareResult.stderr);
    assert.deepEqual([...bareTarget.buckets.keys()], ["key", "members", "members_removed"]);
    assert.equal(bareTarget.buckets.get("members")![0]![0], "8e9e05c52164694d");
  } finally {
    dir.cleanup();
  }
});
