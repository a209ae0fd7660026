/**
 * The bbolt writer and reader against each other and against corruption: whatever the writer
 * produces reads back identically and passes the structural check; whatever bytes the reader is
 * given, it returns entries or throws BboltFormatError, and always terminates.
 */
import test from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { crc32c } from "../../src/storage/bbolt/crc32c.js";
import { DEFAULT_PAGE_SIZE_BYTES, fnv64a } from "../../src/storage/bbolt/layout.js";
import { BboltFormatError, BboltReader, decodeBucketValue } from "../../src/storage/bbolt/reader.js";
import { BufferSource } from "../../src/storage/bbolt/source.js";
import { BboltWriteError, BboltWriter, MemorySink } from "../../src/storage/bbolt/writer.js";

type Bucket = { name: string; entries: [Uint8Array, Uint8Array][] };

function writeDb(buckets: Bucket[]): Uint8Array {
  const sink = new MemorySink();
  const writer = new BboltWriter(sink);
  for (const bucket of buckets) {
    writer.beginBucket(bucket.name);
    for (const [key, value] of bucket.entries) writer.put(key, value);
    writer.endBucket();
  }
  const written = writer.finish();
  const bytes = sink.bytes();
  assert.equal(bytes.length, written.sizeBytes);
  return bytes;
}

function readDb(bytes: Uint8Array): Bucket[] {
  const reader = BboltReader.open(new BufferSource(bytes));
  reader.check();
  const out: Bucket[] = [];
  for (const bucket of reader.entries(reader.rootBucket())) {
    assert.ok(bucket.isBucket);
    const entries: [Uint8Array, Uint8Array][] = [];
    for (const entry of reader.entries(decodeBucketValue(bucket.value))) entries.push([new Uint8Array(entry.key), new Uint8Array(entry.value)]);
    out.push({ name: Buffer.from(bucket.key).toString(), entries });
  }
  return out;
}

/** Buckets with keys and values as hex, so Buffers and Uint8Arrays compare equal. */
function canon(buckets: Bucket[]): { name: string; entries: [string, string][] }[] {
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
  return buckets.map((b) => ({ name: b.name, entries: b.entries.map(([k, v]) => [hex(k), hex(v)] as [string, string]) }));
}

/** Sorted, de-duplicated entries. */
function normalize(entries: [Uint8Array, Uint8Array][]): [Uint8Array, Uint8Array][] {
  const map = new Map<string, [Uint8Array, Uint8Array]>();
  for (const entry of entries) map.set(Buffer.from(entry[0]).toString("hex"), entry);
  return [...map.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
}

/** etcd-style revision key: 8-byte main, '_', 8-byte sub. */
function revisionKey(main: number, sub = 0): Uint8Array {
  const key = Buffer.alloc(17);
  key.writeBigInt64BE(BigInt(main), 0);
  key[8] = 0x5f;
  key.writeBigInt64BE(BigInt(sub), 9);
  return key;
}

test("crc32c and fnv64a match their reference vectors", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // Slicing-by-8 and the byte-at-a-time tail must agree for every length.
  const data = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff));
  for (let n = 0; n < data.length; n++) {
    let bytewise = 0xffffffff;
    for (const byte of data.subarray(0, n)) {
      bytewise ^= byte;
      for (let bit = 0; bit < 8; bit++) bytewise = bytewise & 1 ? (bytewise >>> 1) ^ 0x82f63b78 : bytewise >>> 1;
    }
    assert.equal(crc32c(data.subarray(0, n)), (bytewise ^ 0xffffffff) >>> 0, `length ${n}`);
  }
  assert.equal(fnv64a(new Uint8Array(0)), 0xcbf29ce484222325n);
  assert.equal(fnv64a(Buffer.from("a")), 0xaf63dc4c8601ec8cn);
});

