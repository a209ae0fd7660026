/**
 * WAL tests: round trip, group commit, segment cut and purge, torn tail, bad CRC mid-log, partial
 * segments, full disk, and crash at random points of a write (every synced record survives).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Wal, WalCorruptionError, WalWriteError, walExists } from "../../src/storage/wal/wal.js";
import { EntryType, type Entry } from "../../src/raft/types.js";
import { FaultFileSystem } from "./fault-fs.js";

const SEGMENT = 16 * 1024;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "cairn-wal-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "wal");
}

function entry(index: number, term = 1, size = 40): Entry {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i) & 0xff;
  return { term, index, type: EntryType.Normal, data };
}

function range(from: number, to: number, term = 1, size = 40): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".wal")).sort();
}

/** Offsets of record starts in a segment image (walking the framing without checking CRCs). */
function recordOffsets(image: Uint8Array): number[] {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const out: number[] = [];
  for (let at = 0; at + 12 <= image.length;) {
    const length = view.getUint32(at, true);
    if (length === 0 && image[at + 8] === 0) break;
    out.push(at);
    at += Math.ceil((12 + length) / 8) * 8;
  }
  return out;
}

test("round trip: metadata, hard state, entries; reopen appends after the last record", (t) => {
  const dir = tempDir(t);
  const meta = new TextEncoder().encode("node=1 cluster=2");
  const wal = Wal.create(dir, meta, { segmentBytes: SEGMENT });
  wal.save({ term: 1, vote: 7n, commit: 0 }, range(1, 10));
  wal.sync();
  wal.save({ term: 2, vote: 0n, commit: 10 }, range(11, 12, 2));
  wal.sync();
  wal.close();

  const { wal: again, state } = Wal.open(dir, { segmentBytes: SEGMENT });
  assert.deepEqual(state.metadata, meta);
  assert.deepEqual(state.hardState, { term: 2, vote: 0n, commit: 10 });
  assert.deepEqual(state.entries, [...range(1, 10), ...range(11, 12, 2)]);
  assert.equal(state.repairedTornTail, null);
  again.save(null, range(13, 13, 2));
  again.sync();
  again.close();
  assert.deepEqual(Wal.open(dir, { segmentBytes: SEGMENT }).state.entries.map((e) => e.index), range(1, 13).map((e) => e.index));
});

test("a rewritten index replaces the tail (Raft log truncation)", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
  wal.save(null, range(1, 5, 1));
  wal.save(null, range(4, 6, 2));
  wal.sync();
  wal.close();
  const { state } = Wal.open(dir);
  assert.deepEqual(state.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 2], [5, 2], [6, 2]]);
});

test("group commit: saves in one event-loop turn share one fdatasync", async (t) => {
  const dir = tempDir(t);
  const fs = new FaultFileSystem();
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT, fs, preallocateNextSegment: false });
  const before = fs.datasyncs;
  await Promise.all(range(1, 20).map((e) => wal.commit({ term: 1, vote: 0n, commit: e.index - 1 }, [e])));
  assert.equal(fs.datasyncs - before, 1);
  wal.close();
  assert.equal(Wal.open(dir).state.entries.length, 20);
});

test("segments are cut when full; snapshot marker, releaseTo and purge", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
  for (let i = 1; i <= 400; i += 10) {
    wal.save({ term: 1, vote: 1n, commit: i + 9 }, range(i, i + 9, 1, 200));
    wal.sync();
  }
  const names = wal.segmentNames();
  assert.ok(names.length >= 5, `expected several segments, got ${names.length}`);
  for (const name of segmentFiles(dir)) assert.equal(statSync(join(dir, name)).size, SEGMENT);
  assert.deepEqual(wal.purge(2), [], "nothing is purged before releaseTo");
  wal.saveSnapshot({ index: 300, term: 1, confState: { voters: [1n], learners: [] } });
  wal.sync();
  wal.releaseTo(300);
  const removed = wal.purge(2);
  assert.ok(removed.length > 0);
  wal.close();
  const { state } = Wal.open(dir, { segmentBytes: SEGMENT });
  assert.equal(state.snapshot?.index, 300);
  assert.deepEqual(state.snapshot?.confState.voters, [1n]);
  assert.deepEqual(state.entries.map((e) => e.index), range(301, 400).map((e) => e.index));
  assert.deepEqual(state.hardState, { term: 1, vote: 1n, commit: 400 });
});

test("torn tail: a partly written last batch is cut off, earlier records survive, appends continue", (t) => {
  const dir = tempDir(t);
  const fs = new FaultFileSystem();
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: 1 << 20, fs });
  wal.save({ term: 1, vote: 0n, commit: 5 }, range(1, 5));
  wal.sync();
  // The next batch is cut short: the disk takes 30 bytes (inside its first record), then the process "dies".
  fs.bytesLeft = 30;
  wal.save(null, range(6, 10));
  assert.throws(() => wal.sync(), WalWriteError);
  assert.throws(() => wal.save(null, range(11, 11)), WalWriteError, "a failed WAL accepts nothing more");

  const { wal: reopened, state } = Wal.open(dir);
  assert.deepEqual(state.entries.map((e) => e.index), [1, 2, 3, 4, 5]);
  assert.ok(state.repairedTornTail !== null, "the torn record is reported");
  reopened.save(null, range(6, 7, 2));
  reopened.sync();
  reopened.close();
  const final = Wal.open(dir).state;
  assert.deepEqual(final.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 2], [7, 2]]);
  assert.equal(final.repairedTornTail, null, "the repair was made durable");
});

