/**
 * Differential suite: every case runs once with etcdctl 3.4 and once with bin/cairnctl against the
 * same etcd 3.4 state, and stdout, stderr and exit code must be byte for byte equal after the
 * normalizations named below (times, durations, random ids, and the program name).
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { freePort, skipWithoutEtcd, startEtcd, type EtcdProcess } from "../client/etcd.js";
import { haveOpenssl, makePki, type TestPki } from "../client/tls.js";
import { killOnExit } from "../support/etcd.js";
import { parseCaseFile, type CaseGroup, type DiffCase, type InteractStep } from "./cases.js";
import { normalize } from "./normalize.js";

const casesDir = resolve("test/ctl/cases");
const cairnctl = resolve("bin/cairnctl");

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

interface Target {
  readonly etcd: EtcdProcess;
  readonly pki: TestPki | undefined;
}

function environment(target: Target, tool: string, work = ""): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ETCDCTL_")) env[key] = value;
  return {
    ...env,
    ETCDCTL_API: "3",
    ETCDCTL_ENDPOINTS: target.etcd.clientUrl.startsWith("https") ? target.etcd.clientUrl : target.etcd.endpoint,
    EP: target.etcd.endpoint,
    URL: target.etcd.clientUrl,
    DATA: target.etcd.dataDir,
    CTL: tool,
    WORK: work,
    ...(target.pki === undefined
      ? {}
      : { CACERT: target.pki.caFile, CERT: target.pki.clientCertFile, KEY: target.pki.clientKeyFile }),
  };
}

/**
 * Runs a script to its end. coreutils `timeout` puts the script in its own process group and, when
 * the time is up, kills that whole group, so a command left running (a watch, a lock holder) dies
 * with its shell instead of outliving the suite.
 */
function runShell(script: string, env: NodeJS.ProcessEnv, stdin: string | undefined): RunResult {
  const result = spawnSync("timeout", ["--signal=KILL", "60", "bash", "-c", script], { env, input: stdin ?? "", encoding: "latin1", cwd: process.cwd() });
  return { stdout: result.stdout, stderr: result.stderr, code: result.status };
}

/** How long an interact step waits for output, or the command for its exit, before giving up. */
const interactWaitMs = 20_000;

/**
 * Runs a script while driving it with interact steps (see cases.ts). The script leads its own
 * process group, which is killed when the script ends, so nothing it started survives it.
 */
