/**
 * The Snapshot stream in-process: chunk sizes and remaining_bytes as etcd 3.4 sends them, the
 * digest message, and the read view's consistency (LMDB read transaction and the copying fallback).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import type { Backend } from "../../src/storage/backend/backend.js";
import { snapshotStatus } from "../../src/storage/bbolt/snapshot-file.js";
import { MvccStore } from "../../src/storage/mvcc/index.js";
import { DefragmentableBackend } from "../../src/server/defrag.js";
import { buildSnapshotFile, humanizeBytes, openBackendView, snapshotChunks, streamSnapshot, SNAPSHOT_CHUNK_BYTES } from "../../src/server/snapshot-stream.js";

function fill(store: MvccStore, from: number, count: number): void {
  for (let i = from; i < from + count; i++) store.put(Buffer.from(`/k/${i % 50}`), Buffer.from("x".repeat(300) + i));
  store.commit();
}

for (const engine of ["lmdb", "memory"] as const) {
  test(`${engine}: chunks carry etcd's remaining_bytes, then the sha256; writes after the view do not show`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "snap-stream-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const backend: Backend = engine === "lmdb" ? new LmdbBackend({ path: join(dir, "lmdb") }) : new MemoryBackend();
    const store = MvccStore.open(backend);
    t.after(() => store.close());
    fill(store, 0, 400);
    const revisionAtView = store.revision;

    const view = openBackendView(backend);
    // Writes and a compaction after the view was taken.
    fill(store, 400, 100);
    store.compact(store.revision - 1);
    const file = await buildSnapshotFile(view, join(dir, "scratch-"));
    view.release();
    const chunks = [...snapshotChunks(file)];
    file.remove();

    const data = chunks.slice(0, -1);
    const digest = chunks[chunks.length - 1]!;
    assert.ok(data.length > 2, "several chunks");
    let sent = 0;
    for (const chunk of data) {
      assert.ok(chunk.blob.length <= SNAPSHOT_CHUNK_BYTES);
      sent += chunk.blob.length;
      assert.equal(chunk.isDigest, false);
    }
    for (let i = 0; i < data.length; i++) {
      const after = data.slice(i + 1).reduce((n, c) => n + c.blob.length, 0);
      assert.equal(data[i]!.remainingBytes, BigInt(after), `remaining_bytes of chunk ${i}`);
    }
    assert.equal(data[data.length - 1]!.remainingBytes, 0n);
    assert.equal(digest.isDigest, true);
    assert.equal(digest.remainingBytes, 0n);
    const db = Buffer.concat(data.map((c) => c.blob));
    assert.deepEqual(Buffer.from(digest.blob), createHash("sha256").update(db).digest());

    // The file the client writes (concatenated blobs) is a snapshot at the view's revision.
    const saved = join(dir, "saved.db");
    writeFileSync(saved, Buffer.concat([db, digest.blob]));
    const status = snapshotStatus(saved);
    assert.equal(status.revision, BigInt(revisionAtView));
    assert.equal(sent, status.totalSize);
  });
}

test("streamSnapshot stops when the client cancels, and removes its file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "snap-cancel-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const backend = new MemoryBackend();
  const store = MvccStore.open(backend);
  fill(store, 0, 300);
  let written = 0;
  const sink = { write: () => (written++, true), drained: () => Promise.resolve(), cancelled: () => written >= 2 };
  await streamSnapshot(openBackendView(backend), sink, { info: () => undefined, warn: () => undefined }, join(dir, "scratch-"));
  assert.equal(written, 2);
  assert.deepEqual(readdirSync(dir), [], "temporary snapshot directory removed");
});

test("humanizeBytes prints sizes as go-humanize does", () => {
  assert.equal(humanizeBytes(5), "5 B");
  assert.equal(humanizeBytes(1500), "1.5 kB");
  assert.equal(humanizeBytes(61440), "61 kB");
  assert.equal(humanizeBytes(2_000_000), "2.0 MB");
});

test("defrag while a snapshot view is open: the view keeps reading the old file; the member keeps every write", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "snap-defrag-view-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, "snap");
  mkdirSync(dir);
  const backend = new DefragmentableBackend(dir);
  const store = MvccStore.open(backend);
  fill(store, 0, 2000);
  store.compact(store.revision - 10);
  const revisionAtView = store.revision;
  const view = openBackendView(backend);
  const result = backend.defragmentNow();
  assert.ok(result.afterBytes < result.beforeBytes, `${result.beforeBytes} → ${result.afterBytes}`);
  fill(store, 2000, 5);
  // The view still reads the pre-defrag environment, at its own revision.
  const file = await buildSnapshotFile(view, join(root, "scratch-"));
  view.release();
  const saved = join(root, "view.db");
  writeFileSync(saved, Buffer.concat([...snapshotChunks(file)].map((c) => c.blob)));
  file.remove();
  assert.equal(snapshotStatus(saved).revision, BigInt(revisionAtView));
  const hash = store.hashKV(0);
  await store.close();
  // Reopened from disk: the defragmented file plus the later writes.
  const reopened = MvccStore.open(new DefragmentableBackend(dir));
  assert.deepEqual(reopened.hashKV(0), hash);
  await reopened.close();
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith("snap-defrag-")), [], "defrag directory removed at close");
});