test("torn tail: a record whose payload is half zeros (lost sector) is cut off", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0));
  wal.save(null, range(1, 3));
  wal.sync();
  wal.save(null, [entry(4, 1, 2000)]);
  wal.sync();
  wal.close();
  const file = join(dir, segmentFiles(dir)[0]!);
  const image = readFileSync(file);
  const last = recordOffsets(image).at(-1)!;
  image.fill(0, last + 1024, last + 1024 + 600); // a whole 512-byte sector inside the record never reached the disk
  writeFileSync(file, image);
  const { state } = Wal.open(dir);
  assert.deepEqual(state.entries.map((e) => e.index), [1, 2, 3]);
  assert.equal(state.repairedTornTail?.offset, last);
});

test("bad CRC mid-log is refused with the file and offset", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0));
  for (let i = 1; i <= 10; i++) {
    wal.save(null, [entry(i)]);
    wal.sync();
  }
  wal.close();
  const file = join(dir, segmentFiles(dir)[0]!);
  const image = readFileSync(file);
  const offsets = recordOffsets(image);
  const victim = offsets[offsets.length - 5]!;
  image[victim + 20] = (image[victim + 20] ?? 0) ^ 0x01; // one flipped bit in an entry's payload
  writeFileSync(file, image);
  assert.throws(() => Wal.open(dir), (error: unknown) => {
    assert.ok(error instanceof WalCorruptionError);
    assert.equal(error.file, file);
    assert.equal(error.offset, victim);
    assert.match(error.message, new RegExp(`corrupt WAL segment .*${segmentFiles(dir)[0]} at offset ${victim}: crc mismatch`));
    return true;
  });
});

test("corruption in a non-last segment is refused even at that segment's end", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
  for (let i = 1; i <= 200; i += 10) {
    wal.save(null, range(i, i + 9, 1, 200));
    wal.sync();
  }
  wal.close();
  const first = join(dir, segmentFiles(dir)[0]!);
  const image = readFileSync(first);
  const last = recordOffsets(image).at(-1)!;
  image.fill(0, last); // the first segment lost its last record: the chain into segment 2 breaks
  writeFileSync(first, image);
  assert.throws(() => Wal.open(dir, { segmentBytes: SEGMENT }), /previous segment ends early/);
});

test("partial segments: a truncated last segment is a torn tail; an unfinished new segment and .tmp files are dropped", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
  for (let i = 1; i <= 100; i += 10) {
    wal.save(null, range(i, i + 9, 1, 200));
    wal.sync();
  }
  wal.close();
  const names = segmentFiles(dir);
  const last = join(dir, names.at(-1)!);
  const offsets = recordOffsets(readFileSync(last));
  const lastRecord = offsets.at(-1)!;
  truncateSync(last, lastRecord + 30); // the file ends inside its last record
  // A segment that was renamed into place but holds only zeros, and a leftover temporary file.
  const seq = names.length;
  writeFileSync(join(dir, `${seq.toString(16).padStart(16, "0")}-${(999).toString(16).padStart(16, "0")}.wal`), new Uint8Array(SEGMENT));
  writeFileSync(join(dir, "00000000000000ff-0000000000000001.wal.tmp"), new Uint8Array(100));

  const { wal: reopened, state } = Wal.open(dir, { segmentBytes: SEGMENT });
  assert.deepEqual(state.entries.map((e) => e.index), range(1, 99).map((e) => e.index));
  assert.deepEqual(segmentFiles(dir), names);
  assert.ok(!readdirSync(dir).some((n) => n.endsWith(".tmp")));
  reopened.save(null, range(100, 110, 1, 200));
  reopened.sync();
  reopened.close();
  assert.equal(Wal.open(dir, { segmentBytes: SEGMENT }).state.entries.length, 110);
});

test("full disk: cutting a segment fails with ENOSPC; synced records survive, nothing half-made remains", (t) => {
  const dir = tempDir(t);
  const fs = new FaultFileSystem();
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT, fs });
  let synced = 0;
  fs.bytesLeft = SEGMENT * 2.5;
  assert.throws(() => {
    for (let i = 1; i <= 1000; i += 10) {
      wal.save(null, range(i, i + 9, 1, 200));
      wal.sync();
      synced = i + 9;
    }
  }, (error: unknown) => error instanceof WalWriteError && /ENOSPC/.test(error.message));
  assert.ok(synced > 0);
  const { state } = Wal.open(dir, { segmentBytes: SEGMENT });
  assert.ok(state.entries.length >= synced, `synced ${synced}, recovered ${state.entries.length}`);
  assert.ok(!readdirSync(dir).some((n) => n.endsWith(".tmp")));
});

