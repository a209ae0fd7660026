/**
 * Restart cost of the MVCC store alone: fills an LMDB store with N keys (8-byte keys, 256-byte
 * values, as the bench's scale rows), then times `MvccStore.open` (the key-index rebuild) R times
 * in fresh child processes, so each open starts cold in V8 (the page cache stays warm).
 *
 *   node dist/bench/restore-index.js --keys=1000000 --runs=3 [--dir=PATH (kept; reused when full)]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { LmdbBackend } from "../src/storage/backend/lmdb.js";
import { MvccStore } from "../src/storage/mvcc/store.js";

const { values } = parseArgs({ options: { keys: { type: "string" }, runs: { type: "string" }, dir: { type: "string" }, child: { type: "boolean" } } });

if (values.child === true) {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const store = MvccStore.open(new LmdbBackend({ path: values.dir! }));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, rev: store.revision, rssMiB: process.memoryUsage().rss / 2 ** 20 }) + "\n");
  process.exit(0);
}

const keys = Number(values.keys ?? 1_000_000);
const runs = Number(values.runs ?? 3);
const dir = values.dir ?? mkdtempSync(join(tmpdir(), "cairn-restore-"));
const keep = values.dir !== undefined;
try {
  if (!existsSync(join(dir, "data.mdb"))) {
    const store = MvccStore.open(new LmdbBackend({ path: dir, mapSizeBytes: 4 * 2 ** 30 }));
    const value = new Uint8Array(256).fill(0x61);
    const key = Buffer.alloc(8);
    const started = Date.now();
    for (let i = 0; i < keys; i++) {
      key.writeBigUInt64BE(BigInt(i) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn); // scattered, like random keys
      store.put(key, value);
      if (i % 10_000 === 9_999) store.commit();
    }
    await store.close();
    process.stderr.write(`loaded ${keys} keys in ${Date.now() - started} ms into ${dir}\n`);
  }
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < runs; r++) {
    const out = spawnSync(process.execPath, [self, "--child", `--dir=${dir}`], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (out.status !== 0) throw new Error(out.stderr);
    process.stdout.write(out.stdout);
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
