/**
 * `npm run bench`: measures the disk's fdatasync latency, then starts a fresh real etcd and a fresh
 * cairn in turn (same flags, data dirs on the same disk), runs every workload against each with the
 * same load generator, loads the scale key counts, and prints one table of etcd against cairn with
 * ratios (above 1: cairn is better). Results go to bench/results/<time>.json.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { dirname } from "node:path";
import { probeFsync, type FsyncProbe } from "./fsync.js";
import { Member, type CommonServerFlags, type DiskUsage, type MemoryUsage, type ServerCommand } from "./member.js";
import { parseOptions, REPO_ROOT, USAGE, type BenchOptions } from "./options.js";
import { loadKeys, runWorkload, type WorkloadResult } from "./runner.js";
import { formatNumber, ratio, renderTable, type TableRow } from "./table.js";
import { preloadKeys, type Workload } from "./workloads.js";

const MIB = 1024 * 1024;
/** Longest the fdatasync probe runs. */
const FSYNC_PROBE_MAX_MS = 5_000;
/** Files of a data dir listed in the JSON, largest first. */
const LISTED_FILES = 8;

/** Server state measured at one point: memory and data dir size. */
interface Footprint {
  readonly memory: MemoryUsage;
  readonly disk: DiskUsage;
}

interface ScaleResult {
  /** Keys asked for, and how many the load managed within its time limit. */
  readonly keys: number;
  readonly keysLoaded: number;
  /** Keys this step added (the previous step's keys were already there) and the ms it took. */
  readonly keysWrittenInStep: number;
  readonly loadMs: number;
  readonly afterLoad: Footprint;
  readonly restartToReadyMs: number;
  readonly afterRestart: { readonly memory: MemoryUsage };
}

interface WorkloadFailure {
  readonly name: string;
  readonly error: string;
}

interface TargetReport {
  readonly label: string;
  readonly command: string;
  readonly version: string;
  readonly startToReadyMs: number;
  readonly workloads: WorkloadResult[];
  readonly failures: WorkloadFailure[];
  afterWorkloads: Footprint | undefined;
  readonly scale: ScaleResult[];
  scaleError: string | undefined;
}

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function versionOf(server: ServerCommand): string {
  if (server.command.endsWith("etcd")) {
    const out = spawnSync(server.command, ["--version"], { encoding: "utf8" });
    return (out.stdout ?? "").split("\n")[0]?.trim() ?? "unknown";
  }
  const git = spawnSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  return `cairn ${git.stdout?.trim() || "unknown"}`;
}

/** Worker threads for a workload: one for single-client and watch workloads, else --workers. */
function workersFor(options: BenchOptions, workload: Workload): number {
  const clients = "clients" in workload ? workload.clients : 1;
  if (clients <= 1) return 1;
  return options.workers === "auto" ? 2 : options.workers;
}

function footprint(member: Member): Footprint {
  const disk = member.disk();
  return { memory: member.memory(), disk: { ...disk, files: disk.files.slice(0, LISTED_FILES) } };
}

function serverFlags(options: BenchOptions): CommonServerFlags {
  return { quotaBackendBytes: options.quotaBackendBytes, snapshotCount: options.snapshotCount, extra: [] };
}

function progress(label: string, result: WorkloadResult): void {
  const l = result.latency;
  const notes = [
    result.errors > 0 ? `${result.errors} errors (${result.firstError})` : "",
    result.truncated ? "time limit reached" : "",
    result.generator.saturated ? "GENERATOR SATURATED" : "",
  ].filter((n) => n.length > 0);
  print(
    `  ${label.padEnd(6)} ${result.name.padEnd(22)} ${String(result.operations).padStart(7)} ops in ${(result.elapsedMs / 1000).toFixed(1)} s: ` +
      `${formatNumber(result.throughputPerSecond)}/s, avg ${formatNumber(l.avgMs)} p50 ${formatNumber(l.p50Ms)} p99 ${formatNumber(l.p99Ms)} ms; ` +
      `generator ${result.generator.cores.toFixed(2)} cores (max loop ${(result.generator.maxEventLoopUtilization * 100).toFixed(0)}%), ` +
      `server ${result.server.cores.toFixed(2)} cores (${formatNumber((result.server.cpuMs * 1000) / Math.max(result.operations, 1))} us/op, ` +
      `${Math.round((100 * result.server.systemMs) / Math.max(result.server.cpuMs, 1))}% kernel), others ${result.otherProcessesCores.toFixed(2)} cores${notes.length > 0 ? `; ${notes.join("; ")}` : ""}`,
  );
}

