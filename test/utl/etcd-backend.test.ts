/**
 * The compact bbolt copy used by etcd-format restore and defrag (src/storage/etcd/backend.ts) and
 * the block-cached file source under it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BboltReader } from "../../src/storage/bbolt/reader.js";
import { BboltWriteError } from "../../src/storage/bbolt/writer.js";
import { BLOCK_BYTES, BlockFileSource } from "../../src/storage/etcd/block-source.js";
import { copyBuckets, writeBboltFileAtomically } from "../../src/storage/etcd/backend.js";
import { tempDir } from "../bbolt/etcd-harness.js";
import { dumpBbolt } from "./etcd-restore-diff.js";

const bytes = (text: string) => Buffer.from(text);

test("block source returns the file's bytes for reads within and across blocks, up to the limit", () => {
  const temp = tempDir("block-source");
  try {
    const path = join(temp.path, "file");
    const content = randomBytes(3 * BLOCK_BYTES + 1234);
    writeFileSync(path, content);
    const source = new BlockFileSource(path, content.length - 32);
    try {
      assert.equal(source.sizeBytes, content.length - 32);
      for (const [offset, length] of [[0, 4096], [BLOCK_BYTES - 10, 20], [5, 2 * BLOCK_BYTES + 7], [3 * BLOCK_BYTES, 1000], [0, 0]] as const) {
        assert.ok(Buffer.from(source.read(offset, length)).equals(content.subarray(offset, offset + length)), `read(${offset}, ${length})`);
      }
      assert.throws(() => source.read(content.length + BLOCK_BYTES, 10));
    } finally {
      source.close();
    }
  } finally {
    temp.cleanup();
  }
});

test("copy: puts replace or insert keys, missing buckets are created, appends go last, nothing else changes", () => {
  const temp = tempDir("backend-copy");
  try {
    const sourcePath = join(temp.path, "source.db");
    writeBboltFileAtomically(sourcePath, 4096, (writer) => {
      writer.beginBucket("key", 7n);
      for (let i = 0; i < 500; i++) writer.put(bytes(`k${String(i).padStart(4, "0")}`), randomBytes(100));
      writer.endBucket();
      writer.beginBucket("meta");
      writer.put(bytes("a"), bytes("1"));
      writer.put(bytes("c"), bytes("3"));
      writer.endBucket();
    });
    assert.deepEqual(readdirSync(temp.path), ["source.db"], "no temporary file is left behind");
    const source = new BlockFileSource(sourcePath);
    try {
      const reader = BboltReader.open(source);
      const seen: string[] = [];
      const copyPath = join(temp.path, "copy.db");
      writeBboltFileAtomically(copyPath, reader.pageSize, (writer) =>
        copyBuckets(reader, writer, {
          ensureBuckets: ["lease"],
          puts: new Map([["meta", new Map([["b", bytes("2")], ["c", bytes("three")]])]]),
          keepSequences: true,
          observe: (bucket, key) => seen.push(`${bucket}/${Buffer.from(key).toString()}`),
          append: (bucket) => (bucket === "key" ? [[bytes("zz"), bytes("appended")] as const] : []),
        }),
      );
      const before = dumpBbolt(sourcePath);
      const after = dumpBbolt(copyPath);
      const hex = (text: string) => Buffer.from(text).toString("hex");
      const expected = [
        ...before.filter((line) => line.startsWith("bucket key") || line.startsWith("key ")),
        `key ${hex("zz")} ${hex("appended")}`,
        "bucket lease",
        "bucket meta",
        `meta ${hex("a")} ${hex("1")}`,
        `meta ${hex("b")} ${hex("2")}`,
        `meta ${hex("c")} ${hex("three")}`,
      ];
      assert.deepEqual(after, expected);
      assert.equal(seen.length, 503);
      const copy = new BlockFileSource(copyPath);
      try {
        assert.equal(BboltReader.open(copy).bucket("key")!.sequence, 7n);
      } finally {
        copy.close();
      }
      // An append that does not sort last is refused, and the target is not created.
      const badPath = join(temp.path, "bad.db");
      assert.throws(
        () => writeBboltFileAtomically(badPath, reader.pageSize, (writer) => copyBuckets(reader, writer, { keepSequences: false, append: () => [[bytes("a"), bytes("x")]] })),
        BboltWriteError,
      );
      assert.equal(existsSync(badPath), false);
      assert.deepEqual(readdirSync(temp.path).sort(), ["copy.db", "source.db"]);
    } finally {
      source.close();
    }
  } finally {
    temp.cleanup();
  }
});
