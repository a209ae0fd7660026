/**
 * LmdbBackend.forEach hands out values as views into lmdb-js's shared read buffer (restart speed).
 * Callers keep them with .slice(): that must copy (it would not on a Node Buffer), and copies taken
 * during a scan must survive it, across reopen and beside a second environment.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";

function valueOf(i: number): Uint8Array {
  // Sizes from tiny to overflow pages, contents unique per entry.
  const out = new Uint8Array(1 + ((i * 997) % 9000));
  for (let j = 0; j < out.length; j++) out[j] = (i + j * 31) & 0xff;
  return out;
}

test("values kept from a forEach scan with slice() stay intact after the scan", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-scan-"));
  try {
    let backend = new LmdbBackend({ path: join(dir, "a") });
    const other = new LmdbBackend({ path: join(dir, "b") });
    const n = 3000;
    for (let i = 0; i < n; i++) backend.put("bucket", Buffer.from(`k${String(i).padStart(5, "0")}`), valueOf(i));
    backend.commit();
    for (let round = 0; round < 2; round++) {
      const kept: Array<{ key: Uint8Array; value: Uint8Array }> = [];
      backend.forEach("bucket", (key, value) => {
        kept.push({ key: key.slice(), value: value.slice() });
        // Another environment reading and writing mid-scan must not disturb the copies.
        other.put("x", key, value);
        if (kept.length % 500 === 0) other.commit();
      });
      assert.equal(kept.length, n);
      for (const [i, { key, value }] of kept.entries()) {
        assert.equal(Buffer.from(key).toString(), `k${String(i).padStart(5, "0")}`);
        assert.deepEqual(Buffer.from(value), Buffer.from(valueOf(i)), `value ${i}, round ${round}`);
      }
      other.commit();
      let copied = 0;
      other.forEach("x", (key, value) => {
        const i = Number(Buffer.from(key).toString().slice(1));
        assert.deepEqual(Buffer.from(value), Buffer.from(valueOf(i)));
        copied++;
      });
      assert.equal(copied, n);
      await backend.close();
      backend = new LmdbBackend({ path: join(dir, "a") });
    }
    await backend.close();
    await other.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
