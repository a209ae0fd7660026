/**
 * Differential fuzzer: random etcdctl command lines (fuzz-gen.ts) run with etcdctl 3.4 and with
 * bin/cairnctl, and stdout, stderr and exit code must match after normalization.
 *
 * Each tool talks to its own etcd, and both etcds get the same setup and then the same lines in
 * the same order, so writes (put, del, txn, compaction, lease grant) keep them in lockstep: same
 * keys, same revisions. The member id, cluster id, ports and setup lease id of the second server
 * are rewritten to the first one's in cairnctl's output before comparing.
 *
 * FUZZ_SEED and FUZZ_COUNT override the seed and the number of lines; FUZZ_MAX_DIFFS how many
 * differences are collected before stopping. A failure prints seed, index and the command line.
 * Lines depend on the state earlier lines left, so reproduce with the same seed and a count past
 * the index.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { LeaseGrantRequestSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { leaseService } from "../../src/api/grpc.js";
import { EtcdClient } from "../../src/client/client.js";
import { skipWithoutEtcd, startEtcd, type EtcdProcess } from "../client/etcd.js";
import { generateLine, lineSeed, shellQuote, type FuzzLine } from "./fuzz-gen.js";
import { baseNormalize, normalizers } from "./normalize.js";

const cairnctl = resolve("bin/cairnctl");
const seed = Number(process.env.FUZZ_SEED ?? "20260423");
const count = Number(process.env.FUZZ_COUNT ?? "200");
const maxDiffs = Number(process.env.FUZZ_MAX_DIFFS ?? "10");

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** What one server looks like from outside, for rewriting the second server's ids to the first's. */
interface ServerFacts {
  readonly etcd: EtcdProcess;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly leaseId: bigint;
}

function run(tool: string, args: readonly string[], env: NodeJS.ProcessEnv, stdin: string, timeoutSeconds?: number): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const timeoutArgs = timeoutSeconds === undefined ? ["--signal=KILL", "30"] : [String(timeoutSeconds)];
    const child = spawn("timeout", [...timeoutArgs, tool, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("latin1").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("latin1").on("data", (chunk: string) => (stderr += chunk));
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin, "latin1");
    child.on("error", reject);
    child.on("close", (code: number | null) => resolveRun({ stdout, stderr, code }));
  });
}

/**
 * The tool's environment. A line with its own --endpoints gets no ETCDCTL_ENDPOINTS: etcdctl makes
 * a flag shadowing its variable fatal, and cairnctl lets the flag win on purpose (docs/decisions.md).
 */
function environment(etcd: EtcdProcess, args: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ETCDCTL_")) env[key] = value;
  const ownEndpoints = args.some((a) => a.startsWith("--endpoints"));
  return { ...env, ETCDCTL_API: "3", ...(ownEndpoints ? {} : { ETCDCTL_ENDPOINTS: etcd.endpoint }) };
}

/**
 * Shapes excluded from the comparison, with the reason. The root usage lists every command:
 * etcdctl 3.4.23's has cobra's `completion` and `migrate`, cairnctl's has its own `doctor`.
 */
function excluded(line: FuzzLine, expected: RunResult, actual: RunResult): string | undefined {
  if (expected.stdout.includes("\tcompletion bash\t")) return "root usage";
  // cobra's `completion` command, until cairnctl has one: "co", "comp" are ambiguous in etcdctl.
  const suggestsCompletion = (r: RunResult) => `${r.stdout}${r.stderr}`.includes("\tcompletion\n");
  if (suggestsCompletion(expected) && !suggestsCompletion(actual)) return "completion command";
  // etcdctl's `migrate` (v2 store), which cairnctl leaves out (src/ctl/README.md), among suggestions.
  if (`${expected.stderr}`.includes("\tmigrate\n")) return "migrate command";
  // A Go panic and its goroutine dump (e.g. alarm list -w fields dereferences a nil header, a txn
  // compare on lease with a quoted value): a crash of etcdctl's, not behaviour to copy.
  if (/^panic: /m.test(expected.stderr)) return "etcdctl panics";
  // A Go panic and its goroutine dump (e.g. alarm list -w fields dereferences a nil header, a txn
  // compare on lease with a quoted value): a crash of etcdctl's, not behaviour to copy.
  if (/^panic: /m.test(expected.stderr)) return "etcdctl panics";
  // Leases granted by fuzz lines get ids from each server's clock, which binary output cannot hide.
  const words = line.args.filter((a) => !a.startsWith("-"));
  if (line.args.some((a) => a.includes("protobuf")) && words.some((w) => w.length >= 2 && "lease".startsWith(w))) return "protobuf lease ids";
  return undefined;
}

