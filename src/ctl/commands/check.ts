/**
 * `check perf` and `check datascale` (etcdctl's check.go): a rate-limited put load with PASS/FAIL
 * verdicts on throughput, slowest request and spread, and the memory a number of keys costs.
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { CompactionRequestSchema, DefragmentRequestSchema, DeleteRangeRequestSchema, PutRequestSchema, RangeRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService, maintenanceService } from "../../api/grpc.js";
import { EtcdClient } from "../../client/client.js";
import type { CommandSpec } from "../cli/command.js";
import { formatGoDuration } from "../cli/duration.js";
import { CtlExit, ExitCode, exitWithError, goErrorText } from "../exit.js";
import { out } from "../output.js";
import { prefixRangeEnd } from "../printers/simple.js";
import { gauge, parseMetrics } from "../doctor/metrics.js";
import { call, enc, flag, openSession, type Session } from "./common.js";
import { baseUrl, fetchText } from "./doctor.js";

const loadAliases: Record<string, string> = { s: "s", small: "s", m: "m", medium: "m", l: "l", large: "l", xl: "xl", xLarge: "xl" };
/** etcdctl's perf workloads: puts per second, concurrent clients, seconds. */
const perfLoads: Record<string, { limit: number; clients: number; durationS: number }> = {
  s: { limit: 150, clients: 50, durationS: 60 },
  m: { limit: 1000, clients: 200, durationS: 60 },
  l: { limit: 8000, clients: 500, durationS: 60 },
  xl: { limit: 15000, clients: 1000, durationS: 60 },
};
/** etcdctl's datascale workloads: keys, bytes per key-value, concurrent clients. */
const datascaleLoads: Record<string, { limit: number; kvSize: number; clients: number }> = {
  s: { limit: 10000, kvSize: 1024, clients: 50 },
  m: { limit: 100000, kvSize: 1024, clients: 200 },
  l: { limit: 1000000, kvSize: 1024, clients: 500 },
  xl: { limit: 3000000, kvSize: 1024, clients: 1000 },
};
/** Connections shared by the concurrent workers (etcdctl opens one per worker). */
const maxConnections = 16;

const commonFlags = (what: string, prefix: string) => [
  flag("load", "string", "s", `The ${what} check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)`),
  flag("prefix", "string", prefix, `The prefix for writing the ${what} check's keys.`),
  flag("auto-compact", "bool", "false", "Compact storage with last revision after test is finished."),
  flag("auto-defrag", "bool", "false", "Defragment storage after test is finished."),
];

/** Random bytes drawn in batches: one system call per 1024 keys instead of one per key. */
const randomPool = { bytes: new Uint8Array(0), offset: 0 };
const randomBatchBytes = 8 * 1024;

function random8(): Uint8Array {
  if (randomPool.offset + 8 > randomPool.bytes.length) {
    randomPool.bytes = randomBytes(randomBatchBytes);
    randomPool.offset = 0;
  }
  const slice = randomPool.bytes.subarray(randomPool.offset, randomPool.offset + 8);
  randomPool.offset += 8;
  return slice;
}

/**
 * The prefix followed by Go's binary.PutVarint of a random int63, in a zeroed key of keyBytes
 * (etcdctl's key layout). A non-negative x zigzag-encodes to 2x, so the varint carries the 63
 * random bits shifted left by one: 9 bytes of 7 bits each, the last one holding the top bits.
 */
function randomKey(prefix: Uint8Array, keyBytes: number): Uint8Array<ArrayBuffer> {
  const key = new Uint8Array(prefix.length + keyBytes);
  key.set(prefix);
  const r = random8();
  // ux = 2x with x = (64 random bits) >> 1: that is the 64 random bits with the lowest bit cleared.
  let low = ((r[4]! << 24) | (r[5]! << 16) | (r[6]! << 8) | r[7]!) >>> 0;
  let high = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
  low = (low & ~1) >>> 0;
  let i = prefix.length;
  // Emit 7 bits at a time while the remaining value is at least 0x80.
  while (high !== 0 || low >= 0x80) {
    key[i++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | ((high & 0x7f) << 25)) >>> 0;
    high >>>= 7;
  }
  key[i] = low;
  return key;
}

async function ensureEmpty(session: Session, prefix: string): Promise<void> {
  const response = await call(session, kvService.range, create(RangeRequestSchema, { key: enc(prefix), rangeEnd: prefixRangeEnd(enc(prefix)), limit: 1n }));
  if (response.kvs.length > 0) throw new CtlExit(ExitCode.invalidInput, `prefix ${JSON.stringify(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`);
}