/** A server under test during the workload phase. */
interface Target {
  readonly server: ServerCommand;
  readonly report: TargetReport;
  member: Member;
  /** Keys [0, preloaded) are known to exist. */
  preloaded: number;
}

async function startTarget(options: BenchOptions, server: ServerCommand): Promise<Target> {
  const member = await Member.start(server, serverFlags(options), options.dataRoot);
  const report: TargetReport = {
    label: server.label,
    command: [server.command, ...server.prefixArgs].join(" "),
    version: versionOf(server),
    startToReadyMs: member.startToReadyMs,
    workloads: [],
    failures: [],
    afterWorkloads: undefined,
    scale: [],
    scaleError: undefined,
  };
  print(`${server.label}: ${report.version} (fresh start to first read: ${formatNumber(member.startToReadyMs)} ms)`);
  return { server, report, member, preloaded: 0 };
}

async function runOne(options: BenchOptions, target: Target, workload: Workload): Promise<void> {
  const { server, report } = target;
  try {
    const needed = preloadKeys(workload);
    if (needed > target.preloaded) {
      await loadKeys(target.member.endpoint, { from: target.preloaded, to: needed }, options.keySize, options.valSize, options.maxSecondsPerScaleLoad * 1000);
      target.preloaded = needed;
    }
    const total = "total" in workload ? workload.total : 0;
    const result = await runWorkload(target.member, workload, {
      workers: workersFor(options, workload),
      maxDurationMs: options.maxSecondsPerWorkload * 1000,
      warmupRequests: Math.min(Math.ceil(total * options.warmupFraction), 2000),
    });
    report.workloads.push(result);
    progress(server.label, result);
  } catch (error) {
    report.failures.push({ name: workload.name, error: describe(error) });
    print(`  ${server.label.padEnd(6)} ${workload.name.padEnd(22)} FAILED: ${describe(error)}`);
    if (!target.member.running) {
      print(`  ${server.label.padEnd(6)} server died; log tail: ${target.member.logTail()}`);
      await target.member.destroy();
      target.member = await Member.start(server, serverFlags(options), options.dataRoot);
      target.preloaded = 0;
    }
  }
}

/**
 * Runs every workload on every target, alternating which target goes first (ABBA), so that drift
 * in the machine's load over the run falls on both sides alike.
 */
async function runWorkloads(options: BenchOptions, targets: readonly Target[]): Promise<void> {
  for (const [index, workload] of options.workloads.entries()) {
    const order = index % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) await runOne(options, target, workload);
  }
  for (const target of targets) target.report.afterWorkloads = footprint(target.member);
}

/** Time the scale phase keeps back from the budget for each restart and for stopping the servers. */
const SCALE_RESERVE_MS = 45_000;

async function runScale(options: BenchOptions, server: ServerCommand, report: TargetReport, deadline: number): Promise<void> {
  if (options.scaleKeys.length === 0) return;
  let member: Member | undefined;
  try {
    member = await Member.start(server, serverFlags(options), options.dataRoot);
    let loaded = 0;
    for (const keys of options.scaleKeys) {
      // Loads stop at their own limit or when the run's time budget (less a reserve) is spent.
      const loadLimitMs = Math.max(1_000, Math.min(options.maxSecondsPerScaleLoad * 1000, deadline - SCALE_RESERVE_MS - performance.now()));
      const load = await loadKeys(member.endpoint, { from: loaded, to: keys }, options.keySize, options.valSize, loadLimitMs);
      loaded += load.keysWritten;
      const afterLoad = footprint(member);
      const restartToReadyMs = await member.restart();
      const result: ScaleResult = { keys, keysLoaded: loaded, keysWrittenInStep: load.keysWritten, loadMs: load.elapsedMs, afterLoad, restartToReadyMs, afterRestart: { memory: member.memory() } };
      report.scale.push(result);
      print(
        `  ${server.label.padEnd(6)} scale ${keys} keys: loaded ${loaded} in ${(load.elapsedMs / 1000).toFixed(1)} s, RSS ${formatNumber(afterLoad.memory.rssBytes / MIB)} MiB, ` +
          `data dir ${formatNumber(afterLoad.disk.allocatedBytes / MIB)} MiB, restart-to-ready ${formatNumber(restartToReadyMs)} ms`,
      );
      if (loaded < keys) {
        report.scaleError = `only ${loaded} of ${keys} keys loaded within --max-seconds-per-scale-load=${options.maxSecondsPerScaleLoad} / --budget-seconds=${options.budgetSeconds}`;
        break;
      }
    }
  } catch (error) {
    report.scaleError = describe(error);
    print(`  ${server.label.padEnd(6)} scale FAILED: ${describe(error)}`);
  } finally {
    await member?.destroy();
  }
}

