/**
 * `cairnctl snapshot restore` against `etcdctl snapshot restore` (3.4): the same snapshot is
 * restored by both tools with the same flags into two directories. The directory trees, the WAL
 * and .snap files (byte for byte: etcd's output is deterministic, see the first test) and the db
 * content must be equal, and real etcd started on each restored directory must serve the same
 * data, hashes and members, and accept writes. A three-member restore is started as a cluster.
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { EtcdMember, freePort, requireEtcd, tempDir } from "../bbolt/etcd-harness.js";
import { dumpBbolt, listTree, normalizeLog, runTool, sameBytes } from "./etcd-restore-diff.js";

const WAL_NAME = "0000000000000000-0000000000000000.wal";

interface Source {
  dir: string;
  snapshot: string;
  cleanup: () => void;
}

/** A snapshot of a real etcd with puts, overwrites, a delete, a lease and a compaction. */
async function makeSnapshot(): Promise<Source> {
  const temp = tempDir("etcd-restore");
  const member = await EtcdMember.start({ dataDir: join(temp.path, "source") });
  try {
    for (let i = 0; i < 20; i++) member.etcdctl(["put", `/k/${String(i).padStart(2, "0")}`, `value-${i}`]);
    member.etcdctl(["put", "/k/00", "overwritten"]);
    member.etcdctl(["del", "/k/01"]);
    const lease = /lease ([0-9a-f]+) granted/.exec(member.etcdctl(["lease", "grant", "600"]))![1]!;
    member.etcdctl(["put", "--lease", lease, "/leased", "x"]);
    member.etcdctl(["compact", "5"]);
    member.etcdctl(["put", "/after-compact", "y"]);
    const snapshot = join(temp.path, "snapshot.db");
    member.etcdctl(["snapshot", "save", snapshot]);
    return { dir: temp.path, snapshot, cleanup: temp.cleanup };
  } finally {
    await member.stop();
  }
}

function restore(tool: "etcdctl" | "cairnctl", cwd: string, args: string[]): void {
  const result = runTool(tool, ["snapshot", "restore", ...args], cwd);
  assert.equal(result.status, 0, `${tool} restore failed: ${result.stderr}`);
}

/** Asserts that two restored data dirs are the same: tree, WAL and .snap bytes, db content. */
function assertSameDataDir(expectedDir: string, actualDir: string, walDirs?: { expected: string; actual: string }): void {
  assert.deepEqual(listTree(actualDir), listTree(expectedDir));
  const snapDir = (dir: string) => join(dir, "member", "snap");
  const snapFiles = readdirSync(snapDir(expectedDir)).filter((f) => f.endsWith(".snap"));
  assert.equal(snapFiles.length, 1);
  assert.ok(sameBytes(join(snapDir(expectedDir), snapFiles[0]!), join(snapDir(actualDir), snapFiles[0]!)), ".snap files differ");
  const expectedWal = walDirs?.expected ?? join(expectedDir, "member", "wal");
  const actualWal = walDirs?.actual ?? join(actualDir, "member", "wal");
  assert.deepEqual(listTree(actualWal), listTree(expectedWal));
  assert.ok(sameBytes(join(expectedWal, WAL_NAME), join(actualWal, WAL_NAME)), "WAL files differ");
  assert.deepEqual(dumpBbolt(join(snapDir(actualDir), "db")), dumpBbolt(join(snapDir(expectedDir), "db")));
}

/** What a started member serves: data, hashkv, members; then a write and its read-back. */
function observe(member: EtcdMember): { get: unknown; hashkv: unknown; members: unknown; afterPut: unknown } {
  const json = (args: string[]) => JSON.parse(member.etcdctl([...args, "-w", "json"])) as Record<string, unknown>;
  const withoutTerm = (value: Record<string, unknown>) => ({ ...value, header: { ...(value.header as object), raft_term: "<term>" } });
  const get = withoutTerm(json(["get", "", "--prefix"]));
  const hashkv = (json(["endpoint", "hashkv"]) as unknown as { HashKV: Record<string, unknown> }[]).map((e) => withoutTerm(e.HashKV));
  const members = (json(["member", "list"]).members as { ID: number; name: string; peerURLs: string[] }[]).map((m) => ({ id: m.ID, name: m.name, peerURLs: m.peerURLs }));
  member.etcdctl(["put", "/written-after-restore", "z"]);
  const afterPut = withoutTerm(json(["get", "/written-after-restore"]));
  return { get, hashkv, members, afterPut };
}

