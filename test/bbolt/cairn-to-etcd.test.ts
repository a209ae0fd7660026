/**
 * The Cairn → etcd direction, without a Cairn server: a history of puts and deletes is encoded with
 * Cairn's storage schema (revision keys, mvccpb.KeyValue, leasepb.Lease) and written with Cairn's
 * bbolt writer into a snapshot file. The same history is applied to a live etcd. Then
 *   - the "key" and "lease" buckets of etcd's own snapshot equal Cairn's byte for byte, and
 *   - an etcd restored (with etcdctl) from Cairn's file serves the same keys, revisions, history,
 *     leases and HashKV as the live etcd.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BboltReader, decodeBucketValue } from "../../src/storage/bbolt/reader.js";
import { checkSnapshotHash, writeSnapshotFile } from "../../src/storage/bbolt/snapshot-file.js";
import { FileSource } from "../../src/storage/bbolt/source.js";
import {
  CLUSTER_BUCKET,
  CLUSTER_VERSION_KEY,
  KEY_BUCKET,
  LEASE_BUCKET,
  META_BUCKET,
  META_CONSISTENT_INDEX,
  encodeKeyValue,
  encodeLease,
  encodeLeaseKey,
  encodeRevisionKey,
  encodeUint64,
} from "../../src/storage/schema.js";
import { EtcdMember, etcdctlOk, freePort, requireEtcd, tempDir } from "./etcd-harness.js";

type Op = { kind: "put"; key: string; value: string; lease: bigint } | { kind: "delete"; key: string };

const LEASE_ID = 0x1234_5678n;
const LEASE_TTL_SECONDS = 3600;

/** A seeded history over a small key set, so keys get several versions and generations. */
function makeHistory(seed: number, length: number): Op[] {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const live = new Set<string>();
  const ops: Op[] = [];
  for (let i = 0; i < length; i++) {
    const key = `/k/${Math.floor(random() * 30)}`;
    if (live.has(key) && random() < 0.25) {
      ops.push({ kind: "delete", key });
      live.delete(key);
    } else {
      ops.push({ kind: "put", key, value: "v".repeat(Math.floor(random() * 40)) + i, lease: random() < 0.1 ? LEASE_ID : 0n });
      live.add(key);
    }
  }
  return ops;
}

/** The key bucket etcd builds for this history, one revision per op starting at 2 (the lease grant takes none). */
function encodeHistory(ops: Op[], firstRevision: number): [Uint8Array, Uint8Array][] {
  const generations = new Map<string, { createRevision: number; version: number }>();
  return ops.map((op, i) => {
    const revision = firstRevision + i;
    const key = Buffer.from(op.key);
    if (op.kind === "delete") {
      generations.delete(op.key);
      return [encodeRevisionKey({ main: revision, sub: 0 }, true), encodeKeyValue({ key, createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0n })];
    }
    const generation = generations.get(op.key) ?? { createRevision: revision, version: 0 };
    generation.version++;
    generations.set(op.key, generation);
    const kv = { key, createRevision: generation.createRevision, modRevision: revision, version: generation.version, value: Buffer.from(op.value), lease: op.lease };
    return [encodeRevisionKey({ main: revision, sub: 0 }), encodeKeyValue(kv)];
  });
}

async function post(clientURL: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${clientURL}${path}`, { method: "POST", body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text}`);
}

async function applyToEtcd(member: EtcdMember, ops: Op[]): Promise<void> {
  await post(member.clientURL, "/v3/lease/grant", { TTL: LEASE_TTL_SECONDS, ID: LEASE_ID.toString() });
  for (const op of ops) {
    const key = Buffer.from(op.key).toString("base64");
    if (op.kind === "delete") await post(member.clientURL, "/v3/kv/deleterange", { key });
    else await post(member.clientURL, "/v3/kv/put", { key, value: Buffer.from(op.value).toString("base64"), lease: op.lease.toString() });
  }
}

