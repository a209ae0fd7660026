/**
 * A workload for snapshot tests, run against a live etcd: many puts (enough for multi-level B+trees),
 * overwrites, a prefix delete, a value spanning overflow pages, a compaction, a lease and a key
 * attached to it.
 */
import { putMany, type EtcdMember } from "./etcd-harness.js";

export async function runWorkload(member: EtcdMember, keyCount = 4000): Promise<void> {
  const pairs: [string, string][] = Array.from({ length: keyCount }, (_, i) => [`/registry/pods/ns${i % 7}/pod-${i}`, `value-${i}-${"x".repeat(i % 90)}`]);
  await putMany(member.clientURL, pairs);
  await putMany(member.clientURL, pairs.slice(0, keyCount / 8).map(([k, v]) => [k, `${v}-v2`] as [string, string]));
  member.etcdctl(["del", "--prefix", "/registry/pods/ns3/"]);
  member.etcdctl(["put", "big", "b".repeat(100_000)]);
  const revision = JSON.parse(member.etcdctl(["get", "big", "-w", "json"])).header.revision as number;
  member.etcdctl(["compact", String(revision - 200)]);
  const lease = /lease ([0-9a-f]+) granted/.exec(member.etcdctl(["lease", "grant", "3600"]))![1]!;
  member.etcdctl(["put", "leased", "v", `--lease=${lease}`]);
  member.etcdctl(["put", "after-compact", "v"]);
}

/** Keys, values and revisions as `etcdctl get "" --prefix -w json` reports them, with the store revision. */
export function keyspace(member: EtcdMember, extra: string[] = []): { revision: number; kvs: unknown[] } {
  const out = JSON.parse(member.etcdctl(["get", "", "--prefix", "-w", "json", ...extra]));
  return { revision: out.header.revision, kvs: out.kvs ?? [] };
}

/** `etcdctl endpoint hashkv` of one member. */
export function hashKV(member: EtcdMember): { hash: number; compactRevision: number } {
  const [entry] = JSON.parse(member.etcdctl(["endpoint", "hashkv", "-w", "json"]));
  return { hash: entry.HashKV.hash, compactRevision: entry.HashKV.compact_revision };
}