describe("cairnctl snapshot restore writes etcd's data directory", () => {
  let source: Source | undefined;
  before(async () => {
    if (requireEtcdQuietly()) source = await makeSnapshot();
  });
  after(() => source?.cleanup());

  test("etcdctl's own restore is deterministic (so byte comparison is meaningful)", (t) => {
    if (!ready(t, source)) return;
    const flags = [source.snapshot, "--initial-cluster-token", "determinism"];
    restore("etcdctl", source.dir, [...flags, "--data-dir", "det-a"]);
    restore("etcdctl", source.dir, [...flags, "--data-dir", "det-b"]);
    for (const file of [join("member", "wal", WAL_NAME), join("member", "snap", "db"), join("member", "snap", "0000000000000001-0000000000000001.snap")]) {
      assert.ok(sameBytes(join(source.dir, "det-a", file), join(source.dir, "det-b", file)), `${file} differs between two etcdctl restores`);
    }
  });

  test("single member: same files and logs as etcdctl, and etcd serves the same state", async (t) => {
    if (!ready(t, source)) return;
    const peerPort = await freePort();
    const peerURL = `http://127.0.0.1:${peerPort}`;
    const flags = [source.snapshot, "--name", "solo", "--initial-cluster", `solo=${peerURL}`, "--initial-advertise-peer-urls", peerURL, "--initial-cluster-token", "tok-1"];
    const expected = runTool("etcdctl", ["snapshot", "restore", ...flags, "--data-dir", "single"], join(source.dir));
    const expectedDir = join(source.dir, "single");
    const actualRoot = join(source.dir, "cairn");
    restoreInto(actualRoot);
    const actual = runTool("cairnctl", ["snapshot", "restore", ...flags, "--data-dir", "single"], actualRoot);
    assert.deepEqual({ ...actual, stderr: normalizeLog(actual.stderr) }, { ...expected, stderr: normalizeLog(expected.stderr) });
    const actualDir = join(actualRoot, "single");
    assertSameDataDir(expectedDir, actualDir);

    const observed = [];
    for (const dir of [expectedDir, actualDir]) {
      const member = await EtcdMember.start({ dataDir: dir, name: "solo", peerPort, token: "tok-1" });
      try {
        observed.push(observe(member));
      } finally {
        await member.stop();
      }
    }
    assert.deepEqual(observed[1], observed[0]);
    const kvs = (observed[1]!.get as { kvs: unknown[] }).kvs;
    assert.equal(kvs.length, 21, "the restored member serves the snapshot's keys");
  });

  test("--wal-dir puts the WAL outside the data dir, as etcdctl does", async (t) => {
    if (!ready(t, source)) return;
    const roots = { expected: join(source.dir, "wal-e"), actual: join(source.dir, "wal-a") };
    restoreInto(roots.expected);
    restoreInto(roots.actual);
    const flags = [source.snapshot, "--data-dir", "data", "--wal-dir", "logs/wal"];
    const expected = runTool("etcdctl", ["snapshot", "restore", ...flags], roots.expected);
    const actual = runTool("cairnctl", ["snapshot", "restore", ...flags], roots.actual);
    assert.equal(expected.status, 0, expected.stderr);
    assert.deepEqual({ ...actual, stderr: normalizeLog(actual.stderr) }, { ...expected, stderr: normalizeLog(expected.stderr) });
    assert.deepEqual(listTree(roots.actual), listTree(roots.expected));
    assertSameDataDir(join(roots.expected, "data"), join(roots.actual, "data"), { expected: join(roots.expected, "logs", "wal"), actual: join(roots.actual, "logs", "wal") });
  });

  test("three members: same files as etcdctl for each, and the restored cluster runs", async (t) => {
    if (!ready(t, source)) return;
    const names = ["m1", "m2", "m3"];
    const ports = [await freePort(), await freePort(), await freePort()];
    const cluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[i]}`).join(",");
    const root = join(source.dir, "three");
    restoreInto(root);
    for (const [i, name] of names.entries()) {
      const flags = [source.snapshot, "--name", name, "--initial-cluster", cluster, "--initial-advertise-peer-urls", `http://127.0.0.1:${ports[i]}`, "--initial-cluster-token", "tok-3"];
      restore("etcdctl", root, [...flags, "--data-dir", `etcd-${name}`]);
      const actual = runTool("cairnctl", ["snapshot", "restore", ...flags, "--data-dir", `cairn-${name}`], root);
      assert.equal(actual.status, 0, actual.stderr);
      assert.equal((actual.stderr.match(/"msg":"added member"/g) ?? []).length, 3);
      assertSameDataDir(join(root, `etcd-${name}`), join(root, `cairn-${name}`));
    }
    const members = await Promise.all(names.map((name, i) => EtcdMember.start({ dataDir: join(root, `cairn-${name}`), name, peerPort: ports[i]!, token: "tok-3" })));
    try {
      const list = JSON.parse(members[0]!.etcdctl(["member", "list", "-w", "json"])) as { members: { name: string; peerURLs: string[] }[] };
      assert.deepEqual(list.members.map((m) => `${m.name}=${m.peerURLs.join(",")}`).sort(), cluster.split(",").sort());
      members[1]!.etcdctl(["put", "/cluster-write", "ok"]);
      const read = JSON.parse(members[2]!.etcdctl(["get", "/cluster-write", "--consistency=l", "-w", "json"])) as { kvs: { value: string }[] };
      assert.equal(Buffer.from(read.kvs[0]!.value, "base64").toString(), "ok");
      const count = JSON.parse(members[0]!.etcdctl(["get", "/k/", "--prefix", "--keys-only", "-w", "json"])) as { count: number };
      assert.equal(count.count, 19);
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }
  });
});

let etcdChecked: boolean | undefined;
/** requireEtcd needs a test context; `before` has none, so the check is repeated in each test. */
function requireEtcdQuietly(): boolean {
  etcdChecked ??= runTool("etcdctl", ["version"], ".").status === 0 && runTool("cairnctl", ["version"], ".").status === 0;
  return etcdChecked;
}

function ready(t: TestContext, source: Source | undefined): source is Source {
  if (!requireEtcd(t)) return false;
  assert.ok(source !== undefined, "the source snapshot was not made");
  return true;
}

/** Creates a directory to run a tool in. */
function restoreInto(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
