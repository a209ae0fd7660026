/**
 * Batched backend commits (MvccKvStore.setBatchPolicy) on the real LMDB engine: a store whose batch
 * is committed only when the limit, the (fake) interval timer or a forced commit says so answers
 * every read exactly as a store that commits each entry — ranges inside and outside txns, reads at
 * old revisions, compaction, HashKV, Hash, snapshot views — while committing far less often.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  CompactionRequestSchema,
  DeleteRangeRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
  TxnRequestSchema,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { EtcdError } from "../../src/api/errors.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { AlarmStore, applyRange, BackendApplier } from "../../src/server/apply.js";
import { MvccKvStore } from "../../src/server/store.js";

const enc = (s: string): Uint8Array => Buffer.from(s);

/** A timer source the test fires by hand. */
class ManualTimers {
  private timers: Array<{ fn: () => void; live: boolean }> = [];
  after(_delayMs: number, fn: () => void): () => void {
    const timer = { fn, live: true };
    this.timers.push(timer);
    return () => void (timer.live = false);
  }
  armed(): number {
    return this.timers.filter((t) => t.live).length;
  }
  fireAll(): void {
    const due = this.timers;
    this.timers = [];
    for (const t of due) if (t.live) t.fn();
  }
}

/** xorshift32: a reproducible op sequence. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

interface Member {
  store: MvccKvStore;
  applier: BackendApplier;
  backend: LmdbBackend;
  commits: number;
}

function member(dir: string): Member {
  const backend = new LmdbBackend({ path: dir, mapSizeBytes: 64 * 1024 * 1024 });
  const store = new MvccKvStore(MvccStore.open(backend));
  const m: Member = { store, applier: new BackendApplier(store, new AlarmStore()), backend, commits: 0 };
  store.observeCommits(() => m.commits++);
  return m;
}

/** Applies one request to a member, returning a printable result (errors by name). */
function apply(m: Member, index: number, op: (a: BackendApplier) => unknown): string {
  m.applier.index = index;
  try {
    return JSON.stringify(printable(op(m.applier)));
  } catch (err) {
    if (!(err instanceof EtcdError)) throw err;
    m.store.setConsistentIndex(index);
    return `error ${err.errorName}`;
  }
}

/** Bytes as latin1 text and bigints as decimals, so that Buffer and Uint8Array print alike. */
function printable(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("latin1");
  if (Array.isArray(value)) return value.map(printable);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v)]));
  return value;
}

function rangeAt(m: Member, revision: number): string {
  try {
    const r = m.store.read((view) => applyRange(view, create(RangeRequestSchema, { key: enc("\0"), rangeEnd: enc("\0"), revision: BigInt(revision) })));
    return r.kvs.map((kv) => `${Buffer.from(kv.key)}=${Buffer.from(kv.value)}@${kv.modRevision}/${kv.createRevision}/v${kv.version}`).join(" ") + ` count=${r.count}`;
  } catch (err) {
    if (err instanceof EtcdError) return `error ${err.errorName}`;
    throw err;
  }
}