async function runInteractive(script: string, env: NodeJS.ProcessEnv, steps: readonly InteractStep[]): Promise<RunResult> {
  const child = spawn("bash", ["-c", script], { env, cwd: process.cwd(), detached: true, stdio: ["pipe", "pipe", "pipe"] });
  killOnExit(child, { group: true });
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("latin1").on("data", (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding("latin1").on("data", (chunk: string) => (output.stderr += chunk));
  child.stdin.on("error", () => undefined);
  const exited = new Promise<number | null>((resolveExit) => child.once("close", (code: number | null) => resolveExit(code)));
  let done = false;
  void exited.then(() => (done = true));
  const until = async (condition: () => boolean) => {
    const deadline = performance.now() + interactWaitMs;
    while (!condition() && !done && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  const lineCount = (text: string) => text.split("\n").length - 1;
  for (const step of steps) {
    if (step.kind === "send") child.stdin.write(`${step.line}\n`);
    else if (step.kind === "wait") await until(() => lineCount(output[step.stream]) >= step.lines);
    else if (step.kind === "run") runShell(`{\n${step.script}\n} >/dev/null 2>&1 </dev/null\n`, { ...env, CTL: "etcdctl" }, undefined);
    else if (step.kind === "until") {
      const succeeds = () => runShell(`{\n${step.script}\n} >/dev/null 2>&1 </dev/null\n`, { ...env, CTL: "etcdctl" }, undefined).code === 0;
      const deadline = performance.now() + interactWaitMs;
      while (!succeeds() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } else if (step.kind === "signal") signalCommand(child.pid!, step.signal);
    else if (step.kind === "close") child.stdin.end();
    else {
      killGroup(child.pid!);
      await exited;
      return { ...output, code: null };
    }
  }
  child.stdin.end();
  await until(() => false);
  if (!done) killGroup(child.pid!);
  return { ...output, code: await exited };
}

/**
 * Sends a signal to the command a case's script is running: the shell's children, or the script
 * process itself when bash exec'd a lone command in place of itself. The shell is spared, so it
 * goes on to report the command's exit status.
 */
function signalCommand(shellPid: number, signal: NodeJS.Signals): void {
  let targets = [shellPid];
  try {
    if (basename(readlinkSync(`/proc/${shellPid}/exe`)) === "bash") {
      targets = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, "utf8").split(/\s+/).filter((pid) => pid !== "").map(Number);
    }
  } catch {
    return; // The script has already ended.
  }
  assert.ok(targets.length > 0, `signal ${signal}: the script runs no command to signal`);
  for (const pid of targets) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function setupScript(lines: readonly string[]): string {
  return lines.length === 0 ? "" : `{\n${lines.join("\n")}\n} >/dev/null 2>&1 </dev/null\n`;
}

/** A scratch directory ($WORK) for one case, the same path for both tools, emptied between runs. */
function newWorkDir(): string {
  return mkdtempSync(join(tmpdir(), "cairn-ctl-diff-"));
}

async function runCase(target: Target, c: DiffCase, tool: string, work: string): Promise<RunResult> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const script = `${setupScript(c.setup)}${c.cmd}\n`;
    const env = environment(target, tool, work);
    return c.interact === undefined ? runShell(script, env, c.stdin) : await runInteractive(script, env, c.interact);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * An interactive case closes stdin after its last step, and etcdctl exits at end of input without
 * waiting for events still on their way, so a case that waits for fewer stdout lines than arrive
 * races: etcdctl sometimes prints them, sometimes not. Such a case is a defect of the case itself,
 * reported here whichever tool printed the extra lines ("exit=N" lines from the shell excepted).
 */
function checkNoRace(c: DiffCase, tool: string, result: RunResult): void {
  if (c.interact === undefined || c.interact.some((step) => step.kind === "kill")) return;
  const waited = Math.max(0, ...c.interact.map((step) => (step.kind === "wait" && step.stream === "stdout" ? step.lines : 0)));
  const printed = result.stdout.split("\n").slice(0, -1).filter((line) => !/^exit=\d+$/.test(line)).length;
  assert.ok(printed <= waited, `case "${c.name}" races: ${tool} printed ${printed} stdout lines but the case waits for ${waited} before closing stdin; wait for all of them`);
}

/**
 * A random id inside a table: ids are printed in hex without leading zeros (12-16 digits), and
 * tablewriter pads every row to its column's widest cell, so the id's width moves the padding of
 * the whole table from run to run (member list -w table failed in CI so). A case whose normalized
 * table still holds a normalized id must normalize the widths too; this fails it on every run
 * instead of one run in sixteen.
 */
function checkTableWidths(c: DiffCase, stdout: string): void {
  if (c.normalize.includes("table-width") || c.normalize.includes("table-took")) return;
  const row = stdout.split("\n").find((line) => line.startsWith("|") && /<hexid>|<id>/.test(line));
  assert.ok(row === undefined, `case "${c.name}" has a random id in a table (${JSON.stringify(row)}): its column widths follow the id's width; add normalize: table-width`);
}

function compare(c: DiffCase, expected: RunResult, actual: RunResult): void {
  checkNoRace(c, "etcdctl", expected);
  checkNoRace(c, "cairnctl", actual);
  checkTableWidths(c, normalize(expected.stdout, c.normalize));
  // CTL_SHOW=1 prints what etcdctl printed, to check that a new case exercises what it means to.
  if (process.env.CTL_SHOW === "1") process.stdout.write(`# ${c.name}: exit ${expected.code}\n${expected.stdout}${expected.stderr}`.replace(/^/gm, "# ") + "\n");
  const show = (r: RunResult) => ({
    code: r.code,
    stdout: normalize(r.stdout, c.normalize),
    stderr: normalize(r.stderr, c.normalize),
  });
  assert.deepEqual(show(actual), show(expected), `cairnctl differs from etcdctl for: ${c.cmd}`);
}

function etcdOptions(group: CaseGroup, pki: TestPki | undefined, ports?: { clientPort: number; peerPort: number }) {
  return {
    extraArgs: group.etcdFlags,
    ...(ports ?? {}),
    ...(pki === undefined ? {} : { tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } }),
  };
}

const skipAll = skipWithoutEtcd() || (spawnSync("etcdctl", ["version"], { stdio: "ignore" }).status === 0 ? false : "etcdctl not found");
/** CTL_CASES=watch,table runs only the case files whose names contain one of the words. */
const onlyFiles = (process.env.CTL_CASES ?? "").split(",").filter((word) => word !== "");
const files = (existsSync(casesDir) ? readdirSync(casesDir).filter((f) => f.endsWith(".txt")).sort() : []).filter(
  (f) => onlyFiles.length === 0 || onlyFiles.some((word) => f.includes(word)),
);

for (const file of files) {
  const group = parseCaseFile(join(casesDir, file));
  const needsOpenssl = group.tls && !haveOpenssl();
  describe(`ctl diff: ${file}`, { skip: skipAll || (needsOpenssl ? "openssl not found" : false) }, () => {
    let pki: TestPki | undefined;
    let shared: EtcdProcess | undefined;
    before(async () => {
      if (group.tls) pki = makePki();
      if (group.mode === "shared") {
        shared = await startEtcd(etcdOptions(group, pki));
        const result = runShell(setupScript(group.setup), environment({ etcd: shared, pki }, "etcdctl"), undefined);
        if (result.code !== 0) throw new Error(`group setup failed: ${result.stderr}`);
      }
    });
    after(async () => {
      await shared?.stop();
      if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
    });
    for (const c of group.cases) {
      test(c.name, { skip: c.skip ?? false }, async () => {
        const work = newWorkDir();
        if (shared !== undefined) {
          const target = { etcd: shared, pki };
          compare(c, await runCase(target, c, "etcdctl", work), await runCase(target, c, cairnctl, work));
          return;
        }
        const ports = { clientPort: await freePort(), peerPort: await freePort() };
        const results: RunResult[] = [];
        for (const tool of ["etcdctl", cairnctl]) {
          const etcd = await startEtcd(etcdOptions(group, pki, ports));
          try {
            results.push(await runCase({ etcd, pki }, c, tool, work));
          } finally {
            await etcd.stop();
          }
        }
        compare(c, results[0]!, results[1]!);
      });
    }
  });
}
