/**
 * Unit tests of the MVCC store: HashKV against values recorded from etcd 3.4.23 for the same
 * operations, transaction revisions, errors, the consistent index across reopen, lease hooks,
 * an interrupted compaction, and sizes.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore, loadBuckets } from "../../src/storage/mvcc/store.js";
import { CompactedError, FutureRevisionError } from "../../src/storage/mvcc/errors.js";
import { executeRange } from "../../src/storage/mvcc/range.js";
import { crc32cUpdate } from "../../src/storage/mvcc/crc32c.js";
import { META_BUCKET, META_SCHEDULED_COMPACT_REV, encodeRevisionKey } from "../../src/storage/schema.js";

const b = (s: string) => new TextEncoder().encode(s);
const str = (u: Uint8Array) => new TextDecoder().decode(u);

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "cairn-mvcc-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("crc32c matches the standard check value", () => {
  assert.equal(crc32cUpdate(0, b("123456789")), 0xe3069283);
  assert.equal(crc32cUpdate(crc32cUpdate(0, b("1234")), b("56789")), 0xe3069283);
});

test("HashKV equals etcd 3.4.23's for the same operations (values recorded from a fresh etcd)", () => {
  const store = MvccStore.open(new MemoryBackend());
  const expect = (rev: number, hash: number, revision: number, compactRevision: number) =>
    assert.deepEqual(store.hashKV(rev), { hash, revision, compactRevision });
  expect(0, 1084519789, 1, -1);
  store.put(b("foo"), b("bar"));
  expect(0, 3305255506, 2, -1);
  store.put(b("foo"), b("baz"));
  expect(0, 2020292994, 3, -1);
  store.put(b("a"), b(""));
  expect(0, 2673401265, 4, -1);
  store.deleteRange(b("foo"), null);
  expect(0, 708043971, 5, -1);
  expect(2, 3305255506, 5, -1);
  store.compact(3);
  expect(0, 1146139272, 5, 3);
  store.put(b("foo"), b("again"));
  expect(0, 1875716878, 6, 3);
  expect(4, 2089129647, 6, 3);
  assert.throws(() => store.hashKV(3), CompactedError);
  assert.throws(() => store.hashKV(7), FutureRevisionError);
});

test("a write transaction shares one main revision; reads inside it see its own writes", () => {
  const store = MvccStore.open(new MemoryBackend());
  store.put(b("a"), b("1"));
  const txn = store.write();
  assert.equal(txn.put(b("a"), b("2"), 0n), 3);
  assert.equal(txn.put(b("b"), b("1"), 0n), 3);
  assert.deepEqual(txn.range(b("a"), null).kvs.map((kv) => [str(kv.value), kv.version, kv.modRevision]), [["2", 2, 3]]);
  assert.deepEqual(txn.deleteRange(b("b"), null), { deleted: 1, rev: 3 });
  assert.equal(txn.put(b("b"), b("again"), 0n), 3);
  assert.equal(txn.changes().length, 4);
  txn.end();
  assert.equal(store.revision, 3);
  const after = store.range(b("a"), b("c"));
  assert.deepEqual(after.kvs.map((kv) => [str(kv.key), str(kv.value), kv.createRevision, kv.modRevision, kv.version]), [["a", "2", 2, 3, 2], ["b", "again", 3, 3, 1]]);
  // Revision keys within the change set: 3_0 put a, 3_1 put b, 3_2 tombstone b, 3_3 put b.
  assert.equal(store.kvAt({ main: 3, sub: 2 })?.tombstone, true);
  assert.equal(str(store.kvAt({ main: 3, sub: 3 })!.kv.value), "again");
  // A delete of nothing changes no revision.
  assert.deepEqual(store.deleteRange(b("zzz"), null), { deleted: 0, rev: 3 });
  assert.equal(store.revision, 3);
});

test("range errors and counts follow etcd: compacted, future, count with limit, more", () => {
  const store = MvccStore.open(new MemoryBackend());
  for (const k of ["a", "b", "c", "d"]) store.put(b(k), b(k));
  store.compact(3);
  assert.throws(() => store.range(b("a"), null, { rev: 2 }), (e: unknown) => e instanceof CompactedError && e.message === "mvcc: required revision has been compacted");
  assert.throws(() => store.range(b("a"), null, { rev: 6 }), (e: unknown) => e instanceof FutureRevisionError && e.message === "mvcc: required revision is a future revision");
  assert.equal(store.range(b("a"), null, { rev: 3 }).kvs.length, 1, "reading at the compaction revision itself is allowed");
  const limited = executeRange(store.read(), { key: b("a"), rangeEnd: Uint8Array.of(0), limit: 2 });
  assert.deepEqual([limited.kvs.length, limited.count, limited.more, limited.revision], [2, 4, true, 5]);
  const counted = executeRange(store.read(), { key: b("a"), rangeEnd: b("c"), countOnly: true });
  assert.deepEqual([counted.kvs.length, counted.count, counted.more], [0, 2, false]);
  const filtered = executeRange(store.read(), { key: b("a"), rangeEnd: Uint8Array.of(0), minModRevision: 4, limit: 1 });
  assert.deepEqual([filtered.kvs.map((kv) => str(kv.key)), filtered.count, filtered.more], [["c"], 4, true]);
  assert.throws(() => store.compact(3), CompactedError);
  assert.throws(() => store.compact(9), FutureRevisionError);
});

test("consistent index, revision and compaction survive a reopen of the LMDB engine", async (t) => {
  const dir = tempDir(t);
  let store = MvccStore.open(new LmdbBackend({ path: dir }));
  store.put(b("k"), b("v1"));
  store.put(b("k"), b("v2"));
  store.setConsistentIndex(41);
  store.commit();
  store.compact(2);
  store.deleteRange(b("k"), null);
  store.setConsistentIndex(42);
  store.commit();
  const hash = store.hashKV();
  await store.close();

  store = MvccStore.open(new LmdbBackend({ path: dir }));
  assert.equal(store.consistentIndex(), 42);
  assert.equal(store.revision, 4);
  assert.equal(store.compactRevision, 2);
  assert.deepEqual(store.hashKV(), hash);
  assert.equal(store.range(b("k"), null).count, 0);
  assert.equal(str(store.range(b("k"), null, { rev: 3 }).kvs[0]!.value), "v2");
  assert.ok(store.sizeBytes() > 0 && store.sizeInUseBytes() > 0 && store.sizeInUseBytes() <= store.sizeBytes());
  await store.close();
});

test("uncommitted writes vanish with the process; committed ones keep their consistent index", async (t) => {
  const dir = tempDir(t);
  const store = MvccStore.open(new LmdbBackend({ path: dir }));
  store.put(b("applied"), b("1"));
  store.setConsistentIndex(7);
  store.commit();
  store.put(b("half-applied"), b("2")); // never committed: the next open must not see it
  store.setConsistentIndex(8);
  // Simulate the crash: open the same files from a second handle without committing the first.
  const again = MvccStore.open(new LmdbBackend({ path: dir }));
  assert.equal(again.consistentIndex(), 7);
  assert.equal(again.range(b("half-applied"), null).count, 0);
  assert.equal(again.range(b("applied"), null).count, 1);
  await again.close();
});

test("lease hooks: attach on put, detach on overwrite and delete, reattach on restore", () => {
  const events: string[] = [];
  const hooks = { attach: (l: bigint, k: Uint8Array) => events.push(`+${l}:${str(k)}`), detach: (l: bigint, k: Uint8Array) => events.push(`-${l}:${str(k)}`) };
  const backend = new MemoryBackend();
  const store = MvccStore.open(backend, { leaseHooks: hooks });
  store.put(b("a"), b("1"), 5n);
  store.put(b("a"), b("2"), 6n);
  store.put(b("b"), b("1"), 6n);
  store.deleteRange(b("b"), null);
  assert.deepEqual(events, ["+5:a", "-5:a", "+6:a", "+6:b", "-6:b"]);
  events.length = 0;
  store.commit();
  MvccStore.open(backend, { leaseHooks: hooks });
  assert.deepEqual(events, ["+6:a"]);
});

test("an interrupted compaction (scheduled, not finished) is completed on open", () => {
  const backend = new MemoryBackend();
  const store = MvccStore.open(backend);
  store.put(b("a"), b("1"));
  store.put(b("a"), b("2"));
  store.put(b("a"), b("3"));
  backend.put(META_BUCKET, b(META_SCHEDULED_COMPACT_REV), encodeRevisionKey({ main: 3, sub: 0 }));
  backend.commit();
  const reopened = MvccStore.open(backend);
  assert.equal(reopened.compactRevision, 3);
  assert.equal(reopened.kvAt({ main: 2, sub: 0 }), undefined, "revision 2 was compacted away");
  assert.notEqual(reopened.kvAt({ main: 3, sub: 0 }), undefined);
});

test("bucket export and import reproduce the same store", () => {
  const source = MvccStore.open(new MemoryBackend());
  source.put(b("x"), b("1"), 9n);
  source.put(b("y"), b("2"));
  source.deleteRange(b("x"), null);
  source.setConsistentIndex(12);
  const entries: { bucket: string; key: Uint8Array; value: Uint8Array }[] = [];
  source.forEachBucketEntry((bucket, key, value) => entries.push({ bucket, key: key.slice(), value: value.slice() }));
  const target = new MemoryBackend();
  assert.equal(loadBuckets(target, entries), entries.length);
  const copy = MvccStore.open(target);
  assert.deepEqual(copy.hashKV(), source.hashKV());
  assert.deepEqual(copy.hash(), source.hash());
  assert.equal(copy.consistentIndex(), 12);
  assert.equal(copy.revision, source.revision);
});

test("the key index keeps key order across many inserts in random order (chunk splits)", async () => {
  const { TreeIndex } = await import("../../src/storage/mvcc/key-index.js");
  const index = new TreeIndex();
  const keys: string[] = [];
  let seed = 7;
  for (let i = 0; i < 6000; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const key = `k${(seed % 100000).toString().padStart(5, "0")}`;
    if (index.lookup(b(key)) === undefined) keys.push(key);
    index.put(b(key), { main: i + 2, sub: 0 });
  }
  keys.sort();
  assert.deepEqual(index.all().map((ki) => str(ki.key)), keys);
  const from = keys[1234]!;
  const to = keys[4321]!;
  assert.deepEqual(index.range(b(from), b(to), 1_000_000).keys.map(str), keys.slice(1234, 4321));
  assert.deepEqual(index.range(b(from), new Uint8Array(0), 1_000_000).keys.length, keys.length - 1234);
});

test("put and delete-range requests: prev_kv, ignore_value, ignore_lease, from-key delete", async () => {
  const { executePut, executeDeleteRange, KeyNotFoundError } = await import("../../src/storage/mvcc/requests.js");
  const store = MvccStore.open(new MemoryBackend());
  const put = (req: Parameters<typeof executePut>[1]) => {
    const txn = store.write();
    try {
      return executePut(txn, req);
    } finally {
      txn.end();
    }
  };
  assert.throws(() => put({ key: b("k"), value: new Uint8Array(0), ignoreValue: true }), (e: unknown) => e instanceof KeyNotFoundError && e.message === "etcdserver: key not found");
  assert.equal(store.revision, 1, "a failed put changes nothing");
  assert.deepEqual(put({ key: b("k"), value: b("v1"), lease: 5n, prevKv: true }), { revision: 2, prevKv: null });
  const kept = put({ key: b("k"), value: new Uint8Array(0), ignoreValue: true, prevKv: true });
  assert.equal(str(kept.prevKv!.value), "v1");
  const now = store.range(b("k"), null).kvs[0]!;
  assert.deepEqual([str(now.value), now.lease, now.version], ["v1", 0n, 2]);
  put({ key: b("k"), value: b("v3"), lease: 9n });
  put({ key: b("k"), value: b("v4"), ignoreLease: true });
  assert.equal(store.range(b("k"), null).kvs[0]!.lease, 9n);
  put({ key: b("m"), value: b("x") });
  const txn = store.write();
  const deleted = executeDeleteRange(txn, { key: b("a"), rangeEnd: Uint8Array.of(0), prevKv: true });
  txn.end();
  assert.deepEqual([deleted.deleted, deleted.revision, deleted.prevKvs.map((kv) => str(kv.key))], [2, 7, ["k", "m"]]);
});

test("defragment shrinks the LMDB file after compaction and keeps every answer", async (t) => {
  const dir = tempDir(t);
  const store = MvccStore.open(new LmdbBackend({ path: dir }));
  const big = new Uint8Array(4000).fill(1);
  for (let i = 0; i < 500; i++) store.put(b(`k${i % 10}`), big);
  store.commit();
  store.compact(store.revision);
  const before = { size: store.sizeBytes(), hash: store.hashKV(), inUse: store.sizeInUseBytes() };
  await store.defragment();
  assert.ok(store.sizeBytes() < before.size, `size ${store.sizeBytes()} not below ${before.size}`);
  assert.deepEqual(store.hashKV(), before.hash);
  store.put(b("after"), b("defrag"));
  assert.equal(store.range(b("after"), null).count, 1);
  await store.close();
  const reopened = MvccStore.open(new LmdbBackend({ path: dir }));
  assert.equal(reopened.range(b("after"), null).count, 1);
  assert.equal(reopened.range(b("k0"), null).kvs[0]!.value.length, 4000);
  await reopened.close();
});
