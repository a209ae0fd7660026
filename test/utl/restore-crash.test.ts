/**
 * kill -9 during `cairnutl snapshot restore`: whenever the process dies, the data directory either
 * does not exist or is complete (every key of the snapshot is in its backend). It is never half
 * written, and a new restore into the same path then succeeds.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { KEY_BUCKET } from "../../src/storage/schema.js";
import { tempDir } from "../bbolt/etcd-harness.js";
import { writeFixtureSnapshot } from "./fixtures.js";

const CAIRNUTL = join(import.meta.dirname, "../../src/utl/main.js");
const KEY_COUNT = 100_000;
/** Delays before the kill; they only spread the kill over the restore, nothing asserts on time. */
const KILL_AFTER_MS = [0, 150, 600, 1500, 3000];

async function countKeys(dataDir: string): Promise<number> {
  const backend = new LmdbBackend({ path: join(dataDir, "member", "snap") });
  try {
    let count = 0;
    backend.forEach(KEY_BUCKET, () => count++);
    return count;
  } finally {
    await backend.close();
  }
}

function restoreArgs(snapshot: string, dataDir: string): string[] {
  return [CAIRNUTL, "snapshot", "restore", snapshot, `--data-dir=${dataDir}`];
}

test("kill -9 during restore leaves no data dir or a complete one", async () => {
  const dir = tempDir("restore-crash");
  try {
    const snapshot = join(dir.path, "s.db");
    writeFixtureSnapshot(snapshot, KEY_COUNT);
    const outcomes: string[] = [];
    for (const [i, delay] of KILL_AFTER_MS.entries()) {
      const dataDir = join(dir.path, `data-${i}`);
      const child = spawn(process.execPath, restoreArgs(snapshot, dataDir), { stdio: "ignore" });
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      await new Promise((r) => setTimeout(r, delay));
      child.kill("SIGKILL");
      await exited;
      if (existsSync(dataDir)) {
        assert.equal(await countKeys(dataDir), KEY_COUNT, `killed after ${delay} ms: a data dir exists, so it must be complete`);
        outcomes.push("complete");
      } else {
        outcomes.push("absent");
        const again = spawnSync(process.execPath, restoreArgs(snapshot, dataDir), { encoding: "utf8" });
        assert.equal(again.status, 0, again.stderr);
        assert.equal(await countKeys(dataDir), KEY_COUNT);
      }
    }
    assert.ok(outcomes.includes("absent"), `some kill landed mid-restore: ${outcomes.join(", ")}`);
    // Each successful restore removed the temporary directory its killed predecessor left.
    assert.deepEqual(readdirSync(dir.path).filter((name) => name.includes(".restoring-")), []);
  } finally {
    dir.cleanup();
  }
});