test("small buckets are stored inline and empty buckets are valid", () => {
  const bytes = writeDb([
    { name: "alarm", entries: [] },
    { name: "key", entries: Array.from({ length: 300 }, (_, i) => [revisionKey(i + 1), Buffer.alloc(60, i)] as [Uint8Array, Uint8Array]) },
    { name: "meta", entries: [[Buffer.from("consistent_index"), Buffer.alloc(8, 1)]] },
  ]);
  const reader = BboltReader.open(new BufferSource(bytes));
  reader.check();
  assert.equal(reader.bucket("alarm")?.root, 0n);
  assert.equal(reader.bucket("meta")?.root, 0n);
  assert.notEqual(reader.bucket("key")?.root, 0n);
  assert.equal(reader.bucket("nope"), undefined);
  const back = readDb(bytes);
  assert.deepEqual(back.map((b) => [b.name, b.entries.length]), [["alarm", 0], ["key", 300], ["meta", 1]]);
});

test("deep trees, overflow values and large keys read back exactly", () => {
  // 30,000 revision keys with 100-byte values: ~1,000 leaves, 9 branch pages, a root branch.
  const many = Array.from({ length: 30_000 }, (_, i) => [revisionKey(i + 1, i % 3), Buffer.alloc(100, i & 0xff)] as [Uint8Array, Uint8Array]);
  const big: [Uint8Array, Uint8Array][] = [
    [Buffer.from("a"), Buffer.alloc(3 * DEFAULT_PAGE_SIZE_BYTES + 5, 7)],
    [Buffer.from("b"), Buffer.alloc(10, 1)],
    [Buffer.alloc(32768, 0x63), Buffer.alloc(200_000, 9)],
    [Buffer.from("d"), new Uint8Array(0)],
  ];
  const bigKeys = Array.from({ length: 40 }, (_, i) => [Buffer.alloc(5000, 0x41 + i), Buffer.from([i])] as [Uint8Array, Uint8Array]);
  const input = [
    { name: "big", entries: big },
    { name: "bigkeys", entries: bigKeys },
    { name: "key", entries: many },
  ];
  const bytes = writeDb(input);
  assert.deepEqual(canon(readDb(bytes)), canon(input));
});

test("property: any sorted buckets round-trip through writer and reader", () => {
  const key = fc.uint8Array({ minLength: 1, maxLength: 40 });
  const value = fc.oneof(
    { weight: 10, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 3000, maxLength: 12_000 }) },
  );
  const bucket = fc.record({
    name: fc.string({ minLength: 1, maxLength: 12 }),
    entries: fc.array(fc.tuple(key, value), { maxLength: 400 }),
  });
  fc.assert(
    fc.property(fc.array(bucket, { maxLength: 6 }), (raw) => {
      const byName = new Map<string, Bucket>();
      for (const b of raw) byName.set(Buffer.from(b.name).toString("hex"), { name: b.name, entries: normalize(b.entries) });
      const buckets = [...byName.values()].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
      assert.deepEqual(canon(readDb(writeDb(buckets))), canon(buckets));
    }),
    { seed: 0x5eed, numRuns: 150 },
  );
});

test("the writer copies its input, so callers may reuse one buffer", () => {
  const key = Buffer.alloc(17);
  const value = Buffer.alloc(30);
  const sink = new MemorySink();
  const writer = new BboltWriter(sink);
  writer.beginBucket(Buffer.from("key"));
  for (let rev = 1; rev <= 500; rev++) {
    key.writeBigInt64BE(BigInt(rev), 0);
    value.fill(rev & 0xff);
    writer.put(key, value);
  }
  writer.endBucket();
  writer.finish();
  const [bucket] = readDb(sink.bytes());
  assert.equal(bucket!.entries.length, 500);
  bucket!.entries.forEach(([k, v], i) => {
    assert.equal(Buffer.from(k).readBigInt64BE(0), BigInt(i + 1));
    assert.equal(v[0], (i + 1) & 0xff);
  });
});

