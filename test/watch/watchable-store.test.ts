/**
 * Unit tests of the watchable store on the real MVCC store: txn events delivered together, history
 * catch-up in bounded batches, compaction canceling a watcher that is behind, filters, watch IDs,
 * progress, and a stalled consumer whose memory stays bounded (also measured on the heap).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/index.js";
import { EventType, WatchError, WatchableStore, type WatchResponse, type WatchStream } from "../../src/storage/watch/index.js";

const b = (s: string) => new TextEncoder().encode(s);
const str = (u: Uint8Array) => new TextDecoder().decode(u);

function drain(stream: WatchStream): WatchResponse[] {
  const out: WatchResponse[] = [];
  for (let r = stream.next(); r !== undefined; r = stream.next()) out.push(r);
  return out;
}

function summary(responses: WatchResponse[]): string[] {
  return responses.map(
    (r) =>
      `${r.watchId}@${r.revision}${r.compactRevision !== 0 ? ` compacted ${r.compactRevision}` : ""}: ` +
      r.events.map((e) => `${e.type === EventType.Put ? "PUT" : "DELETE"} ${str(e.kv.key)}=${str(e.kv.value)} (${e.kv.modRevision})`).join(", "),
  );
}

test("the events of one txn arrive in one response, in change order", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  const stream = store.newWatchStream();
  assert.equal(stream.watch(0n, b("a"), b("z"), 0), 0n);
  store.put(b("x"), b("0"));
  const txn = store.write();
  txn.put(b("b"), b("1"), 0n);
  txn.deleteRange(b("x"), null);
  txn.put(b("c"), b("2"), 0n);
  txn.end();
  store.put(b("zz"), b("outside"));
  assert.deepEqual(summary(drain(stream)), ["0@2: PUT x=0 (2)", "0@3: PUT b=1 (3), DELETE x= (3), PUT c=2 (3)"]);
});

test("a watcher from an old revision catches up in batches of whole revisions, then goes live", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()), { maxRevisionsPerBatch: 2 });
  for (let i = 0; i < 5; i++) store.put(b("k"), b(`${i}`)); // revisions 2..6
  const stream = store.newWatchStream();
  stream.watch(0n, b("k"), null, 3);
  assert.deepEqual(drain(stream), [], "history is sent by sync, not at creation");
  assert.equal(store.stats().unsynced, 1);
  store.sync();
  store.sync();
  store.sync();
  store.put(b("k"), b("live"));
  assert.deepEqual(summary(drain(stream)), ["0@6: PUT k=1 (3), PUT k=2 (4)", "0@6: PUT k=3 (5), PUT k=4 (6)", "0@7: PUT k=live (7)"]);
  assert.deepEqual(store.stats(), { synced: 1, unsynced: 0, victims: 0 });
});

test("deletes from history carry the key and the deleting revision", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  store.put(b("a"), b("1"));
  store.deleteRange(b("a"), null);
  const stream = store.newWatchStream();
  stream.watch(0n, b("a"), null, 1);
  store.sync();
  assert.deepEqual(summary(drain(stream)), ["0@3: PUT a=1 (2), DELETE a= (3)"]);
});

test("compaction cancels a watcher that is behind it with compact_revision; one at the compaction revision is served", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  for (let i = 0; i < 6; i++) store.put(b("k"), b(`${i}`)); // revisions 2..7
  store.compact(5);
  const stream = store.newWatchStream();
  stream.watch(0n, b("k"), null, 4);
  stream.watch(0n, b("k"), null, 5);
  store.sync();
  assert.deepEqual(summary(drain(stream)), ["0@0 compacted 5: ", "1@7: PUT k=3 (5), PUT k=4 (6), PUT k=5 (7)"]);
  assert.equal(stream.cancel(0n), true, "a compacted watcher's cancel is still answered, as in etcd");
  assert.equal(stream.cancel(0n), false);
});

test("a victim's catch-up is canceled when compaction overtakes it", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()), { streamBufferResponses: 1 });
  const stream = store.newWatchStream();
  stream.watch(0n, b("k"), null, 0);
  for (let i = 0; i < 5; i++) store.put(b("k"), b(`${i}`)); // 2 is buffered; 3 is the victim's batch
  assert.deepEqual(store.stats(), { synced: 0, unsynced: 0, victims: 1 });
  store.compact(6);
  drain(stream);
  store.sync(); // delivers the victim batch (rev 3); the watcher is now unsynced from 4 < 6
  drain(stream);
  store.sync();
  assert.deepEqual(summary(drain(stream)), ["0@0 compacted 6: "]);
});

test("NOPUT / NODELETE filters; a response left empty by filtering is not sent", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  const stream = store.newWatchStream();
  stream.watch(0n, b("a"), b("b"), 0, { noPut: true });
  stream.watch(0n, b("a"), b("b"), 0, { noDelete: true });
  store.put(b("a"), b("1"));
  store.deleteRange(b("a"), null);
  assert.deepEqual(summary(drain(stream)), ["1@2: PUT a=1 (2)", "0@3: DELETE a= (3)"]);
});

test("watch IDs: client-chosen, auto (lowest free from 0), duplicate and empty-range errors", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  const stream = store.newWatchStream();
  assert.equal(stream.watch(1n, b("a"), null, 0), 1n);
  assert.equal(stream.watch(0n, b("a"), null, 0), 0n);
  assert.equal(stream.watch(0n, b("a"), null, 0), 2n);
  assert.throws(() => stream.watch(2n, b("a"), null, 0), (e: unknown) => e instanceof WatchError && e.message === "mvcc: duplicate watch ID provided on the WatchStream");
  assert.throws(() => stream.watch(0n, b("b"), b("a"), 0), (e: unknown) => e instanceof WatchError && e.message === "mvcc: watcher range is empty");
  assert.throws(() => stream.watch(0n, b("b"), b("b"), 0), (e: unknown) => e instanceof WatchError);
  assert.equal(stream.watch(7n, b("b"), new Uint8Array(0), 0), 7n, "an empty end means every key ≥ key");
  assert.equal(stream.cancel(1n), true);
  assert.equal(stream.cancel(1n), false);
  store.put(b("a"), b("x"));
  assert.deepEqual(drain(stream).map((r) => r.watchId), [0n, 2n]);
});

test("progress is reported for synced watchers only", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  store.put(b("a"), b("1"));
  const stream = store.newWatchStream();
  stream.watch(0n, b("a"), null, 0);
  stream.watch(0n, b("a"), null, 1);
  stream.requestProgress(0n);
  stream.requestProgress(1n);
  stream.requestProgress(9n);
  assert.deepEqual(summary(drain(stream)), ["0@2: "]);
});

test("a start revision in the future waits for it", () => {
  const store = new WatchableStore(MvccStore.open(new MemoryBackend()));
  const stream = store.newWatchStream();
  stream.watch(0n, b("a"), null, 4);
  for (let i = 0; i < 4; i++) store.put(b("a"), b(`${i}`)); // 2..5
  assert.deepEqual(summary(drain(stream)), ["0@4: PUT a=2 (4)", "0@5: PUT a=3 (5)"]);
});

function heapUsedAfterGc(): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test("a stalled consumer holds at most its buffer plus one batch per watcher (heap measured)", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-watch-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const backend = new LmdbBackend({ path: join(dir, "db") });
  t.after(() => backend.close());
  const mvcc = MvccStore.open(backend);
  const store = new WatchableStore(mvcc, { streamBufferResponses: 16 });
  const stalled = store.newWatchStream();
  for (let i = 0; i < 10; i++) stalled.watch(0n, b("k"), b("l"), 0);
  const value = new Uint8Array(4096).fill(120);
  const write = (n: number) => {
    for (let i = 0; i < n; i++) {
      store.put(b(`k${i % 100}`), value);
      if (i % 500 === 499) {
        mvcc.commit();
        store.compact(mvcc.revision - 10);
        store.sync();
      }
    }
    mvcc.commit();
  };
  write(2_000);
  const before = heapUsedAfterGc();
  write(12_000); // 48 MB of values produced for 10 watchers that never read
  const after = heapUsedAfterGc();
  t.diagnostic(`heap before ${(before / 1e6).toFixed(1)} MB, after ${(after / 1e6).toFixed(1)} MB`);
  assert.equal(stalled.buffered, 16);
  assert.ok(store.stats().victims + store.stats().unsynced <= 10);
  assert.ok(after - before < 16e6, `heap grew by ${((after - before) / 1e6).toFixed(1)} MB`);
  // Once the consumer reads again it is told its history was compacted away.
  drain(stalled);
  store.sync();
  drain(stalled);
  store.sync();
  const tail = drain(stalled);
  assert.ok(tail.some((r) => r.compactRevision > 0));
});
