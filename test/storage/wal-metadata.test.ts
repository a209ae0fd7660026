/** Wal.readMetadata: the creation metadata from the oldest segment's opening block, also after purges. */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wal } from "../../src/storage/wal/wal.js";
import { EntryType } from "../../src/raft/types.js";

test("readMetadata returns the creation metadata without opening the log, before and after purges", () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-wal-meta-"));
  try {
    const metadata = Buffer.from('{"member":"a1b2","cluster":"c3d4"}');
    const wal = Wal.create(dir, metadata, { segmentBytes: 16 * 1024, preallocateNextSegment: false });
    assert.deepEqual(Buffer.from(Wal.readMetadata(dir)), metadata);
    for (let index = 1; index <= 200; index++) {
      wal.save({ term: 1, vote: 0n, commit: index }, [{ index, term: 1, type: EntryType.Normal, data: new Uint8Array(300).fill(index & 0xff) }]);
      wal.sync();
    }
    assert.ok(wal.segmentNames().length > 3);
    wal.saveSnapshot({ index: 150, term: 1, confState: { voters: [1n], learners: [] } });
    wal.sync();
    wal.releaseTo(150);
    assert.ok(wal.purge(2).length > 0, "old segments purged");
    wal.close();
    assert.deepEqual(Buffer.from(Wal.readMetadata(dir)), metadata);
    const reopened = Wal.open(dir, { preallocateNextSegment: false });
    assert.deepEqual(Buffer.from(reopened.state.metadata), metadata);
    reopened.wal.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
