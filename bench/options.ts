/**
 * Command-line options of `npm run bench` and the workload list they produce. The defaults fit the
 * 2-core project machine and finish both servers within 10 minutes; every size is a flag.
 */
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ServerCommand } from "./member.js";
import type { Workload } from "./workloads.js";

/** Repository root, from dist/bench/options.js. */
export const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");

export interface BenchOptions {
  readonly targets: readonly ServerCommand[];
  /** Why a target is missing (e.g. cairn not built yet), printed and recorded. */
  readonly unavailable: Readonly<Record<string, string>>;
  readonly dataRoot: string;
  readonly workers: number | "auto";
  readonly maxSecondsPerWorkload: number;
  /** Share of a workload's total sent first, unrecorded (at most 2000 requests). */
  readonly warmupFraction: number;
  readonly workloads: readonly Workload[];
  readonly keySize: number;
  readonly valSize: number;
  /** Key counts of the scale rows, ascending; empty to skip them. */
  readonly scaleKeys: readonly number[];
  readonly maxSecondsPerScaleLoad: number;
  /** Whole-run budget; the scale loads are cut short to fit it. */
  readonly budgetSeconds: number;
  readonly quotaBackendBytes: number;
  readonly snapshotCount: number;
  readonly fsyncWrites: number;
  readonly outPath: string | undefined;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]

Starts a fresh etcd and a fresh cairn, runs every workload against each, prints a comparison table
and writes JSON results under bench/results/.

servers
  --targets=etcd,cairn           which servers to run, in order (labels)
  --etcd-bin=etcd                etcd binary
  --cairn-bin=PATH               cairn command (default: node dist/src/server/main.js); "etcd" runs
                                 etcd in cairn's place, to check the harness itself
  --cairn-node-args="ARGS"       node flags for cairn, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  --data-root=DIR                where data dirs go (default: the OS temp dir); same disk for both
  --quota-backend-bytes=N        given to both (default 2147483648, etcd's default)
  --snapshot-count=N             given to both (default 100000, etcd 3.4's default)

load
  --conns=10 --clients=100       connections and clients of the concurrent workloads
  --total=20000                  requests per concurrent workload
  --total-single=2000            requests per single-client workload
  --rate=0                       requests per second over all clients (0: unlimited)
  --key-size=8 --val-size=256    bytes
  --key-space=100000             keys the random put/txn workloads draw from
  --range-keys=1000              keys loaded for the range workloads
  --txn-ops=1                    puts per txn-put transaction
  --watch-streams=10 --watchers-per-stream=10 --watch-puts=500 --watch-put-rate=100
  --workers=auto|N               worker threads per workload (auto: 2 when clients > 1)
  --only=put,range               run only workloads whose name contains one of these
  --max-seconds-per-workload=20  stop sending after this long; the row covers what was sent
  --warmup=10                    percent of each workload's total sent first, unrecorded (max 2000)

scale rows
  --scale=100000,1000000         key counts to load; RSS, size and restart time at each ("" skips)
  --max-seconds-per-scale-load=120
  --budget-seconds=570           the scale loads are cut short so the whole run fits this

output
  --fsync-writes=1000            fdatasync probes before the run
  --out=PATH                     results JSON (default bench/results/<time>.json; "-" for none)
`;

function positiveInt(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got "${text}"`);
  return value;
}