/** Same data and history on each server: plain keys, a key with versions, a lease, a compaction, a user and a role. */
const setupLines: string[][] = [
  ["put", "foo", "bar"],
  ["put", "foo1", "bar1"],
  ["put", "foo2", "bar2"],
  ["put", "hist", "v1"],
  ["put", "hist", "v2"],
  ["put", "hist", "v3"],
  ["put", "a b", "space value"],
  ["put", "ключ", "значение"],
  ["put", "--", "-dash", "dash-value"],
  ["put", "hist", "v4"],
  ["compaction", "3"],
  ["put", "hist", "v5"],
  ["user", "add", "alice:secret"],
  ["role", "add", "reader"],
  ["role", "grant-permission", "reader", "read", "foo", "fop"],
  ["role", "grant-permission", "--prefix", "reader", "readwrite", "/registry/"],
  ["user", "grant-role", "alice", "reader"],
];

const setupLease = 0x694d7f3a5c2e1b08n;

async function prepare(etcd: EtcdProcess): Promise<ServerFacts> {
  const env = environment(etcd);
  const must = async (args: string[]) => {
    const result = await run("etcdctl", args, env, "");
    if (result.code !== 0) throw new Error(`setup ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  };
  for (const line of setupLines) await must(line);
  // The same lease id on both servers (etcdctl cannot choose one), so binary output agrees too.
  const client = await EtcdClient.connect({ endpoints: [etcd.endpoint], dialTimeoutMs: 5000 });
  try {
    await client.unary(leaseService.leaseGrant, create(LeaseGrantRequestSchema, { TTL: 100000n, ID: setupLease }));
  } finally {
    client.close();
  }
  await must(["put", "--lease", setupLease.toString(16), "lease-key", "leased"]);
  // JSON numbers lose precision past 2^53, so the ids are read from the text.
  const text = await must(["endpoint", "status", "-w", "json"]);
  const ids = /"cluster_id":(\d+),"member_id":(\d+)/.exec(text);
  if (ids === null) throw new Error(`cannot read ids from ${text}`);
  return { etcd, clusterId: BigInt(ids[1]!), memberId: BigInt(ids[2]!), leaseId: setupLease };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Rewrites the second server's ids and ports in text to the first server's. */
function mapFacts(text: string, from: ServerFacts, to: ServerFacts): string {
  let out = text;
  const pairs: [string, string][] = [];
  for (const key of ["memberId", "clusterId", "leaseId"] as const) {
    pairs.push([from[key].toString(), to[key].toString()], [from[key].toString(16), to[key].toString(16)]);
    // Signed renderings (protobuf text of int64 ids above 2^63) and escaped forms.
    if (from[key] >= 2n ** 63n) pairs.push([(from[key] - 2n ** 64n).toString(), (to[key] - 2n ** 64n).toString()]);
  }
  for (const [a, b] of pairs) out = out.replace(new RegExp(`(?<![0-9a-zA-Z])${escapeRegExp(a)}(?![0-9a-zA-Z])`, "g"), b);
  const port = (url: string) => new URL(url).port;
  for (const [a, b] of [
    [port(from.etcd.clientUrl), port(to.etcd.clientUrl)],
    [port(from.etcd.peerUrl), port(to.etcd.peerUrl)],
  ] as const)
    out = out.replace(new RegExp(`:${a}(?![0-9])`, "g"), `:${b}`);
  return out;
}

/**
 * The diff suite's normalizations that apply to any line (clock stamps, client ids, the program
 * name, durations), then wider ones for what fuzz lines can reach: TTLs (also negative), sizes,
 * raft indexes and clock-based lease ids.
 */
function normalize(text: string): string {
  // grpc-go's own log lines under --debug (connection state changes, racing with the call); the
  // diff suite skips its --debug case for them, the fuzzer drops just those lines.
  const withoutGrpcLogs = text.replace(/^(INFO|WARNING|ERROR): \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[[a-z]+\].*\n/gm, "");
  return normalizers.took!(baseNormalize(withoutGrpcLogs))
    .replace(/remaining\(-?\d+s\)/g, "remaining(<n>s)")
    .replace(/"(ttl|TTL)":-?\d+/g, '"$1":<n>')
    .replace(/"TTL" : -?\d+/g, '"TTL" : <n>')
    .replace(/TTL\(\d+\)/g, "TTL(<n>)")
    .replace(/ttl:\d+/g, "ttl:<n>")
    .replace(/\d+(\.\d+)? kB/g, "<size>")
    .replace(/"dbSize(InUse)?":\d+/g, '"dbSize$1":<n>')
    .replace(/"(Size|DBSize)" : \d+/g, '"$1" : <n>')
    .replace(/"raft(Applied)?Index":\d+/g, '"raft$1Index":<n>')
    .replace(/"Raft(Applied)?Index" : \d+/g, '"Raft$1Index" : <n>')
    // Leases granted by fuzz lines get clock-based ids on each server.
    .replace(/\b[0-9a-f]{12,16}\b/g, "<hexid>")
    .replace(/"(ID|id|lease)":\d{12,}/g, '"$1":<id>')
    .replace(/"(ID|Lease)" : \d{12,}/g, '"$1" : <id>');
}

/** Table rows whose widths follow a size or a duration get their padding collapsed. */
function normalizeTable(text: string): string {
  return /^\+-/m.test(text) ? normalizers["table-took"]!(text) : text;
}

/** cairnctl's own `doctor` command appears among unknown-command suggestions; etcdctl has none. */
function withoutDoctor(text: string): string {
  return text.replace(/^\tdoctor\n/gm, "").replace(/\n\nDid you mean this\?\n\n/g, "\n");
}

function substitute(line: FuzzLine, facts: ServerFacts): string[] {
  return line.args.map((a) => a.replaceAll("$LEASE", facts.leaseId.toString(16)).replaceAll("$EP", facts.etcd.endpoint));
}

const skipAll = skipWithoutEtcd() || (spawnSync("etcdctl", ["version"], { stdio: "ignore" }).status === 0 ? false : "etcdctl not found");
if (skipAll === "etcdctl not found") {
  if (process.env.CI === "true") throw new Error("etcdctl is required in CI but was not found on PATH");
  process.stdout.write("# skipping: etcdctl not found\n");
}

let servers: [ServerFacts, ServerFacts] | undefined;
before(async () => {
  if (skipAll !== false) return;
  const a = await startEtcd();
  // The second server advertises the first one's peer URL: member and cluster ids derive from it,
  // so both servers have the same ones, also inside binary (protobuf) output.
  const b = await startEtcd({ extraArgs: [`--initial-advertise-peer-urls=${a.peerUrl}`, `--initial-cluster=default=${a.peerUrl}`] }).catch(async (error: unknown) => {
    await a.stop();
    throw error;
  });
  try {
    servers = [await prepare(a), await prepare(b)];
  } catch (error) {
    await a.stop();
    await b.stop();
    throw error;
  }
});
after(async () => {
  await servers?.[0].etcd.stop();
  await servers?.[1].etcd.stop();
});

test(`ctl fuzz: ${count} lines from seed ${seed}`, { skip: skipAll, timeout: 3_600_000 }, async () => {
  const [a, b] = servers!;
  const failures: string[] = [];
  let skipped = 0;
  for (let index = 0; index < count && failures.length < maxDiffs; index++) {
    const line = generateLine(lineSeed(seed, index));
    const [expected, actual] = await Promise.all([
      run("etcdctl", substitute(line, a), environment(a.etcd, line.args), line.stdin, line.timeout),
      run(cairnctl, substitute(line, b), environment(b.etcd, line.args), line.stdin, line.timeout),
    ]);
    if (excluded(line, expected, actual) !== undefined) {
      skipped++;
      continue;
    }
    const show = (r: RunResult, map: boolean) => {
      const fix = (t: string) => normalizeTable(normalize(map ? mapFacts(t, b, a) : t));
      return { code: r.code, stdout: fix(r.stdout), stderr: fix(r.stderr) };
    };
    const want = show(expected, false);
    const got = show(actual, true);
    got.stderr = withoutDoctor(got.stderr);
    if (process.env.FUZZ_VERBOSE === "1") process.stdout.write(`# ${index}: ${line.args.map(shellQuote).join(" ")} -> ${expected.code}\n`);
    try {
      assert.deepEqual(got, want);
    } catch (error) {
      const stdin = line.stdin === "" ? "" : ` <<< ${shellQuote(line.stdin)}`;
      const message = `FUZZ_SEED=${seed} index ${index}: etcdctl ${line.args.map(shellQuote).join(" ")}${stdin}\n${(error as Error).message}`;
      process.stdout.write(`${message.replace(/^/gm, "# ")}\n`);
      failures.push(message);
    }
  }
  process.stdout.write(`# ${count} lines, ${skipped} excluded, ${failures.length} differences\n`);
  assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.join("\n\n")}`);
});
