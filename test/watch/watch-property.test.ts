/**
 * Property test of watch delivery against a naive oracle. Random programs of puts, deletes,
 * multi-key txns, compactions, watcher creation/cancellation on two streams, partial consumption
 * and sync rounds run against the real MVCC store with tiny buffers (so watchers become victims
 * and catch up from history in small batches). The oracle is a list of every event ever made;
 * each watcher must receive exactly the oracle's events in its range, from its start revision,
 * after its filters, in order, with no revision split across two responses. The only events a
 * watcher may miss are those at a compaction revision (etcd drops them too), and a watcher
 * canceled for compaction must have been behind that revision.
 */
import test from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { MvccStore } from "../../src/storage/mvcc/index.js";
import { EventType, WatchableStore, type WatchEvent, type WatchStream } from "../../src/storage/watch/index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (u: Uint8Array) => new TextDecoder().decode(u);

const KEYS = ["a", "ab", "b", "c", "d"];
const RANGES: Array<[string, string | null]> = [["a", null], ["ab", null], ["c", null], ["a", "b"], ["b", "d"], ["b", ""], ["\0", ""]];

type Op =
  | { kind: "put"; key: string; value: string }
  | { kind: "delete"; key: string; end: string | null }
  | { kind: "txn"; keys: string[]; deletes: boolean[] }
  | { kind: "compact"; back: number }
  | { kind: "watch"; stream: number; range: number; startBack: number; noPut: boolean; noDelete: boolean }
  | { kind: "cancel"; pick: number }
  | { kind: "consume"; stream: number; count: number }
  | { kind: "sync" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("put" as const), key: fc.constantFrom(...KEYS), value: fc.string({ maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), key: fc.constantFrom(...KEYS), end: fc.constantFrom(null, "c", "") }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("txn" as const),
      keys: fc.uniqueArray(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
      deletes: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const), back: fc.integer({ min: 0, max: 6 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("watch" as const),
      stream: fc.integer({ min: 0, max: 1 }),
      range: fc.integer({ min: 0, max: RANGES.length - 1 }),
      startBack: fc.integer({ min: -4, max: 12 }),
      noPut: fc.boolean(),
      noDelete: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("consume" as const), stream: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("sync" as const) }) },
);

/** The oracle's view of one event. */
interface Flat {
  rev: number;
  type: EventType;
  key: string;
  value: string;
  create: number;
  version: number;
}

interface WatcherRecord {
  stream: number;
  id: bigint;
  key: string;
  end: string | null;
  /** First revision the watcher must see. */
  fromRev: number;
  noPut: boolean;
  noDelete: boolean;
  received: Flat[];
  /** Revisions seen in earlier responses: a revision must not reappear in a later response. */
  responseRevs: Set<number>;
  canceled: boolean;
  compactRevision: number;
}

function inRange(w: { key: string; end: string | null }, key: string): boolean {
  if (w.end === null) return key === w.key;
  if (Buffer.compare(enc(key), enc(w.key)) < 0) return false;
  return w.end === "" || Buffer.compare(enc(key), enc(w.end)) < 0;
}

function flat(e: WatchEvent): Flat {
  return { rev: e.kv.modRevision, type: e.type, key: dec(e.kv.key), value: dec(e.kv.value), create: e.kv.createRevision, version: e.kv.version };
}

