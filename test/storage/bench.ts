/**
 * Storage micro-benchmarks (not part of `npm test`; no timing is asserted anywhere). Run:
 *   npm run build && node dist/test/storage/bench.js [dir]
 * Prints WAL durable appends/s at batch 1/16/256 (real fdatasync on the disk holding `dir`), group
 * commit with concurrent callers, WAL replay time, and MVCC put/range throughput on LMDB.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wal } from "../../src/storage/wal/wal.js";
import { EntryType, type Entry } from "../../src/raft/types.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { executeRange } from "../../src/storage/mvcc/range.js";

const root = mkdtempSync(join(process.argv[2] ?? tmpdir(), "cairn-bench-"));
const DATA_BYTES = 256;

function entry(index: number): Entry {
  const data = new Uint8Array(DATA_BYTES);
  data.fill(index & 0xff);
  return { term: 1, index, type: EntryType.Normal, data };
}

/** Runs a WAL measurement three times (the machine is shared; fdatasync latency is noisy) and reports each. */
function walBatchRepeated(batch: number, totalRecords: number): string {
  const runs = [0, 1, 2].map(() => walBatch(batch, totalRecords));
  const rates = runs.map((r) => r.rate).sort((a, b) => a - b);
  return `WAL batch ${String(batch).padStart(3)}: median ${Math.round(rates[1]!).toLocaleString("en-US")} entries/s (runs: ${rates.map((r) => Math.round(r).toLocaleString("en-US")).join(", ")}); ${runs[0]!.detail}`;
}

function walBatch(batch: number, totalRecords: number): { rate: number; detail: string } {
  const dir = join(root, `wal-${batch}`);
  const wal = Wal.create(dir, new Uint8Array(0));
  let fsyncs = 0;
  let index = 1;
  const started = performance.now();
  while (index <= totalRecords) {
    const entries: Entry[] = [];
    for (let i = 0; i < batch; i++) entries.push(entry(index++));
    wal.save({ term: 1, vote: 1n, commit: index - 1 }, entries);
    wal.sync();
    fsyncs++;
  }
  const seconds = (performance.now() - started) / 1000;
  wal.close();
  const replayStart = performance.now();
  const { wal: reopened, state } = Wal.open(dir);
  const replayMs = performance.now() - replayStart;
  reopened.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    rate: (index - 1) / seconds,
    detail: `${Math.round(fsyncs / seconds).toLocaleString("en-US")} fdatasync/s, ${index - 1} entries of ${DATA_BYTES} B, replay of ${state.entries.length} entries ${replayMs.toFixed(0)} ms`,
  };
}

async function walGroupCommit(callers: number, rounds: number): Promise<string> {
  const dir = join(root, "wal-group");
  const wal = Wal.create(dir, new Uint8Array(0));
  let index = 1;
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(Array.from({ length: callers }, () => wal.commit(null, [entry(index++)])));
  }
  const seconds = (performance.now() - started) / 1000;
  wal.close();
  rmSync(dir, { recursive: true, force: true });
  return `WAL group commit, ${callers} concurrent commit() callers: ${Math.round((index - 1) / seconds).toLocaleString("en-US")} acknowledged entries/s`;
}

async function mvcc(): Promise<string[]> {
  const dir = join(root, "mvcc");
  const store = MvccStore.open(new LmdbBackend({ path: dir }));
  const value = new Uint8Array(DATA_BYTES).fill(7);
  const key = (i: number) => new TextEncoder().encode(`key/${String(i).padStart(8, "0")}`);
  const lines: string[] = [];
  for (const commitEvery of [1, 100]) {
    const n = commitEvery === 1 ? 20_000 : 100_000;
    const offset = commitEvery === 1 ? 1_000_000 : 0;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      store.put(key(offset + i), value);
      if ((i + 1) % commitEvery === 0) {
        store.setConsistentIndex(i + 1);
        store.commit();
      }
    }
    store.commit();
    const seconds = (performance.now() - started) / 1000;
    lines.push(`MVCC put (LMDB, commit every ${commitEvery} put${commitEvery === 1 ? "" : "s"}): ${Math.round(n / seconds).toLocaleString("en-US")} puts/s (${n} distinct keys, ${DATA_BYTES} B values)`);
  }
  const gets = 100_000;
  let started = performance.now();
  for (let i = 0; i < gets; i++) store.range(key((i * 7919) % 100_000), null);
  lines.push(`MVCC single-key range: ${Math.round(gets / ((performance.now() - started) / 1000)).toLocaleString("en-US")} ops/s`);
  const scans = 2_000;
  started = performance.now();
  for (let i = 0; i < scans; i++) {
    const from = (i * 7919) % 99_000;
    executeRange(store.read(), { key: key(from), rangeEnd: key(from + 100) });
  }
  const scanSeconds = (performance.now() - started) / 1000;
  lines.push(`MVCC 100-key range: ${Math.round(scans / scanSeconds).toLocaleString("en-US")} ranges/s (${Math.round((scans * 100) / scanSeconds).toLocaleString("en-US")} keys/s)`);
  started = performance.now();
  const hash = store.hashKV();
  lines.push(`HashKV over ${store.revision - 1} revisions: ${(performance.now() - started).toFixed(0)} ms (hash ${hash.hash})`);
  started = performance.now();
  await store.checkpoint();
  lines.push(`checkpoint (mdb_env_sync) after the load: ${(performance.now() - started).toFixed(0)} ms; db size ${(store.sizeBytes() / 2 ** 20).toFixed(1)} MiB, in use ${(store.sizeInUseBytes() / 2 ** 20).toFixed(1)} MiB`);
  await store.close();
  started = performance.now();
  const reopened = MvccStore.open(new LmdbBackend({ path: dir }));
  lines.push(`reopen (index rebuild of ${reopened.keyCount()} keys): ${(performance.now() - started).toFixed(0)} ms`);
  await reopened.close();
  return lines;
}

try {
  process.stdout.write(walBatchRepeated(1, 5_000) + "\n");
  process.stdout.write(walBatchRepeated(16, 48_000) + "\n");
  process.stdout.write(walBatchRepeated(256, 256_000) + "\n");
  process.stdout.write((await walGroupCommit(16, 2_000)) + "\n");
  for (const line of await mvcc()) process.stdout.write(line + "\n");
} finally {
  rmSync(root, { recursive: true, force: true });
}