test("the writer refuses unsorted, duplicate, empty and oversized keys", () => {
  const writer = new BboltWriter(new MemorySink());
  writer.beginBucket("b");
  writer.put(Buffer.from("k2"), Buffer.from(""));
  assert.throws(() => writer.put(Buffer.from("k1"), Buffer.from("")), BboltWriteError);
  assert.throws(() => writer.put(Buffer.from("k2"), Buffer.from("")), BboltWriteError);
  assert.throws(() => writer.put(new Uint8Array(0), Buffer.from("")), BboltWriteError);
  assert.throws(() => writer.put(Buffer.alloc(32769, 0x7a), Buffer.from("")), BboltWriteError);
  writer.endBucket();
  assert.throws(() => writer.beginBucket("a"), BboltWriteError);
});

/** Small deterministic generator for the corruption cases. */
function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

/** Opens, checks and fully iterates; returns "ok" or the BboltFormatError code. Anything else fails. */
function readEverything(bytes: Uint8Array): string {
  try {
    readDb(bytes);
    return "ok";
  } catch (error) {
    if (error instanceof BboltFormatError) return error.code;
    throw error;
  }
}

test("corrupt files give BboltFormatError, never a crash or a hang", () => {
  const pristine = writeDb([
    { name: "key", entries: Array.from({ length: 2000 }, (_, i) => [revisionKey(i + 1), Buffer.alloc(80, i)] as [Uint8Array, Uint8Array]) },
    { name: "meta", entries: [[Buffer.from("consistent_index"), Buffer.alloc(8)]] },
    { name: "zbig", entries: [[Buffer.from("v"), Buffer.alloc(20_000, 3)]] },
  ]);
  const random = xorshift(42);
  const outcomes = new Map<string, number>();
  for (let round = 0; round < 400; round++) {
    const bytes = pristine.slice();
    const pageCount = bytes.length / DEFAULT_PAGE_SIZE_BYTES;
    // Aim at the structural bytes: page headers and element tables of a random page.
    const page = 2 + Math.floor(random() * (pageCount - 2));
    const offset = page * DEFAULT_PAGE_SIZE_BYTES + Math.floor(random() * (random() < 0.7 ? 64 : DEFAULT_PAGE_SIZE_BYTES));
    const flips = 1 + Math.floor(random() * 4);
    for (let i = 0; i < flips; i++) bytes[offset + i] = Math.floor(random() * 256);
    const outcome = readEverything(bytes);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  assert.ok((outcomes.get("CORRUPT") ?? 0) > 50, `corruptions detected: ${JSON.stringify([...outcomes])}`);

  for (const length of [0, 10, 100, 4096, 8192, 8192 + 100, pristine.length - 4096, pristine.length - 1]) {
    const code = readEverything(pristine.subarray(0, length));
    assert.ok(["TOO_SMALL", "TRUNCATED", "INVALID"].includes(code), `truncated to ${length}: ${code}`);
  }

  const badMeta = pristine.slice();
  badMeta[16 + 20] = badMeta[16 + 20]! ^ 0xff; // root pgid of meta 0; meta 1 still valid, so the file still opens
  assert.equal(readEverything(badMeta), "ok");
  badMeta[DEFAULT_PAGE_SIZE_BYTES + 16 + 20] = badMeta[DEFAULT_PAGE_SIZE_BYTES + 16 + 20]! ^ 0xff;
  assert.equal(readEverything(badMeta), "CHECKSUM");
});

test("a branch page pointing back at itself or an ancestor is reported, not followed", () => {
  const bytes = writeDb([{ name: "key", entries: Array.from({ length: 3000 }, (_, i) => [revisionKey(i + 1), Buffer.alloc(80)] as [Uint8Array, Uint8Array]) }]);
  const reader = BboltReader.open(new BufferSource(bytes));
  const root = reader.bucket("key")!.root;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const rootOffset = Number(root) * DEFAULT_PAGE_SIZE_BYTES;
  assert.equal(view.getUint16(rootOffset + 8, true), 0x01, "root of a 3000-key bucket is a branch");
  // Point the root's last child at the root itself.
  const count = view.getUint16(rootOffset + 10, true);
  view.setBigUint64(rootOffset + 16 + (count - 1) * 16 + 8, root, true);
  assert.throws(() => readDb(bytes), (error: unknown) => error instanceof BboltFormatError && /multiple references|points to itself/.test(error.message));
});
