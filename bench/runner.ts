/**
 * Runs one workload against one server: spreads it over worker threads (bench/worker.ts), starts
 * them together, and merges their latencies. Also measures what the run cost: the load generator's
 * own CPU (process.cpuUsage covers every thread of this process) and each worker's event-loop
 * utilization, which shows whether the generator rather than the server was the limit, and the
 * server's CPU from /proc.
 */
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema, TxnRequestSchema } from "../src/api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../src/api/grpc.js";
import { openConnection, unary, waitConnected } from "./grpc.js";
import type { Member } from "./member.js";
import { concatSamples, summarize, type LatencySummary } from "./stats.js";
import type { WorkerInput, WorkerMessage, WorkerResult } from "./worker.js";
import { benchKey, splittable, type Workload } from "./workloads.js";

/** Worker utilization above which the generator, not the server, may have set the pace. */
export const GENERATOR_SATURATED_UTILIZATION = 0.9;
/** CPU per worker thread (cores) above which a busy worker counts as saturated rather than starved. */
export const GENERATOR_SATURATED_CORES_PER_WORKER = 0.75;

export interface WorkloadResult {
  readonly name: string;
  readonly kind: Workload["kind"];
  readonly workload: Workload;
  /** Successful requests (watch: events received). */
  readonly operations: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Whether the time limit stopped the run before its total. */
  readonly truncated: boolean;
  /** Wall time from "go" until the last worker finished. */
  readonly elapsedMs: number;
  readonly throughputPerSecond: number;
  readonly latency: LatencySummary;
  readonly generator: {
    readonly workers: number;
    readonly cpuMs: number;
    /** CPU time over wall time: 1.0 is one core fully busy. */
    readonly cores: number;
    readonly maxEventLoopUtilization: number;
    readonly saturated: boolean;
  };
  /** The server's CPU during the run; user and system split as /proc reports them. */
  readonly server: { readonly cpuMs: number; readonly userMs: number; readonly systemMs: number; readonly cores: number };
  /**
   * CPU the rest of the machine used meanwhile (other processes, the idle other server), in cores:
   * on a shared machine, the noise under this row.
   */
  readonly otherProcessesCores: number;
}

const workerUrl = new URL("./worker.js", import.meta.url);

/** Starts a worker and resolves once it posted "ready". */
function startWorker(input: WorkerInput): Promise<{ worker: Worker; done: Promise<WorkerResult> }> {
  const worker = new Worker(workerUrl, { workerData: input });
  return new Promise((resolveReady, rejectReady) => {
    let rejectDone: (error: Error) => void = () => undefined;
    let resolveDone: (result: WorkerResult) => void = () => undefined;
    const done = new Promise<WorkerResult>((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    // A failure after "ready" rejects done, which the runner awaits; avoid an unhandled rejection meanwhile.
    done.catch(() => undefined);
    let ready = false;
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "ready") {
        ready = true;
        resolveReady({ worker, done });
      } else if (message.type === "done") resolveDone(message.result);
      else {
        const error = new Error(`worker ${input.workerIndex}: ${message.message}`);
        if (ready) rejectDone(error);
        else rejectReady(error);
      }
    });
    worker.on("error", (error) => (ready ? rejectDone(error) : rejectReady(error)));
    worker.on("exit", (code) => {
      const error = new Error(`worker ${input.workerIndex} exited with code ${code}`);
      if (ready) rejectDone(error);
      else rejectReady(error);
    });
  });
}

export interface RunLimits {
  readonly workers: number;
  readonly maxDurationMs: number;
  /** Unrecorded requests before the measured ones, over all workers. */
  readonly warmupRequests: number;
}

