/**
 * `cairnctl defrag --data-dir` against `etcdctl defrag --data-dir` (3.4) on the data directory of
 * a real etcd after churn (puts, overwrites, deletes, compaction), stopped: both tools defragment
 * their own copy; output, db content and what etcd then serves must agree, and the cairnctl copy
 * must not be larger than the original.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, statSync } from "node:fs";
import { join } from "node:path";
import { EtcdMember, freePort, putMany, requireEtcd, tempDir } from "../bbolt/etcd-harness.js";
import { dumpBbolt, runTool } from "./etcd-restore-diff.js";

test("offline defrag of an etcd data dir after churn matches etcdctl's", async (t) => {
  if (!requireEtcd(t)) return;
  const temp = tempDir("etcd-defrag");
  try {
    const source = join(temp.path, "source");
    const peerPort = await freePort();
    const member = await EtcdMember.start({ dataDir: source, peerPort });
    try {
      const value = "v".repeat(300);
      await putMany(member.clientURL, Array.from({ length: 3000 }, (_, i): [string, string] => [`/churn/${String(i).padStart(5, "0")}`, `${value}-${i}`]));
      await putMany(member.clientURL, Array.from({ length: 1000 }, (_, i): [string, string] => [`/churn/${String(i).padStart(5, "0")}`, `again-${i}`]));
      member.etcdctl(["del", "/churn/01", "--prefix"]);
      member.etcdctl(["del", "/churn/02", "--prefix"]);
      const revision = (JSON.parse(member.etcdctl(["get", "/", "-w", "json"])) as { header: { revision: number } }).header.revision;
      member.etcdctl(["compact", String(revision), "--physical"]);
    } finally {
      await member.stop();
    }
    const dirs = { etcdctl: join(temp.path, "by-etcdctl"), cairnctl: join(temp.path, "by-cairnctl") };
    cpSync(source, dirs.etcdctl, { recursive: true });
    cpSync(source, dirs.cairnctl, { recursive: true });
    const db = (dir: string) => join(dir, "member", "snap", "db");
    const sizeBefore = statSync(db(source)).size;

    const expected = runTool("etcdctl", ["defrag", "--data-dir", dirs.etcdctl], temp.path);
    const actual = runTool("cairnctl", ["defrag", "--data-dir", dirs.cairnctl], temp.path);
    assert.equal(expected.status, 0, expected.stderr);
    assert.deepEqual(actual, expected);
    const sizes = { before: sizeBefore, etcdctl: statSync(db(dirs.etcdctl)).size, cairnctl: statSync(db(dirs.cairnctl)).size };
    t.diagnostic(`db bytes: ${JSON.stringify(sizes)}`);
    assert.ok(sizes.cairnctl <= sizes.before, `defragmented db grew: ${JSON.stringify(sizes)}`);
    assert.deepEqual(dumpBbolt(db(dirs.cairnctl)), dumpBbolt(db(dirs.etcdctl)));

    const observed = [];
    for (const dir of [dirs.etcdctl, dirs.cairnctl]) {
      const restarted = await EtcdMember.start({ dataDir: dir, peerPort });
      try {
        const get = JSON.parse(restarted.etcdctl(["get", "", "--prefix", "-w", "json"])) as { header: Record<string, unknown>; kvs: unknown[] };
        const hashkv = JSON.parse(restarted.etcdctl(["endpoint", "hashkv", "-w", "json"])) as { HashKV: { header: Record<string, unknown> } }[];
        observed.push({
          get: { ...get, header: { ...get.header, raft_term: "<term>" } },
          hashkv: hashkv.map((h) => ({ ...h.HashKV, header: { ...h.HashKV.header, raft_term: "<term>" } })),
        });
      } finally {
        await restarted.stop();
      }
    }
    assert.deepEqual(observed[1], observed[0]);
    assert.equal((observed[1]!.get as { kvs: unknown[] }).kvs.length, 1000, "keys /churn/00000-00999 survive the deletes");
  } finally {
    temp.cleanup();
  }
});