async function cleanUp(session: Session, prefix: string, compact: boolean, defrag: boolean): Promise<void> {
  const deleted = await call(session, kvService.deleteRange, create(DeleteRangeRequestSchema, { key: enc(prefix), rangeEnd: prefixRangeEnd(enc(prefix)) }), { timeoutMs: 30_000 });
  if (compact) {
    const revision = deleted.header!.revision;
    out(`Compacting with revision ${revision}\n`);
    await call(session, kvService.compact, create(CompactionRequestSchema, { revision, physical: true }), { timeoutMs: 30_000 });
    out(`Compacted with revision ${revision}\n`);
  }
  if (defrag) {
    for (const ep of session.config.endpoints) {
      out(`Defragmenting ${JSON.stringify(ep)}\n`);
      await call(session, maintenanceService.defragment, create(DefragmentRequestSchema), { timeoutMs: 30_000 });
      out(`Defragmented ${JSON.stringify(ep)}\n`);
    }
  }
}

/** Progress shown like cheggaaa/pb: redrawn in place with carriage returns. */
function progress(done: number, total: number, suffix = ""): void {
  out(`\r ${done} / ${total} ${((done / total) * 100).toFixed(2).padStart(7)}%${suffix}`);
}

async function pool(session: Session, clients: number): Promise<EtcdClient[]> {
  const count = Math.min(clients, maxConnections);
  return Promise.all(Array.from({ length: count }, () => EtcdClient.connect({ ...session.config.options, dialTimeoutMs: 0 })));
}

interface Stats {
  latenciesS: number[];
  errors: Map<string, number>;
  totalS: number;
}

function summarize(latencies: number[]): { slowest: number; stddev: number } {
  const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(latencies.length, 1);
  const variance = latencies.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(latencies.length, 1);
  return { slowest: Math.max(0, ...latencies), stddev: Math.sqrt(variance) };
}

const perfCommand: CommandSpec = {
  use: "perf [options]",
  short: "Check the performance of the etcd cluster",
  flags: commonFlags("performance", "/etcdctl-check-perf/"),
  async run(invocation) {
    const { flags } = invocation;
    const model = loadAliases[flags.string("load")];
    if (model === undefined) throw new CtlExit(ExitCode.badFeature, `unknown load option ${flags.string("load")}`);
    const load = perfLoads[model]!;
    const session = await openSession(invocation);
    const prefix = flags.string("prefix");
    const prefixBytes = enc(prefix);
    await ensureEmpty(session, prefix);
    const clients = await pool(session, load.clients);
    const value = new Uint8Array(1024);
    const stats: Stats = { latenciesS: [], errors: new Map(), totalS: 0 };
    const started = performance.now();
    const endAt = started + load.durationS * 1000;
    const intervalMs = 1000 / load.limit;
    let nextAt = started;
    let issued = 0;
    let inFlight = 0;
    let second = 0;
    progress(0, load.durationS);
    const ticker = setInterval(() => {
      second = Math.min(second + 1, load.durationS);
      progress(second, load.durationS, ` ${formatGoDuration((load.durationS - second) * 1000)}`);
    }, 1000);
    await new Promise<void>((resolve) => {
      const pump = () => {
        const now = performance.now();
        while (nextAt <= now && now < endAt && inFlight < load.clients) {
          nextAt += intervalMs;
          inFlight += 1;
          const client = clients[issued++ % clients.length]!;
          const t0 = performance.now();
          client
            .unary(kvService.put, create(PutRequestSchema, { key: randomKey(prefixBytes, 256), value }))
            .then(
              () => stats.latenciesS.push((performance.now() - t0) / 1000),
              (error: unknown) => stats.errors.set(goErrorText(error), (stats.errors.get(goErrorText(error)) ?? 0) + 1),
            )
            .finally(() => {
              inFlight -= 1;
              if (performance.now() >= endAt && inFlight === 0) resolve();
            });
        }
        if (performance.now() < endAt) setTimeout(pump, Math.max(0, Math.min(nextAt - performance.now(), 50)));
        else if (inFlight === 0) resolve();
      };
      pump();
    });
    clearInterval(ticker);
    stats.totalS = (performance.now() - started) / 1000;
    progress(load.durationS, load.durationS, ` ${formatGoDuration(Math.round(stats.totalS) * 1000)}\n`);
    for (const client of clients) client.close();
    await cleanUp(session, prefix, flags.bool("auto-compact"), flags.bool("auto-defrag"));
    const { slowest, stddev } = summarize(stats.latenciesS);
    const rps = stats.latenciesS.length / stats.totalS;
    let ok = true;
    if (stats.errors.size !== 0) {
      out("FAIL: too many errors\n");
      for (const [error, count] of stats.errors) out(`FAIL: ERROR(${error}) -> ${count}\n`);
      ok = false;
    }
    if (rps / load.limit <= 0.9) {
      out(`FAIL: Throughput too low: ${Math.floor(rps) + 1} writes/s\n`);
      ok = false;
    } else out(`PASS: Throughput is ${Math.floor(rps) + 1} writes/s\n`);
    if (slowest > 0.5) {
      out(`Slowest request took too long: ${slowest.toFixed(6)}s\n`);
      ok = false;
    } else out(`PASS: Slowest request took ${slowest.toFixed(6)}s\n`);
    if (stddev > 0.1) {
      out(`Stddev too high: ${stddev.toFixed(6)}s\n`);
      ok = false;
    } else out(`PASS: Stddev is ${stddev.toFixed(6)}s\n`);
    out(ok ? "PASS\n" : "FAIL\n");
    if (!ok) throw new CtlExit(ExitCode.error, "", true);
  },
};

