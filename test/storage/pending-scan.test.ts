/**
 * Scans see only committed data, so both engines refuse to scan a bucket that has pending writes
 * (a caller that forgot to commit would silently miss them); other buckets and pending bucket
 * creations do not block a scan.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PendingScanError, type Backend } from "../../src/storage/backend/backend.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MemoryBackend } from "../../src/storage/backend/memory.js";

const b = (s: string): Uint8Array => Buffer.from(s);

function check(backend: Backend): void {
  backend.createBucket("one");
  backend.createBucket("two");
  assert.deepEqual(backend.range("one", new Uint8Array(0), null), [], "a pending creation does not block a scan");
  backend.put("one", b("k"), b("v"));
  assert.throws(() => backend.range("one", new Uint8Array(0), null), PendingScanError);
  assert.throws(() => backend.forEach("one", () => undefined), PendingScanError);
  assert.deepEqual(backend.range("two", new Uint8Array(0), null), [], "another bucket's pending write does not block");
  backend.commit();
  assert.deepEqual(backend.range("one", new Uint8Array(0), null).map((e) => Buffer.from(e.key).toString()), ["k"]);
  backend.delete("one", b("k"));
  assert.throws(() => backend.forEach("one", () => undefined), PendingScanError, "a pending delete blocks too");
  backend.commit();
  let n = 0;
  backend.forEach("one", () => n++);
  assert.equal(n, 0);
}

test("memory engine: no scan over pending writes", () => check(new MemoryBackend()));

test("LMDB engine: no scan over pending writes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-pending-scan-"));
  const backend = new LmdbBackend({ path: dir });
  try {
    check(backend);
  } finally {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