test("a batched store reads, hashes and compacts exactly as one that commits every entry", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-batch-"));
  try {
    const plain = member(join(dir, "plain"));
    const batched = member(join(dir, "batched"));
    const timers = new ManualTimers();
    batched.store.setBatchPolicy({ intervalMs: 100, limit: 1_000_000, clock: timers });
    const random = rng(7);
    const key = () => `k${Math.floor(random() * 30)}`;
    let index = 0;
    for (let step = 0; step < 600; step++) {
      index++;
      const dice = random();
      const rev = plain.store.currentRevision();
      let op: (a: BackendApplier) => unknown;
      if (dice < 0.45) {
        const k = key();
        op = (a) => a.put(create(PutRequestSchema, { key: enc(k), value: enc(`v${step}`), prevKv: true }));
      } else if (dice < 0.6) {
        const [x, y] = [key(), key()].sort();
        op = (a) => a.deleteRange(create(DeleteRangeRequestSchema, { key: enc(x!), rangeEnd: enc(`${y}\0`), prevKv: true }));
      } else if (dice < 0.9) {
        // A txn whose compare and whose range read what earlier, still uncommitted, entries wrote.
        const [k, r] = [key(), key()];
        op = (a) =>
          a.txn(
            create(TxnRequestSchema, {
              compare: [{ key: enc(k), target: Compare_CompareTarget.VERSION, result: Compare_CompareResult.GREATER, targetUnion: { case: "version", value: 1n } }],
              success: [{ request: { case: "requestRange", value: create(RangeRequestSchema, { key: enc("k"), rangeEnd: enc("l") }) } }, { request: { case: "requestPut", value: create(PutRequestSchema, { key: enc(r), value: enc(`t${step}`) }) } }],
              failure: [{ request: { case: "requestDeleteRange", value: create(DeleteRangeRequestSchema, { key: enc(k) }) } }],
            }),
          );
      } else if (dice < 0.95) {
        const at = Math.max(1, rev - Math.floor(random() * 20));
        op = (a) => a.compaction(create(CompactionRequestSchema, { revision: BigInt(at) }));
      } else {
        timers.fireAll(); // the interval elapses between two entries
        const k = key();
        op = (a) => a.put(create(PutRequestSchema, { key: enc(k), value: enc("timer") }));
      }
      assert.equal(apply(batched, index, op), apply(plain, index, op), `step ${step}`);
      const back = Math.max(1, plain.store.currentRevision() - Math.floor(random() * 10));
      assert.equal(rangeAt(batched, back), rangeAt(plain, back), `range at ${back}, step ${step}`);
      if (step % 50 === 0) {
        assert.deepEqual(batched.store.hashKV(0), plain.store.hashKV(0), `hashKV at step ${step}`);
      }
    }
    assert.equal(batched.store.consistentIndex(), plain.store.consistentIndex());
    assert.equal(batched.store.hash(), plain.store.hash());
    const view = batched.store.snapshotView();
    try {
      const names = view.buckets();
      assert.ok(names.includes("key") && names.includes("meta"));
      assert.ok(view.page("key", undefined, 100_000).length > 0);
    } finally {
      view.release();
    }
    assert.ok(plain.commits >= 600, `plain committed ${plain.commits} times`);
    assert.ok(batched.commits < plain.commits / 3, `batched committed ${batched.commits} times against ${plain.commits}`);
    await plain.store.close();
    await batched.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the batch commits at the operation limit, at the interval, and on close; the consistent index comes with it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-batch-"));
  try {
    const m = member(dir);
    const timers = new ManualTimers();
    m.store.setBatchPolicy({ intervalMs: 100, limit: 10, clock: timers });
    const put = (i: number) => apply(m, i, (a) => a.put(create(PutRequestSchema, { key: enc(`p${i}`), value: enc("x") })));
    put(1);
    assert.equal(m.commits, 0);
    assert.equal(timers.armed(), 1, "the first pending entry arms the interval");
    put(2);
    assert.equal(timers.armed(), 1, "one interval per batch");
    timers.fireAll();
    assert.equal(m.commits, 1);
    assert.equal(m.backend.hasPending(), false);
    // Two operations per put (the change and the consistent index): the 5th put reaches 10.
    for (let i = 3; i <= 6; i++) put(i);
    assert.equal(m.commits, 1);
    put(7);
    assert.equal(m.commits, 2);
    assert.equal(timers.armed(), 0, "a commit disarms the interval");
    assert.equal(m.backend.hasPending(), false);
    put(8);
    assert.equal(m.backend.hasPending(), true);
    await m.store.close();
    const reopened = MvccStore.open(new LmdbBackend({ path: dir }));
    assert.equal(reopened.consistentIndex(), 8);
    assert.equal(reopened.range(enc("p8"), null).kvs.length, 1);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
