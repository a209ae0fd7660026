/**
 * Crash test of the apply/consistent-index contract on the real LMDB engine: a child process
 * applies entries and reports each committed consistent index; it is killed with SIGKILL at
 * arbitrary moments and restarted. After every kill, the store must hold at least every reported
 * index, and its data must be exactly the effects of entries 1..consistentIndex (no entry lost
 * or applied twice).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";

const child = join(dirname(fileURLToPath(import.meta.url)), "mvcc-crash-child.js");

function runUntil(dir: string, reports: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let acknowledged = 0;
    let seen = 0;
    let buffer = "";
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    proc.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        acknowledged = Number(line);
        if (++seen === reports) proc.kill("SIGKILL");
      }
    });
    proc.on("exit", (_code, signal) => (signal === "SIGKILL" ? resolve(acknowledged) : reject(new Error(`child exited without being killed: ${stderr}`))));
  });
}

test("SIGKILL during apply: every committed entry survives, none is applied twice", { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-mvcc-crash-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let previous = 0;
  for (const reports of [37, 150, 1, 400, 73, 999]) {
    const acknowledged = await runUntil(dir, reports);
    const store = MvccStore.open(new LmdbBackend({ path: dir }));
    const ci = store.consistentIndex();
    assert.ok(ci >= acknowledged, `consistent index ${ci} < acknowledged ${acknowledged}`);
    assert.ok(ci > previous);
    // Entry i is one change set, so the revision is exactly 1 + the number of applied entries.
    assert.equal(store.revision, 1 + ci);
    const last = store.range(new TextEncoder().encode("last"), null).kvs[0]!;
    assert.equal(new TextDecoder().decode(last.value), String(ci));
    assert.equal(last.version, ci);
    const key = store.range(new TextEncoder().encode(`k${ci % 50}`), null).kvs[0]!;
    assert.equal(new TextDecoder().decode(key.value), String(ci));
    previous = ci;
    await store.close();
  }
});