function shortCount(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
  return String(n);
}

/** Builds the comparison rows from every target's report. */
function buildRows(options: BenchOptions, reports: readonly TargetReport[]): TableRow[] {
  const rows: TableRow[] = [];
  const byLabel = (pick: (report: TargetReport) => number | undefined): Record<string, number | undefined> =>
    Object.fromEntries(reports.map((r) => [r.label, pick(r)]));
  for (const workload of options.workloads) {
    const resultOf = (r: TargetReport): WorkloadResult | undefined => r.workloads.find((w) => w.name === workload.name);
    const notes = Object.fromEntries(
      reports.map((r) => {
        const result = resultOf(r);
        if (result === undefined) {
          const failure = r.failures.find((f) => f.name === workload.name);
          if (failure === undefined) return [r.label, undefined];
          return [r.label, failure.error.includes("UNIMPLEMENTED") ? "not implemented" : "failed"];
        }
        const parts = [
          result.errors > 0 ? `${result.errors} err` : "",
          result.truncated ? "time limit" : "",
          result.generator.saturated ? "gen-bound" : "",
        ].filter((p) => p.length > 0);
        return [r.label, parts.length > 0 ? parts.join(", ") : undefined];
      }),
    );
    const unit = workload.kind === "watch" ? "events/s" : "ops/s";
    rows.push({ workload: workload.name, metric: "throughput", unit, better: "higher", values: byLabel((r) => resultOf(r)?.throughputPerSecond), notes });
    // CPU per request holds up far better than throughput on a machine shared with other work.
    rows.push({
      workload: workload.name,
      metric: "server CPU per op",
      unit: "us",
      better: "lower",
      values: byLabel((r) => {
        const result = resultOf(r);
        return result === undefined || result.operations === 0 ? undefined : (result.server.cpuMs * 1000) / result.operations;
      }),
    });
    // Not a comparison: the CPU other processes took meanwhile, i.e. how noisy the machine was.
    rows.push({
      workload: workload.name,
      metric: "other processes' CPU",
      unit: "cores",
      better: "none",
      values: byLabel((r) => resultOf(r)?.otherProcessesCores),
    });
    const latencies: [string, (w: WorkloadResult) => number][] = [
      ["avg", (w) => w.latency.avgMs],
      ["p50", (w) => w.latency.p50Ms],
      ["p90", (w) => w.latency.p90Ms],
      ["p99", (w) => w.latency.p99Ms],
      ["p99.9", (w) => w.latency.p999Ms],
    ];
    for (const [metric, pick] of latencies) {
      rows.push({
        workload: workload.name,
        metric: workload.kind === "watch" ? `put-to-event ${metric}` : metric,
        unit: "ms",
        better: "lower",
        values: byLabel((r) => {
          const result = resultOf(r);
          return result === undefined ? undefined : pick(result);
        }),
      });
    }
  }
  const after = (pick: (f: Footprint) => number) => byLabel((r) => (r.afterWorkloads === undefined ? undefined : pick(r.afterWorkloads)));
  rows.push({ workload: "after workloads", metric: "RSS", unit: "MiB", better: "lower", values: after((f) => f.memory.rssBytes / MIB) });
  rows.push({ workload: "after workloads", metric: "peak RSS", unit: "MiB", better: "lower", values: after((f) => f.memory.peakRssBytes / MIB) });
  rows.push({ workload: "after workloads", metric: "data dir on disk", unit: "MiB", better: "lower", values: after((f) => f.disk.allocatedBytes / MIB) });
  rows.push({ workload: "fresh start", metric: "start to first read", unit: "ms", better: "lower", values: byLabel((r) => r.startToReadyMs) });
  for (const keys of options.scaleKeys) {
    const scaleOf = (r: TargetReport): ScaleResult | undefined => r.scale.find((s) => s.keys === keys);
    const pick = (f: (s: ScaleResult) => number) => byLabel((r) => {
      const s = scaleOf(r);
      return s === undefined ? undefined : f(s);
    });
    // A load cut short by its time limit still gives a row, marked with how many keys it holds.
    const notes = Object.fromEntries(
      reports.map((r) => {
        const s = scaleOf(r);
        return [r.label, s !== undefined && s.keysLoaded < keys ? `only ${Math.floor(s.keysLoaded / 1000)}k` : undefined];
      }),
    );
    const name = `${shortCount(keys)} keys`;
    rows.push({ workload: name, metric: "load (txn of 128 puts)", unit: "keys/s", better: "higher", values: pick((s) => (s.keysWrittenInStep * 1000) / s.loadMs), notes });
    rows.push({ workload: name, metric: "RSS", unit: "MiB", better: "lower", values: pick((s) => s.afterLoad.memory.rssBytes / MIB), notes });
    rows.push({ workload: name, metric: "data dir on disk", unit: "MiB", better: "lower", values: pick((s) => s.afterLoad.disk.allocatedBytes / MIB), notes });
    rows.push({ workload: name, metric: "restart to first read", unit: "ms", better: "lower", values: pick((s) => s.restartToReadyMs), notes });
    rows.push({ workload: name, metric: "RSS after restart", unit: "MiB", better: "lower", values: pick((s) => s.afterRestart.memory.rssBytes / MIB), notes });
  }
  return rows;
}