/** CPU time all processes on the machine spent busy, in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return ((total - idle) * 1000) / 100;
}

/** Runs a workload with the given number of worker threads (watch always uses one). */
export async function runWorkload(member: Member, workload: Workload, limits: RunLimits): Promise<WorkloadResult> {
  const { maxDurationMs } = limits;
  const workerCount = limits.workers;
  const count = splittable(workload) ? Math.max(1, Math.min(workerCount, "clients" in workload ? workload.clients : 1)) : 1;
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, workerIndex) => startWorker({ workload, endpoint: member.endpoint, workerIndex, workerCount: count, maxDurationMs, warmupRequests: Math.ceil(limits.warmupRequests / count) })),
  );
  const workers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  try {
    if (failed !== undefined) throw failed.reason;
    const cpuBefore = process.cpuUsage();
    const serverCpuBefore = member.cpu();
    const machineBefore = machineBusyMs();
    const startedAt = performance.now();
    for (const { worker } of workers) worker.postMessage("go");
    const results = await Promise.all(workers.map((w) => w.done));
    const elapsedMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpuAfter = member.cpu();
    const serverUserMs = serverCpuAfter.userMs - serverCpuBefore.userMs;
    const serverSystemMs = serverCpuAfter.systemMs - serverCpuBefore.systemMs;
    const serverCpuMs = serverUserMs + serverSystemMs;
    const machineMs = machineBusyMs() - machineBefore;
    const generatorCpuMs = (cpu.user + cpu.system) / 1000;
    const samples = concatSamples(results.map((r) => r.samples));
    const maxEventLoopUtilization = Math.max(...results.map((r) => r.eventLoopUtilization));
    return {
      name: workload.name,
      kind: workload.kind,
      workload,
      operations: samples.length,
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      firstError: results.find((r) => r.firstError !== undefined)?.firstError,
      truncated: results.some((r) => r.truncated),
      elapsedMs,
      throughputPerSecond: (samples.length * 1000) / elapsedMs,
      latency: summarize(samples),
      generator: {
        workers: count,
        cpuMs: generatorCpuMs,
        cores: generatorCpuMs / elapsedMs,
        maxEventLoopUtilization,
        // Busy loops alone can mean the threads were waiting for a CPU other processes held; the
        // generator set the pace only if its threads also got (nearly) a core each.
        saturated: maxEventLoopUtilization > GENERATOR_SATURATED_UTILIZATION && generatorCpuMs / elapsedMs / count > GENERATOR_SATURATED_CORES_PER_WORKER,
      },
      server: { cpuMs: serverCpuMs, userMs: serverUserMs, systemMs: serverSystemMs, cores: serverCpuMs / elapsedMs },
      otherProcessesCores: Math.max(0, machineMs - generatorCpuMs - serverCpuMs) / elapsedMs,
    };
  } finally {
    await Promise.all(workers.map(({ worker }) => worker.terminate()));
  }
}

/** Puts per transaction when loading keys: etcd's default --max-txn-ops. */
const LOAD_TXN_OPS = 128;
/** Transactions in flight while loading. */
const LOAD_CONCURRENCY = 16;

/**
 * Writes keys [from, to) with valSize-byte values in transactions of 128 puts (the fastest way to
 * fill either server; not itself a measured workload), stopping early after maxDurationMs.
 */
export async function loadKeys(
  endpoint: string,
  range: { readonly from: number; readonly to: number },
  keySize: number,
  valSize: number,
  maxDurationMs: number,
): Promise<{ readonly keysWritten: number; readonly elapsedMs: number }> {
  const connections = Array.from({ length: 4 }, () => openConnection(endpoint));
  const value = Buffer.alloc(valSize, 0x6c);
  const started = performance.now();
  let keysWritten = 0;
  try {
    await Promise.all(connections.map((c) => waitConnected(c, 10_000)));
    let next = range.from;
    const loader = async (connection: (typeof connections)[number]): Promise<void> => {
      while (next < range.to && performance.now() - started < maxDurationMs) {
        const first = next;
        const last = Math.min(first + LOAD_TXN_OPS, range.to);
        next = last;
        const success = [];
        for (let k = first; k < last; k += 1) {
          success.push({ request: { case: "requestPut" as const, value: create(PutRequestSchema, { key: benchKey(k, keySize), value }) } });
        }
        await unary(connection, kvService.txn, create(TxnRequestSchema, { success }));
        keysWritten += last - first;
      }
    };
    await Promise.all(
      Array.from({ length: LOAD_CONCURRENCY }, (_, i) => loader(connections[i % connections.length] as (typeof connections)[number])),
    );
  } finally {
    connections.forEach((c) => c.close());
  }
  return { keysWritten, elapsedMs: performance.now() - started };
}
