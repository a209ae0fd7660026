/**
 * The snapshot file format without etcd: trailer detection and verification, status computed from
 * the bbolt contents, and the exporter's ordering, streaming and clean-up on failure.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Crc32c } from "../../src/storage/bbolt/crc32c.js";
import {
  SnapshotFileError,
  checkSnapshotHash,
  exportSnapshot,
  hasSnapshotHash,
  snapshotStatus,
  verifySnapshotHash,
} from "../../src/storage/bbolt/snapshot-file.js";
import { encodeRevisionKey } from "../../src/storage/schema.js";
import { tempDir } from "./etcd-harness.js";

async function* slowly<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

test("exportSnapshot sorts buckets, streams async entries and appends a valid trailer", async () => {
  const dir = tempDir("export");
  try {
    const path = join(dir.path, "s.db");
    const keys = Array.from({ length: 2000 }, (_, i) => [encodeRevisionKey({ main: i + 1, sub: 0 }), Buffer.from(`value-${i}`)] as const);
    const written = await exportSnapshot(path, [
      { name: "meta", entries: [[Buffer.from("consistent_index"), Buffer.alloc(8)]] },
      { name: "key", entries: slowly(keys) },
      { name: "alarm", entries: [] },
    ]);
    const size = statSync(path).size;
    assert.equal(size, written.sizeBytes + 32);
    assert.ok(hasSnapshotHash(size));
    const bytes = readFileSync(path);
    assert.deepEqual(bytes.subarray(written.sizeBytes), createHash("sha256").update(bytes.subarray(0, written.sizeBytes)).digest());
    assert.equal(verifySnapshotHash(path, false), written.sizeBytes);

    // Status, recomputed independently: CRC-32C over bucket names then keys and values, in order.
    const crc = new Crc32c();
    crc.update(Buffer.from("alarm"));
    crc.update(Buffer.from("key"));
    for (const [key, value] of keys) crc.update(key).update(value);
    crc.update(Buffer.from("meta")).update(Buffer.from("consistent_index")).update(Buffer.alloc(8));
    assert.deepEqual(snapshotStatus(path), { hash: crc.digest(), revision: 2000n, totalKey: 2001, totalSize: written.sizeBytes });
  } finally {
    dir.cleanup();
  }
});

test("exportSnapshot removes its file when a source fails or is out of order", async () => {
  const dir = tempDir("export-fail");
  try {
    const path = join(dir.path, "s.db");
    async function* failing(): AsyncGenerator<readonly [Uint8Array, Uint8Array]> {
      yield [Buffer.from("a"), Buffer.from("1")];
      throw new Error("source broke");
    }
    await assert.rejects(exportSnapshot(path, [{ name: "key", entries: failing() }]), /source broke/);
    assert.ok(!existsSync(path));
    await assert.rejects(exportSnapshot(path, [{ name: "key", entries: [[Buffer.from("b"), Buffer.from("")], [Buffer.from("a"), Buffer.from("")]] }]), /strictly increasing/);
    assert.ok(!existsSync(path));
    writeFileSync(path, "precious");
    await assert.rejects(exportSnapshot(path, []), /EEXIST/);
    assert.equal(readFileSync(path, "utf8"), "precious", "an existing file is never overwritten");
  } finally {
    dir.cleanup();
  }
});

test("trailer checks: missing, mismatching, skipped", async () => {
  const dir = tempDir("trailer");
  try {
    const path = join(dir.path, "s.db");
    const written = await exportSnapshot(path, [{ name: "key", entries: [[encodeRevisionKey({ main: 1, sub: 0 }), Buffer.from("x")]] }]);
    const bytes = readFileSync(path);
    const noHash = join(dir.path, "nohash.db");
    writeFileSync(noHash, bytes.subarray(0, written.sizeBytes));
    assert.equal(checkSnapshotHash(noHash).hasHash, false);
    assert.throws(() => verifySnapshotHash(noHash, false), (e: unknown) => e instanceof SnapshotFileError && e.code === "MISSING_HASH");
    assert.equal(verifySnapshotHash(noHash, true), written.sizeBytes);

    const badHash = join(dir.path, "bad.db");
    const flipped = Buffer.from(bytes);
    flipped[written.sizeBytes + 3] = flipped[written.sizeBytes + 3]! ^ 1;
    writeFileSync(badHash, flipped);
    assert.throws(() => verifySnapshotHash(badHash, false), (e: unknown) => e instanceof SnapshotFileError && e.code === "HASH_MISMATCH" && /^expected sha256 \[\d+( \d+){31}\], got \[\d+( \d+){31}\]$/.test(e.message));
    assert.equal(verifySnapshotHash(badHash, true), written.sizeBytes);
    // Status ignores the trailer, as etcdctl's does.
    assert.deepEqual(snapshotStatus(badHash), snapshotStatus(path));
  } finally {
    dir.cleanup();
  }
});