test("short writes are completed; a failed fdatasync fails the WAL", (t) => {
  const dir = tempDir(t);
  const fs = new FaultFileSystem();
  const wal = Wal.create(dir, new Uint8Array(0), { fs });
  fs.shortWrites = true;
  wal.save(null, range(1, 50));
  wal.sync();
  fs.failNextDatasync = true;
  wal.save(null, range(51, 51));
  assert.throws(() => wal.sync(), /EIO/);
  assert.throws(() => wal.sync(), WalWriteError);
  assert.deepEqual(Wal.open(dir).state.entries.map((e) => e.index), range(1, 51).map((e) => e.index));
});

test("crash at a random byte of a write, many times: every synced entry survives, the log stays readable", (t) => {
  const root = tempDir(t);
  let run = 0;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 25 }), fc.nat({ max: 60_000 }), (batches, crashAfterBytes) => {
      const dir = `${root}-${run++}`;
      const fs = new FaultFileSystem();
      let wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: 8192, fs });
      let next = 1;
      let durable = 0;
      fs.bytesLeft = crashAfterBytes;
      for (const size of batches) {
        try {
          wal.save({ term: 1, vote: 0n, commit: durable }, range(next, next + size - 1, 1, 120));
          wal.sync();
          next += size;
          durable = next - 1;
        } catch {
          // Crash: reopen with a healthy disk and carry on, as a restarted member would.
          fs.bytesLeft = Infinity;
          const opened = Wal.open(dir, { segmentBytes: 8192, fs });
          const got = opened.state.entries.map((e) => e.index);
          assert.deepEqual(got.slice(0, durable), range(1, durable).map((e) => e.index));
          wal = opened.wal;
          next = (got.at(-1) ?? 0) + 1;
          durable = next - 1;
        }
      }
      wal.close();
      const final = Wal.open(dir, { segmentBytes: 8192 }).state.entries;
      assert.deepEqual(final.map((e) => e.index), range(1, durable).map((e) => e.index));
      rmSync(dir, { recursive: true, force: true });
    }),
    { seed: 4242, numRuns: 60 },
  );
});

test("walExists", (t) => {
  const dir = tempDir(t);
  assert.equal(walExists(dir), false);
  Wal.create(dir, new Uint8Array(0)).close();
  assert.equal(walExists(dir), true);
});

test("the next segment is preallocated in the background and used by the cut; close removes the spare", async (t) => {
  const dir = tempDir(t);
  const fs = new FaultFileSystem();
  const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT, fs });
  const spare = join(dir, "spare.wal.tmp");
  for (let turn = 0; turn < 10 && !(readdirSync(dir).includes("spare.wal.tmp") && statSync(spare).size === SEGMENT); turn++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(statSync(spare).size, SEGMENT, "spare segment zero-filled to full size");
  const spareBytes = readFileSync(spare);
  assert.ok(spareBytes.every((x) => x === 0));
  const createsBefore = fs.creates;
  for (let i = 1; i <= 200; i += 10) {
    wal.save(null, range(i, i + 9, 1, 200));
    wal.sync();
  }
  const cuts = wal.segmentNames().length - 1;
  assert.ok(cuts >= 2, "cuts happened");
  assert.equal(fs.creates - createsBefore, cuts - 1, "the first cut used the spare; later ones, with no spare ready, created in line");
  // The spare became the second segment; a new spare is prepared later.
  await new Promise((resolve) => setImmediate(resolve));
  wal.close();
  assert.ok(!readdirSync(dir).includes("spare.wal.tmp"), "close removes the spare");
  const { wal: reopened, state } = Wal.open(dir, { segmentBytes: SEGMENT, preallocateNextSegment: false });
  assert.deepEqual(state.entries.map((e) => e.index), range(1, 200).map((e) => e.index));
  reopened.close();
});

test("a damaged zero-heavy record followed by good records is corruption, not a torn tail", (t) => {
  const dir = tempDir(t);
  const wal = Wal.create(dir, new Uint8Array(0));
  wal.save(null, [entry(1)]);
  wal.sync();
  // Entry 2 carries 2 KiB of zeros (legitimate data); entry 3 follows it.
  wal.save(null, [{ term: 1, index: 2, type: EntryType.Normal, data: new Uint8Array(2048) }, entry(3)]);
  wal.sync();
  wal.close();
  const file = join(dir, segmentFiles(dir)[0]!);
  const image = readFileSync(file);
  const offsets = recordOffsets(image);
  const victim = offsets.at(-2)!;
  image[victim + 12 + 3] = (image[victim + 12 + 3] ?? 0) ^ 0x40; // flip a bit in entry 2's index field
  writeFileSync(file, image);
  assert.throws(() => Wal.open(dir), (error: unknown) => error instanceof WalCorruptionError && error.offset === victim);
});