function generatorTable(reports: readonly TargetReport[]): string {
  const lines = [
    "| target | workload | workers | generator cores | max worker loop busy | server cores | other processes cores | errors |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const report of reports) {
    for (const w of report.workloads) {
      lines.push(
        `| ${report.label} | ${w.name} | ${w.generator.workers} | ${w.generator.cores.toFixed(2)} | ${(w.generator.maxEventLoopUtilization * 100).toFixed(0)}% | ${w.server.cores.toFixed(2)} | ${w.otherProcessesCores.toFixed(2)} | ${w.errors} |`,
      );
    }
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    print(USAGE);
    return;
  }
  const startedAt = new Date();
  const startedAtMs = performance.now();
  const fsync: FsyncProbe = probeFsync(options.dataRoot, options.fsyncWrites, FSYNC_PROBE_MAX_MS);
  print(
    `disk: fdatasync of ${fsync.writeBytes}-byte writes in ${fsync.directory}: avg ${formatNumber(fsync.latency.avgMs)} ms, p50 ${formatNumber(fsync.latency.p50Ms)} ms, ` +
      `p99 ${formatNumber(fsync.latency.p99Ms)} ms (${fsync.latency.count} writes) => at most ~${formatNumber(fsync.syncsPerSecondAtP50)} durable puts/s for one client`,
  );
  for (const [label, reason] of Object.entries(options.unavailable)) print(`${label}: skipped: ${reason}`);
  const targets: Target[] = [];
  try {
    for (const server of options.targets) targets.push(await startTarget(options, server));
    await runWorkloads(options, targets);
  } finally {
    await Promise.all(targets.map((t) => t.member.destroy()));
  }
  const reports = targets.map((t) => t.report);
  // The scale phase shares what is left of the budget between the targets.
  for (const [index, target] of targets.entries()) {
    const remainingMs = startedAtMs + options.budgetSeconds * 1000 - performance.now();
    const share = remainingMs / (targets.length - index);
    await runScale(options, target.server, target.report, performance.now() + share);
  }
  const rows = buildRows(options, reports);
  const labels = ["etcd", "cairn"];
  print();
  print(renderTable(rows, "etcd", "cairn"));
  print();
  print("load generator and server CPU (cores = CPU time / wall time; 'loop busy' near 100% means the generator set the pace):");
  print(generatorTable(reports));
  const finishedAt = new Date();
  const document = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), kernel: release(), node: process.version },
    options: { ...options, targets: options.targets.map((t) => ({ ...t })) },
    fsync,
    unavailable: options.unavailable,
    targets: reports,
    table: rows.map((row) => ({ ...row, ratio: ratio(row, labels[0] ?? "etcd", labels[1] ?? "cairn") })),
  };
  if (options.outPath !== undefined) {
    mkdirSync(dirname(options.outPath), { recursive: true });
    writeFileSync(options.outPath, `${JSON.stringify(document, null, 2)}\n`);
    print(`\nresults: ${options.outPath} (${document.durationSeconds.toFixed(0)} s in total)`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n${USAGE}`);
  process.exitCode = 1;
});