function run(ops: Op[]): void {
  const mvcc = MvccStore.open(new MemoryBackend());
  const store = new WatchableStore(mvcc, { streamBufferResponses: 2, maxRevisionsPerBatch: 2, maxWatchersPerSync: 3 });
  const streams: WatchStream[] = [store.newWatchStream(), store.newWatchStream()];
  const oracle: Flat[] = [];
  const model = new Map<string, { value: string; create: number; version: number }>();
  const compactions = new Set<number>();
  const watchers: WatcherRecord[] = [];

  const record = (rev: number, changes: Array<{ key: string; value: string | null }>) => {
    for (const c of changes) {
      if (c.value === null) {
        model.delete(c.key);
        oracle.push({ rev, type: EventType.Delete, key: c.key, value: "", create: 0, version: 0 });
      } else {
        const prev = model.get(c.key);
        const next = { value: c.value, create: prev?.create ?? rev, version: (prev?.version ?? 0) + 1 };
        model.set(c.key, next);
        oracle.push({ rev, type: EventType.Put, key: c.key, ...next });
      }
    }
  };
  const liveKeys = (key: string, end: string | null) => [...model.keys()].filter((k) => inRange({ key, end }, k)).sort((x, y) => Buffer.compare(enc(x), enc(y)));

  const consume = (si: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const response = streams[si]!.next();
      if (response === undefined) return;
      const w = watchers.find((r) => r.stream === si && r.id === response.watchId);
      assert.ok(w !== undefined, `response for unknown watcher ${response.watchId}`);
      if (response.compactRevision !== 0) {
        w.compactRevision = response.compactRevision;
        continue;
      }
      const revs = new Set(response.events.map((e) => e.kv.modRevision));
      for (const r of revs) assert.ok(!w.responseRevs.has(r), `revision ${r} split across responses`);
      for (const r of revs) w.responseRevs.add(r);
      w.received.push(...response.events.map(flat));
    }
  };

  for (const op of ops) {
    switch (op.kind) {
      case "put":
        store.put(enc(op.key), enc(op.value));
        record(mvcc.revision, [{ key: op.key, value: op.value }]);
        break;
      case "delete": {
        const keys = liveKeys(op.key, op.end);
        const { deleted } = store.deleteRange(enc(op.key), op.end === null ? null : enc(op.end));
        assert.equal(deleted, keys.length);
        if (deleted > 0) record(mvcc.revision, keys.map((key) => ({ key, value: null })));
        break;
      }
      case "txn": {
        const txn = store.write();
        const changes: Array<{ key: string; value: string | null }> = [];
        op.keys.forEach((key, i) => {
          if (op.deletes[i] === true) {
            if (txn.deleteRange(enc(key), null).deleted > 0) changes.push({ key, value: null });
          } else {
            txn.put(enc(key), enc(`t${i}`), 0n);
            changes.push({ key, value: `t${i}` });
          }
        });
        txn.end();
        // Apply to the model in txn order (a delete of a key the txn put earlier is not generated).
        if (changes.length > 0) record(mvcc.revision, changes);
        break;
      }
      case "compact": {
        const rev = mvcc.revision - op.back;
        if (rev > Math.max(mvcc.compactRevision, 0) && rev >= 1) {
          store.compact(rev);
          compactions.add(rev);
        }
        break;
      }
      case "watch": {
        const [key, end] = RANGES[op.range]!;
        const startRev = op.startBack === -4 ? 0 : Math.max(1, mvcc.revision - op.startBack);
        const current = mvcc.revision;
        const id = streams[op.stream]!.watch(0n, enc(key), end === null ? null : enc(end), startRev, { noPut: op.noPut, noDelete: op.noDelete });
        const fromRev = startRev === 0 ? current + 1 : startRev;
        watchers.push({ stream: op.stream, id, key, end, fromRev, noPut: op.noPut, noDelete: op.noDelete, received: [], responseRevs: new Set(), canceled: false, compactRevision: 0 });
        break;
      }
      case "cancel": {
        const live = watchers.filter((w) => !w.canceled && w.compactRevision === 0);
        const w = live[op.pick % Math.max(live.length, 1)];
        if (w !== undefined) {
          assert.equal(streams[w.stream]!.cancel(w.id), true);
          w.canceled = true;
        }
        break;
      }
      case "consume":
        consume(op.stream, op.count);
        break;
      case "sync":
        store.sync();
        break;
    }
  }

  // Drain to quiescence: every buffered batch, victim and unsynced watcher must come through.
  for (let round = 0; round < 10_000; round++) {
    consume(0, Infinity);
    consume(1, Infinity);
    if (!store.needsSync()) break;
    store.sync();
  }
  assert.equal(store.needsSync(), false, "watchers never caught up");

  for (const w of watchers) {
    const expected = oracle.filter(
      (e) => e.rev >= w.fromRev && inRange(w, e.key) && !(w.noPut && e.type === EventType.Put) && !(w.noDelete && e.type === EventType.Delete),
    );
    // received must be a subsequence of expected; what is missing must sit at a compaction revision
    // (or follow a cancel).
    let j = 0;
    for (const got of w.received) {
      while (j < expected.length && JSON.stringify(expected[j]) !== JSON.stringify(got)) {
        assert.ok(compactions.has(expected[j]!.rev), `watcher ${w.id} (${w.key}..${w.end}) from ${w.fromRev} missed ${JSON.stringify(expected[j])}`);
        j++;
      }
      assert.ok(j < expected.length, `watcher ${w.id} received unexpected ${JSON.stringify(got)}; expected ${JSON.stringify(expected)}`);
      j++;
    }
    const rest = expected.slice(j);
    if (w.compactRevision !== 0) {
      const last = w.received.at(-1)?.rev ?? w.fromRev - 1;
      assert.ok(last + 1 < w.compactRevision, `canceled at ${w.compactRevision} though caught up to ${last}`);
    } else if (!w.canceled) {
      for (const e of rest) assert.ok(compactions.has(e.rev), `watcher ${w.id} (${w.key}..${w.end}) from ${w.fromRev} never got ${JSON.stringify(e)}`);
    }
  }
}

test("watch delivery matches a naive oracle (random programs, tiny buffers and batches)", () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => run(ops)),
    { seed: 20261123, numRuns: 2000 },
  );
});