async function residentMemoryBytes(session: Session): Promise<number> {
  const endpoint = session.config.endpoints[0]!;
  try {
    const text = await fetchText(new URL("/metrics", baseUrl(endpoint, endpoint.startsWith("https://"))), session);
    return gauge(parseMetrics(text), "process_resident_memory_bytes") ?? 0;
  } catch (error) {
    out(`fetch error: ${(error as Error).message}\n`);
    return 0;
  }
}

const datascaleCommand: CommandSpec = {
  use: "datascale [options]",
  short: "Check the memory usage of holding data for different workloads on a given server endpoint.",
  long: "If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.",
  flags: commonFlags("datascale", "/etcdctl-check-datascale/"),
  async run(invocation) {
    const { flags } = invocation;
    const model = loadAliases[flags.string("load")];
    if (model === undefined) throw new CtlExit(ExitCode.badFeature, `unknown load option ${flags.string("load")}`);
    const load = datascaleLoads[model]!;
    const session = await openSession(invocation);
    const prefix = flags.string("prefix");
    const prefixBytes = enc(prefix);
    await ensureEmpty(session, prefix);
    const before = await residentMemoryBytes(session);
    if (before === 0) {
      out("FAIL: Could not read process_resident_memory_bytes before the put operations.\n");
      throw new CtlExit(ExitCode.error, "", true);
    }
    out(`Start data scale check for work load [${load.limit} key-value pairs, ${load.kvSize} bytes per key-value, ${load.clients} concurrent clients].\n`);
    const clients = await pool(session, load.clients);
    const value = new Uint8Array(512);
    const errors = new Map<string, number>();
    let next = 0;
    let done = 0;
    const started = performance.now();
    progress(0, load.limit);
    const worker = async (client: EtcdClient) => {
      while (next < load.limit) {
        next += 1;
        try {
          await client.unary(kvService.put, create(PutRequestSchema, { key: randomKey(prefixBytes, 512), value }));
        } catch (error) {
          errors.set(goErrorText(error), (errors.get(goErrorText(error)) ?? 0) + 1);
        }
        done += 1;
        if (done % 100 === 0) progress(done, load.limit);
      }
    };
    await Promise.all(Array.from({ length: load.clients }, (_, i) => worker(clients[i % clients.length]!)));
    progress(load.limit, load.limit, ` ${formatGoDuration(Math.round((performance.now() - started) / 1000) * 1000)}\n`);
    for (const client of clients) client.close();
    const after = await residentMemoryBytes(session);
    if (after === 0) {
      out("FAIL: Could not read process_resident_memory_bytes after the put operations.\n");
      throw new CtlExit(ExitCode.error, "", true);
    }
    try {
      await cleanUp(session, prefix, flags.bool("auto-compact"), flags.bool("auto-defrag"));
    } catch (error) {
      exitWithError(ExitCode.error, error);
    }
    if (errors.size !== 0) {
      out("FAIL: too many errors\n");
      for (const [error, count] of errors) out(`FAIL: ERROR(${error}) -> ${count}\n`);
      throw new CtlExit(ExitCode.error, "", true);
    }
    out(`PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.\n`);
  },
};

export const checkCommand: CommandSpec = {
  use: "check <subcommand>",
  short: "commands for checking properties of the etcd cluster",
  subcommands: [perfCommand, datascaleCommand],
};