function bucketEntries(file: string, name: string): string[] {
  const source = new FileSource(file, checkSnapshotHash(file).dbSizeBytes);
  try {
    const reader = BboltReader.open(source);
    const ref = reader.bucket(name);
    if (ref === undefined) return [];
    return [...reader.entries(ref)].map((e) => `${Buffer.from(e.key).toString("hex")}=${Buffer.from(e.value).toString("hex")}`);
  } finally {
    source.close();
  }
}

test("a snapshot built from Cairn's schema restores into etcd identical to etcd's own history", async (t) => {
  if (!requireEtcd(t)) return;
  const dir = tempDir("cairn-to-etcd");
  const members: EtcdMember[] = [];
  try {
    const ops = makeHistory(7, 400);
    const keyBucket = encodeHistory(ops, 2);
    const cairnFile = join(dir.path, "cairn.db");
    writeSnapshotFile(cairnFile, (writer) => {
      writer.beginBucket(CLUSTER_BUCKET);
      writer.put(Buffer.from(CLUSTER_VERSION_KEY), Buffer.from("3.4.0"));
      writer.endBucket();
      writer.beginBucket(KEY_BUCKET);
      for (const [key, value] of keyBucket) writer.put(key, value);
      writer.endBucket();
      writer.beginBucket(LEASE_BUCKET);
      writer.put(encodeLeaseKey(LEASE_ID), encodeLease({ id: LEASE_ID, ttlSeconds: LEASE_TTL_SECONDS, remainingTtlSeconds: 0 }));
      writer.endBucket();
      writer.beginBucket(META_BUCKET);
      writer.put(Buffer.from(META_CONSISTENT_INDEX), encodeUint64(ops.length + 5));
      writer.endBucket();
    });

    const live = await EtcdMember.start({ dataDir: join(dir.path, "live") });
    members.push(live);
    await applyToEtcd(live, ops);
    const etcdFile = join(dir.path, "etcd.db");
    live.etcdctl(["snapshot", "save", etcdFile]);

    assert.deepEqual(bucketEntries(cairnFile, KEY_BUCKET), bucketEntries(etcdFile, KEY_BUCKET), "key bucket, byte for byte");
    assert.deepEqual(bucketEntries(cairnFile, LEASE_BUCKET), bucketEntries(etcdFile, LEASE_BUCKET), "lease bucket, byte for byte");

    const peerPort = await freePort();
    const peerURL = `http://127.0.0.1:${peerPort}`;
    const restoredDir = join(dir.path, "restored");
    etcdctlOk(["snapshot", "restore", cairnFile, `--data-dir=${restoredDir}`, "--name=r", `--initial-cluster=r=${peerURL}`, `--initial-advertise-peer-urls=${peerURL}`]);
    const restored = await EtcdMember.start({ dataDir: restoredDir, name: "r", peerPort });
    members.push(restored);

    const get = (member: EtcdMember, args: string[]) => {
      const out = JSON.parse(member.etcdctl(["get", "", "--prefix", "-w", "json", ...args]));
      return { revision: out.header.revision, kvs: out.kvs ?? [] };
    };
    assert.deepEqual(get(restored, []), get(live, []));
    for (const revision of [2, 50, 201, 333]) assert.deepEqual(get(restored, [`--rev=${revision}`]), get(live, [`--rev=${revision}`]), `at revision ${revision}`);
    const hashKV = (member: EtcdMember) => JSON.parse(member.etcdctl(["endpoint", "hashkv", "-w", "json"]))[0].HashKV.hash;
    assert.equal(hashKV(restored), hashKV(live));
    // etcd lists a lease's keys in map order: compare them as sets.
    const leaseKeys = (member: EtcdMember) => {
      const out = member.etcdctl(["lease", "timetolive", LEASE_ID.toString(16), "--keys"]);
      return (/attached keys\(\[(.*)\]\)/.exec(out)?.[1] ?? "").split(" ").sort();
    };
    const expectedLeaseKeys = [...new Set(ops.filter((op) => op.kind === "put" && op.lease === LEASE_ID).map((op) => op.key))];
    assert.ok(expectedLeaseKeys.length > 0);
    assert.deepEqual(leaseKeys(restored), leaseKeys(live));
  } finally {
    for (const member of members) await member.stop();
    dir.cleanup();
  }
});
