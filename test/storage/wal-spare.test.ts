/**
 * The WAL's next segment, prepared off the event loop on the real file system: it is zero-filled to
 * full size and synced by the thread pool, the next cut renames it into place, and close (or a cut
 * that comes first) cancels a preparation under way without leaving files behind.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wal } from "../../src/storage/wal/wal.js";
import { EntryType, type Entry } from "../../src/raft/types.js";

/** Several 1 MiB writes per spare, and a cut after a few hundred entries. */
const SEGMENT = 3 * 1024 * 1024 + 4096;

function entries(from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push({ index, term: 1, type: EntryType.Normal, data: new Uint8Array(16 * 1024).fill(index & 0xff) });
  return out;
}

const spares = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith(".wal.tmp"));

async function until(condition: () => boolean, what: string): Promise<void> {
  // A safety net, not a deadline: preparing a spare writes a whole segment, slow on a loaded disk.
  for (let i = 0; i < 3000 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

test("the spare segment is prepared off the event loop, used by the next cut, and cancelled by close", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-wal-spare-"));
  try {
    const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
    await until(() => wal.spareReady(), "the spare");
    const [spare] = spares(dir);
    assert.ok(spare !== undefined);
    assert.equal(statSync(join(dir, spare)).size, SEGMENT);
    assert.ok(readFileSync(join(dir, spare)).every((b) => b === 0), "the spare is all zeros");

    // Fill the first segment until a cut takes the spare.
    let index = 0;
    while (wal.segmentNames().length < 2) {
      wal.save(null, entries(index + 1, index + 10));
      wal.sync();
      index += 10;
    }
    assert.ok(!readdirSync(dir).includes(spare), "the cut renamed the spare into place");
    assert.equal(statSync(join(dir, wal.segmentNames()[1]!)).size, SEGMENT);
    // A new spare is under way; close cancels it and its file goes.
    await until(() => spares(dir).length > 0, "the next spare to start");
    wal.close();
    await until(() => spares(dir).length === 0, "the cancelled spare to be removed");

    const { wal: reopened, state } = Wal.open(dir, { segmentBytes: SEGMENT, preallocateNextSegment: false });
    assert.deepEqual(state.entries.map((e) => e.index), entries(1, index).map((e) => e.index));
    assert.ok(state.entries.every((e) => e.data[0] === (e.index & 0xff)));
    reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a cut before the spare is ready writes its segment in line and starts a fresh spare", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-wal-spare-"));
  try {
    const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
    let index = 0;
    // No waiting: the first cuts come while the spares are still being written.
    while (wal.segmentNames().length < 3) {
      wal.save(null, entries(index + 1, index + 50));
      wal.sync();
      index += 50;
    }
    await until(() => wal.spareReady(), "a spare after the cuts");
    assert.equal(spares(dir).length, 1, "only the live spare remains");
    wal.close();
    await until(() => spares(dir).length === 0, "close to remove the spare");
    const { wal: reopened, state } = Wal.open(dir, { segmentBytes: SEGMENT, preallocateNextSegment: false });
    assert.equal(state.entries.length, index);
    reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a WAL closed and reopened in one process names its new spare apart from the cancelled one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-wal-spare-"));
  try {
    const wal = Wal.create(dir, new Uint8Array(0), { segmentBytes: SEGMENT });
    await until(() => spares(dir).length > 0, "the first spare to start");
    const [first] = spares(dir);
    // Closed while its job is writing: the job removes its file when its pending call returns.
    wal.close();
    const { wal: reopened } = Wal.open(dir, { segmentBytes: SEGMENT });
    await until(() => reopened.spareReady(), "the reopened WAL's spare");
    const [second] = spares(dir);
    assert.ok(first !== undefined && second !== undefined);
    assert.notEqual(second, first, "the reopened WAL reused the cancelled spare's name");
    assert.ok(second.includes(`-${process.pid}-`), `${second} names the process`);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(spares(dir), [second], "the ready spare is still there");
    assert.equal(statSync(join(dir, second)).size, SEGMENT);
    reopened.close();
    await until(() => spares(dir).length === 0, "close to remove the spare");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