function cairnCommand(bin: string | undefined, nodeArgs: string | undefined, etcdBin: string): ServerCommand {
  if (bin === "etcd") return { label: "cairn", command: etcdBin, prefixArgs: [] };
  if (bin !== undefined) return { label: "cairn", command: bin, prefixArgs: [] };
  const split = (nodeArgs ?? "").split(/\s+/).filter((a) => a.length > 0);
  return {
    label: "cairn",
    command: process.execPath,
    prefixArgs: ["--enable-source-maps", ...split, join(REPO_ROOT, "dist/src/server/main.js")],
  };
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      targets: { type: "string" },
      "etcd-bin": { type: "string" },
      "cairn-bin": { type: "string" },
      "cairn-node-args": { type: "string" },
      "data-root": { type: "string" },
      "quota-backend-bytes": { type: "string" },
      "snapshot-count": { type: "string" },
      conns: { type: "string" },
      clients: { type: "string" },
      total: { type: "string" },
      "total-single": { type: "string" },
      rate: { type: "string" },
      "key-size": { type: "string" },
      "val-size": { type: "string" },
      "key-space": { type: "string" },
      "range-keys": { type: "string" },
      "txn-ops": { type: "string" },
      "watch-streams": { type: "string" },
      "watchers-per-stream": { type: "string" },
      "watch-puts": { type: "string" },
      "watch-put-rate": { type: "string" },
      workers: { type: "string" },
      only: { type: "string" },
      "max-seconds-per-workload": { type: "string" },
      warmup: { type: "string" },
      scale: { type: "string" },
      "max-seconds-per-scale-load": { type: "string" },
      "budget-seconds": { type: "string" },
      "fsync-writes": { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  const etcdBin = values["etcd-bin"] ?? "etcd";
  const unavailable: Record<string, string> = {};
  const targets: ServerCommand[] = [];
  for (const label of (values.targets ?? "etcd,cairn").split(",").filter((t) => t.length > 0)) {
    if (label === "etcd") targets.push({ label: "etcd", command: etcdBin, prefixArgs: [] });
    else if (label === "cairn") {
      const command = cairnCommand(values["cairn-bin"], values["cairn-node-args"], etcdBin);
      const script = command.prefixArgs[command.prefixArgs.length - 1];
      if (script !== undefined && script.endsWith("main.js") && !existsSync(script)) {
        unavailable["cairn"] = `${script} not found (cairn's server has not landed on this branch, or npm run build did not run)`;
      } else targets.push(command);
    } else throw new Error(`unknown target "${label}" (etcd or cairn)`);
  }
  const keySize = positiveInt("key-size", values["key-size"], 8);
  const valSize = positiveInt("val-size", values["val-size"], 256, 0);
  const conns = positiveInt("conns", values.conns, 10);
  const clients = positiveInt("clients", values.clients, 100);
  const total = positiveInt("total", values.total, 20_000);
  const totalSingle = positiveInt("total-single", values["total-single"], 2_000);
  const rate = positiveInt("rate", values.rate, 0, 0);
  const keySpace = positiveInt("key-space", values["key-space"], 100_000);
  const rangeKeys = positiveInt("range-keys", values["range-keys"], 1_000);
  const txnOps = positiveInt("txn-ops", values["txn-ops"], 1);
  const many = `c=${clients}`;
  const all: Workload[] = [
    { kind: "put", name: "put-seq c=1", conns: 1, clients: 1, total: totalSingle, rate, keySize, valSize, keySpace: totalSingle, sequential: true },
    { kind: "put", name: `put-rand ${many}`, conns, clients, total, rate, keySize, valSize, keySpace, sequential: false },
    { kind: "range", name: "range-l c=1", conns: 1, clients: 1, total: totalSingle, rate, keySize, keySpace: rangeKeys, consistency: "l" },
    { kind: "range", name: `range-l ${many}`, conns, clients, total, rate, keySize, keySpace: rangeKeys, consistency: "l" },
    { kind: "range", name: `range-s ${many}`, conns, clients, total, rate, keySize, keySpace: rangeKeys, consistency: "s" },
    { kind: "txn-put", name: `txn-put ${many}`, conns, clients, total, rate, keySize, valSize, keySpace, txnOps },
    {
      kind: "watch",
      name: "watch",
      conns: Math.min(conns, positiveInt("watch-streams", values["watch-streams"], 10)),
      streams: positiveInt("watch-streams", values["watch-streams"], 10),
      watchersPerStream: positiveInt("watchers-per-stream", values["watchers-per-stream"], 10),
      putTotal: positiveInt("watch-puts", values["watch-puts"], 500),
      putRate: positiveInt("watch-put-rate", values["watch-put-rate"], 100),
      valSize,
    },
    { kind: "lease-keepalive", name: `lease-keepalive ${many}`, conns, clients, total, rate },
  ];
  const only = values.only?.split(",").filter((o) => o.length > 0);
  const workloads = only === undefined ? all : all.filter((w) => only.some((o) => w.name.includes(o)));
  const scaleText = values.scale ?? "100000,1000000";
  const scaleKeys = scaleText
    .split(",")
    .filter((s) => s.length > 0)
    .map((s) => positiveInt("scale", s, 0))
    .sort((a, b) => a - b);
  const workersText = values.workers ?? "auto";
  const out = values.out === "-" ? undefined : (values.out ?? join(REPO_ROOT, "bench/results", `${new Date().toISOString().replace(/[:.]/g, "-")}.json`));
  return {
    targets,
    unavailable,
    dataRoot: values["data-root"] ?? tmpdir(),
    workers: workersText === "auto" ? "auto" : positiveInt("workers", workersText, 1),
    maxSecondsPerWorkload: positiveInt("max-seconds-per-workload", values["max-seconds-per-workload"], 20),
    warmupFraction: positiveInt("warmup", values.warmup, 10, 0) / 100,
    workloads,
    keySize,
    valSize,
    scaleKeys,
    maxSecondsPerScaleLoad: positiveInt("max-seconds-per-scale-load", values["max-seconds-per-scale-load"], 120),
    budgetSeconds: positiveInt("budget-seconds", values["budget-seconds"], 570),
    quotaBackendBytes: positiveInt("quota-backend-bytes", values["quota-backend-bytes"], 2 * 1024 * 1024 * 1024),
    snapshotCount: positiveInt("snapshot-count", values["snapshot-count"], 100_000),
    fsyncWrites: positiveInt("fsync-writes", values["fsync-writes"], 1000),
    outPath: out,
    help: values.help ?? false,
  };
}
