/**
 * Power-loss safety of the LMDB engine, as far as a test can show it: a real power cut cannot be
 * simulated here (that needs a VM or a device that drops unsynced writes), so the test checks the
 * mechanism instead. It runs commits and a checkpoint in a child process under strace and asserts
 * from the syscall trace that
 *   - every commit fdatasyncs data.mdb before returning (MDB_NOMETASYNC, not MDB_NOSYNC: with
 *     noSync there is no sync at all, and the OS may write a meta page before the pages it points
 *     at, which a power loss turns into a corrupt file);
 *   - checkpoint() resolves only after an fdatasync of data.mdb issued after the last commit (WAL
 *     segments are purged on the strength of it).
 * Skips with a printed reason when strace is absent or ptrace is not permitted (also under CI: many CI
 * containers forbid ptrace, and the property does not depend on the machine).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const child = join(dirname(fileURLToPath(import.meta.url)), "lmdb-durability-child.js");
const COMMITS = 5;

function straceUsable(): string | undefined {
  const probe = spawnSync("strace", ["-f", "-e", "trace=none", "true"], { encoding: "utf8" });
  if (probe.error !== undefined) return `strace not runnable: ${probe.error.message}`;
  if (probe.status !== 0) return `strace cannot trace here: ${probe.stderr.trim()}`;
  return undefined;
}

/**
 * Completed syncs of data.mdb in each step of an `strace -f -y` trace, by step name. A sync looks
 * like `fdatasync(19</dir/data.mdb>) = 0`, or, interrupted by another thread's syscall, like
 * `fdatasync(19</dir/data.mdb> <unfinished ...>` and later `<... fdatasync resumed>) = 0` on the same
 * thread id; it counts in the step where it completed.
 */
function syncsPerStep(trace: string): Map<string, number> {
  const steps = new Map<string, number>([["open", 0]]);
  const pending = new Set<string>();
  let step = "open";
  const complete = (result: string): void => {
    if (result.trim().startsWith("= 0")) steps.set(step, steps.get(step)! + 1);
  };
  for (const line of trace.split("\n")) {
    const pid = line.split(" ", 1)[0]!;
    const marker = /access\("[^"]*\/mark-([^"]+)"/.exec(line);
    if (marker !== null) {
      step = marker[1]!;
      steps.set(step, 0);
      continue;
    }
    const started = /\b(?:fdatasync|fsync|msync)\(\d+<[^>]*\/data\.mdb>(.*)$/.exec(line);
    if (started !== null) {
      if (started[1]!.includes("<unfinished ...>")) pending.add(pid);
      else complete(started[1]!.slice(started[1]!.indexOf(")") + 1));
      continue;
    }
    const resumed = /<\.\.\. (?:fdatasync|fsync|msync) resumed>[^)]*\)(.*)$/.exec(line);
    if (resumed !== null && pending.delete(pid)) complete(resumed[1]!);
  }
  return steps;
}

test("LMDB commits fdatasync data.mdb and checkpoint awaits a sync (power-loss integrity)", { timeout: 60_000 }, (t) => {
  const unusable = straceUsable();
  if (unusable !== undefined) {
    t.skip(unusable);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "cairn-lmdb-durability-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const traceFile = join(dir, "trace.txt");
  const run = spawnSync(
    "strace",
    ["-f", "-y", "-o", traceFile, "-e", "trace=fdatasync,fsync,msync,sync_file_range,access,faccessat,faccessat2", process.execPath, child, dir, String(COMMITS)],
    { encoding: "utf8", timeout: 50_000 },
  );
  assert.equal(run.status, 0, `child failed: ${run.stderr}`);
  const steps = syncsPerStep(readFileSync(traceFile, "utf8"));
  for (let i = 0; i < COMMITS; i++) {
    assert.ok((steps.get(`commit-${i}`) ?? 0) >= 1, `commit ${i} returned without syncing data.mdb (steps: ${JSON.stringify([...steps])})`);
  }
  assert.ok((steps.get("checkpoint-start") ?? 0) >= 1, `checkpoint resolved without syncing data.mdb (steps: ${JSON.stringify([...steps])})`);
});
