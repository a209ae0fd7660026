/**
 * Property tests (fast-check, fixed seeds): the MVCC store and its key index against the naive
 * Oracle, through random histories of puts, deletes, range deletes, multi-op transactions and
 * compactions, before and after rebuilding the index from the engine.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import type { Backend } from "../../src/storage/backend/backend.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { executeRange, SortOrder, SortTarget, type RangeRequest, type RangeResponse } from "../../src/storage/mvcc/range.js";
import { CompactedError, FutureRevisionError } from "../../src/storage/mvcc/errors.js";
import { KEY_BUCKET, decodeRevisionKey, isTombstoneKey } from "../../src/storage/schema.js";
import { Oracle, latin1, type Change } from "./mvcc-oracle.js";

const keyArb = fc.constantFrom("", "a", "a\x00", "ab", "b", "ba", "c", "foo", "foo/1", "foo/2", "z", "\xff");
const nonEmptyKey = keyArb.filter((k) => k !== "");
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("put" as const), key: nonEmptyKey, value: fc.constantFrom("", "x", "y", "zz", "v1", "v2"), lease: fc.constantFrom(0n, 0n, 7n, 0x694d7b3f1c2a8e05n) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), key: nonEmptyKey, end: fc.constant(null) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), key: keyArb.map((k) => k || "a"), end: keyArb }) },
);
type Op = { kind: "txn"; changes: Change[] } | { kind: "compact"; back: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.array(changeArb, { minLength: 1, maxLength: 4 }).map((changes) => ({ kind: "txn" as const, changes })) },
  { weight: 1, arbitrary: fc.nat({ max: 6 }).map((back) => ({ kind: "compact" as const, back })) },
);

function applyTo(store: MvccStore, oracle: Oracle, op: Op): void {
  if (op.kind === "compact") {
    const at = store.revision - op.back;
    if (at < 1) return;
    if (at <= oracle.compacted) {
      assert.throws(() => store.compact(at), CompactedError);
      return;
    }
    store.compact(at);
    oracle.compacted = at;
    return;
  }
  const txn = store.write();
  for (const c of op.changes) {
    if (c.kind === "put") txn.put(latin1(c.key), latin1(c.value), c.lease);
    else txn.deleteRange(latin1(c.key), c.end === null ? null : latin1(c.end));
  }
  txn.end();
  oracle.apply(op.changes);
}

type QueryOptions = Omit<RangeRequest, "key" | "rangeEnd">;

function rangeBoth(store: MvccStore, oracle: Oracle, key: string, end: string | null, options: QueryOptions): void {
  const expected = oracle.range({ ...options, key, end });
  const rangeEnd = end === null ? undefined : end === "" ? Uint8Array.of(0) : latin1(end);
  let actual: RangeResponse | "compacted" | "future";
  try {
    actual = executeRange(store.read(), { ...options, key: latin1(key), ...(rangeEnd === undefined ? {} : { rangeEnd }) });
  } catch (error) {
    if (error instanceof CompactedError) actual = "compacted";
    else if (error instanceof FutureRevisionError) actual = "future";
    else throw error;
  }
  assert.deepEqual(normalize(actual), normalize(expected), JSON.stringify({ key, end, options }));
}

function normalize(r: RangeResponse | string): unknown {
  if (typeof r === "string") return r;
  return { ...r, kvs: r.kvs.map((kv) => ({ ...kv, key: Buffer.from(kv.key).toString("latin1"), value: Buffer.from(kv.value).toString("latin1") })) };
}

const queryArb = fc.record({
  key: nonEmptyKey,
  end: fc.option(keyArb, { nil: null }),
  back: fc.nat({ max: 8 }),
  limit: fc.constantFrom(0, 0, 1, 2, 5),
  sortOrder: fc.constantFrom(SortOrder.None, SortOrder.Ascend, SortOrder.Descend),
  sortTarget: fc.constantFrom(SortTarget.Key, SortTarget.Version, SortTarget.Create, SortTarget.Mod, SortTarget.Value),
  keysOnly: fc.boolean(),
  countOnly: fc.constantFrom(false, false, true),
  minMod: fc.constantFrom(0, 0, 3, 6),
  maxMod: fc.constantFrom(0, 0, 4, 9),
  minCreate: fc.constantFrom(0, 0, 2, 5),
  maxCreate: fc.constantFrom(0, 0, 5, 8),
});

type Query = typeof queryArb extends fc.Arbitrary<infer Q> ? Q : never;

function checkAll(store: MvccStore, oracle: Oracle, queries: Query[]): void {
  assert.equal(store.revision, oracle.revision);
  assert.equal(store.compactRevision, oracle.compacted);
  // Every key at every readable revision, plus one unreadable on each side.
  for (let rev = Math.max(oracle.compacted - 1, 0); rev <= oracle.revision + 1; rev++) {
    rangeBoth(store, oracle, "\x00", "", { revision: rev });
  }
  for (const q of queries) {
    rangeBoth(store, oracle, q.key, q.end, {
      revision: q.back === 0 ? 0 : Math.max(oracle.revision - q.back, 1), limit: q.limit, sortOrder: q.sortOrder, sortTarget: q.sortTarget,
      keysOnly: q.keysOnly, countOnly: q.countOnly, minModRevision: q.minMod, maxModRevision: q.maxMod, minCreateRevision: q.minCreate, maxCreateRevision: q.maxCreate,
    });
  }
  // The engine holds exactly what etcd's compaction leaves.
  const stored = new Set<string>();
  store.forEachBucketEntry((bucket, key) => {
    if (bucket !== KEY_BUCKET) return;
    const rev = decodeRevisionKey(key);
    stored.add(`${rev.main}_${rev.sub}${isTombstoneKey(key) ? "t" : ""}`);
  });
  assert.deepEqual([...stored].sort(), [...oracle.expectedEngineRevisions()].sort());
}

function runProperty(makeBackend: () => { backend: Backend; reopen: () => Backend; cleanup: () => Promise<void> }, numRuns: number, seed: number): Promise<void> {
  return fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.array(queryArb, { minLength: 1, maxLength: 12 }), async (ops, queries) => {
      const env = makeBackend();
      try {
        let store = MvccStore.open(env.backend);
        const oracle = new Oracle();
        for (const op of ops) applyTo(store, oracle, op);
        checkAll(store, oracle, queries);
        // Rebuild the key index from the engine: same answers.
        store.commit();
        store = MvccStore.open(env.reopen());
        checkAll(store, oracle, queries);
        // And the rebuilt store keeps working.
        applyTo(store, oracle, { kind: "txn", changes: [{ kind: "put", key: "foo", value: "after", lease: 0n }, { kind: "delete", key: "a", end: "c" }] });
        checkAll(store, oracle, queries);
      } finally {
        await env.cleanup();
      }
    }),
    { seed, numRuns },
  );
}

test("MVCC range and compaction match the oracle (in-memory engine)", async () => {
  await runProperty(() => {
    const backend = new MemoryBackend();
    return { backend, reopen: () => backend, cleanup: async () => {} };
  }, 300, 1123);
});

test("MVCC range and compaction match the oracle (LMDB engine, reopened from disk)", async () => {
  await runProperty(() => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-mvcc-prop-"));
    const backends: LmdbBackend[] = [new LmdbBackend({ path: dir })];
    return {
      backend: backends[0]!,
      reopen: () => {
        const reopened = new LmdbBackend({ path: dir });
        backends.push(reopened);
        return reopened;
      },
      cleanup: async () => {
        for (const b of backends) await b.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }, 40, 2211);
});
