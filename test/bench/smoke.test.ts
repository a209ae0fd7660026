/**
 * Smoke test of `npm run bench`: the whole harness on a tiny load against real etcd, with etcd also
 * standing in for cairn (--cairn-bin=etcd) so that the test does not depend on the server's state.
 * Checks the printed table and the JSON's structure; never any timing.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { skipWithoutEtcd } from "../client/etcd.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
/** Generous: the tiny load takes ~20 s on an idle 2-core machine, much longer on a busy one. */
const RUN_TIMEOUT_MS = 240_000;

const WORKLOADS = ["put-seq c=1", "put-rand c=4", "range-l c=1", "range-l c=4", "range-s c=4", "txn-put c=4", "watch", "lease-keepalive c=4"];

function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "dist/bench/main.js"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), RUN_TIMEOUT_MS);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

interface Latency {
  count: number;
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
}

test("npm run bench runs on a tiny load against etcd and reports every workload", { skip: skipWithoutEtcd(), timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-bench-smoke-"));
  try {
    const out = join(dir, "result.json");
    const { code, stdout, stderr } = await runBench([
      "--cairn-bin=etcd",
      `--data-root=${dir}`,
      "--total=200",
      "--total-single=50",
      "--conns=2",
      "--clients=4",
      "--key-space=500",
      "--range-keys=100",
      "--watch-streams=2",
      "--watchers-per-stream=2",
      "--watch-puts=10",
      "--watch-put-rate=50",
      "--scale=300,600",
      "--fsync-writes=20",
      `--out=${out}`,
    ]);
    assert.equal(code, 0, `bench failed:\n${stdout}\n${stderr}`);

    // The printed table has a row per workload and metric, and ratios (etcd against itself).
    assert.match(stdout, /^disk: fdatasync/m);
    assert.match(stdout, /\| workload +\| metric +\| +etcd \| +cairn \| ratio \(cairn\/etcd, >1 better\) \|/);
    for (const name of WORKLOADS) {
      assert.match(stdout, new RegExp(`^\\| ${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} +\\| throughput`, "m"), `no row for ${name}`);
    }
    assert.match(stdout, /^\| 600 keys +\| restart to first read ms/m);

    const result = JSON.parse(readFileSync(out, "utf8")) as {
      fsync: { latency: Latency };
      targets: {
        label: string;
        version: string;
        workloads: { name: string; operations: number; errors: number; throughputPerSecond: number; latency: Latency; generator: { cores: number; workers: number }; server: { cores: number } }[];
        failures: unknown[];
        afterWorkloads: { memory: { rssBytes: number }; disk: { allocatedBytes: number } };
        scale: { keys: number; keysLoaded: number; restartToReadyMs: number; afterLoad: { memory: { rssBytes: number }; disk: { allocatedBytes: number } } }[];
      }[];
      table: { workload: string; metric: string; values: Record<string, number | null>; ratio?: number | null }[];
    };
    assert.ok(result.fsync.latency.count > 0);
    assert.deepEqual(result.targets.map((t) => t.label), ["etcd", "cairn"]);
    for (const target of result.targets) {
      assert.match(target.version, /3\.4\./);
      assert.deepEqual(target.failures, []);
      assert.deepEqual(target.workloads.map((w) => w.name).sort(), [...WORKLOADS].sort());
      for (const workload of target.workloads) {
        assert.equal(workload.errors, 0, `${target.label} ${workload.name} had errors`);
        const expected = workload.name === "watch" ? 10 * 4 : workload.name.endsWith("c=1") ? 50 : 200;
        assert.equal(workload.operations, expected, `${target.label} ${workload.name}`);
        assert.equal(workload.latency.count, expected);
        const l = workload.latency;
        assert.ok(l.p50Ms <= l.p90Ms && l.p90Ms <= l.p99Ms && l.p99Ms <= l.p999Ms, `${workload.name}: percentiles out of order`);
        assert.ok(workload.throughputPerSecond > 0 && workload.generator.cores >= 0 && workload.server.cores >= 0);
        assert.equal(workload.generator.workers, workload.name.endsWith("c=4") ? 2 : 1);
      }
      assert.ok(target.afterWorkloads.memory.rssBytes > 0 && target.afterWorkloads.disk.allocatedBytes > 0);
      assert.deepEqual(target.scale.map((s) => [s.keys, s.keysLoaded]), [[300, 300], [600, 600]]);
      for (const scale of target.scale) assert.ok(scale.restartToReadyMs > 0 && scale.afterLoad.memory.rssBytes > 0);
    }
    const throughputRows = result.table.filter((row) => row.metric === "throughput");
    assert.equal(throughputRows.length, WORKLOADS.length);
    for (const row of result.table) {
      assert.equal(typeof row.values["etcd"], "number", `${row.workload} ${row.metric}: no etcd value`);
      if (row.metric === "other processes' CPU") assert.equal(row.ratio, undefined, "noise rows have no ratio");
      // /proc counts CPU in 10 ms ticks, so a tiny workload may read 0 and have no ratio.
      else if (row.metric !== "server CPU per op") assert.equal(typeof row.ratio, "number", `${row.workload} ${row.metric}: no ratio`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
