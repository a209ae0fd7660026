/**
 * Password prompts on a real terminal: each scenario runs etcdctl 3.4 and cairnctl inside a
 * pseudo-terminal (util-linux `script`), types the answers through it, and compares the terminal
 * transcripts and exit codes, then checks the resulting auth state against the same fresh etcd.
 *
 * An answer is typed only once its prompt is on the screen and the terminal's echo is off (read
 * with `stty -F <pty>`), so a correct program never shows the password and the transcript does not
 * depend on timing; a program that does not turn echo off makes the scenario stop with its
 * transcript.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { skipWithoutEtcd, startEtcd, type EtcdProcess } from "../client/etcd.js";

const cairnctl = resolve("bin/cairnctl");

/** Upper bound for one scenario's waits; reaching it fails the scenario with its transcript. */
const scenarioLimitMs = 30_000;
const pollMs = 20;

function missingTools(): string | false {
  const etcd = skipWithoutEtcd();
  if (etcd !== false) return etcd;
  for (const [tool, args] of [["etcdctl", ["version"]], ["script", ["--version"]], ["stty", ["--version"]]] as const) {
    if (spawnSync(tool, args, { stdio: "ignore" }).status === 0) continue;
    if (process.env.CI === "true") throw new Error(`${tool} is required in CI but was not found`);
    process.stdout.write(`# skipping: ${tool} not found\n`);
    return `${tool} not found`;
  }
  return false;
}

/** One answer: typed once `prompt` has appeared (after the previous answer) and echo is off. */
interface Answer {
  readonly prompt: string;
  readonly keys: string;
}

interface TerminalRun {
  readonly transcript: string;
  readonly code: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the terminal at `ttyPath` has echo turned off. */
function echoOff(ttyPath: string): boolean {
  const result = spawnSync("stty", ["-F", ttyPath, "-a"], { encoding: "utf8" });
  return result.status === 0 && /(^|\s)-echo(\s|$)/.test(result.stdout);
}

/** Runs `command` (a bash line) on a fresh pseudo-terminal and types `answers`. */
async function runOnTerminal(command: string, env: NodeJS.ProcessEnv, answers: readonly Answer[]): Promise<TerminalRun> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-pty-"));
  const ttyFile = join(dir, "tty");
  const child = spawn("script", ["-qfec", `tty > ${ttyFile}; exec ${command}`, "/dev/null"], {
    env: { ...env, SHELL: "/bin/bash" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let transcript = "";
  child.stdout.on("data", (chunk: Buffer) => (transcript += chunk.toString("latin1")));
  child.stderr.on("data", (chunk: Buffer) => (transcript += chunk.toString("latin1")));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  const started = performance.now();
  const fail = (what: string): never => {
    throw new Error(`${what}; transcript so far: ${JSON.stringify(transcript)}`);
  };
  try {
    let seen = 0;
    for (const answer of answers) {
      for (;;) {
        const at = transcript.indexOf(answer.prompt, seen);
        if (at !== -1) {
          let ttyPath = "";
          try {
            ttyPath = readFileSync(ttyFile, "utf8").trim();
          } catch {
            // not written yet
          }
          if (ttyPath !== "" && echoOff(ttyPath)) {
            seen = at + answer.prompt.length;
            break;
          }
        }
        if (done) fail(`exited before prompt ${JSON.stringify(answer.prompt)} with echo off`);
        if (performance.now() - started > scenarioLimitMs) fail(`no prompt ${JSON.stringify(answer.prompt)} with echo off`);
        await sleep(pollMs);
      }
      child.stdin.write(answer.keys);
    }
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), scenarioLimitMs - (performance.now() - started))));
    const code = await Promise.race([exited, limit]);
    clearTimeout(timer);
    if (code === "timeout") return fail("did not exit");
    return { transcript, code };
  } finally {
    child.stdin.end();
    if (!done) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

function ctlEnv(etcd: EtcdProcess): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ETCDCTL_")) env[key] = value;
  return { ...env, ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: etcd.endpoint };
}

/** Runs real etcdctl (for setup and checks); returns its exit code and output. */
function etcdctl(etcd: EtcdProcess, args: readonly string[]): { code: number | null; output: string } {
  const result = spawnSync("etcdctl", args, { env: ctlEnv(etcd), encoding: "utf8", input: "" });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Wall-clock stamps, clientv3's random client id, the random etcd port, and the program name. */
function normalize(text: string): string {
  return text
    .replace(/"ts":"[^"]*"/g, '"ts":"<ts>"')
    .replace(/endpoint:\/\/client-[0-9a-f-]{36}\/127\.0\.0\.1:\d+/g, "endpoint://client-<uuid>/<endpoint>")
    .replace(/\bcairnctl\b/g, "etcdctl");
}

interface Scenario {
  readonly name: string;
  readonly setup: readonly (readonly string[])[];
  /** Arguments after the tool. */
  readonly args: string;
  readonly answers: readonly Answer[];
  /** etcdctl runs afterwards whose outputs and exit codes must match between the tools. */
  readonly checks: readonly (readonly string[])[];
}

const rootPassword = "rootpw";
const withRoot = [["user", "add", `root:${rootPassword}`], ["user", "grant-role", "root", "root"]];

const scenarios: readonly Scenario[] = [
  {
    name: "user add asks twice; line editing works; the password is hidden",
    setup: withRoot,
    args: "user add alice",
    answers: [
      { prompt: "Password of alice: ", keys: "s3cretX\x7f\n" },
      { prompt: "Type password of alice again for confirmation: ", keys: "s3cret\n" },
    ],
    checks: [["auth", "enable"], ["--user=alice:s3cret", "user", "get", "alice"], ["--user=alice:s3cretX", "user", "get", "alice"]],
  },
  {
    name: "user add with passwords that differ",
    setup: [],
    args: "user add alice",
    answers: [
      { prompt: "Password of alice: ", keys: "one\n" },
      { prompt: "Type password of alice again for confirmation: ", keys: "two\n" },
    ],
    checks: [["user", "list"]],
  },
  {
    name: "user add with an empty password",
    setup: [],
    args: "user add alice",
    answers: [{ prompt: "Password of alice: ", keys: "  \n" }],
    checks: [["user", "list"]],
  },
  {
    name: "user passwd asks twice",
    setup: withRoot,
    args: "user passwd root",
    answers: [
      { prompt: "Password of root: ", keys: "newpw\n" },
      { prompt: "Type password of root again for confirmation: ", keys: "newpw\n" },
    ],
    checks: [["auth", "enable"], ["--user=root:newpw", "user", "list"], [`--user=root:${rootPassword}`, "user", "list"]],
  },
  {
    name: "--user without a password asks for it",
    setup: [...withRoot, ["put", "foo", "bar"], ["auth", "enable"]],
    args: "--user=root get foo",
    answers: [{ prompt: "Password: ", keys: `${rootPassword}\n` }],
    checks: [],
  },
  {
    name: "--user prompt with a wrong password",
    setup: [...withRoot, ["auth", "enable"]],
    args: "--user=root get foo",
    answers: [{ prompt: "Password: ", keys: "wrong\n" }],
    checks: [],
  },
  {
    name: "user add then the --user prompt",
    setup: [...withRoot, ["auth", "enable"]],
    args: "user add bob --user=root",
    answers: [
      { prompt: "Password of bob: ", keys: "bobpw\n" },
      { prompt: "Type password of bob again for confirmation: ", keys: "bobpw\n" },
      { prompt: "Password: ", keys: `${rootPassword}\n` },
    ],
    checks: [["--user=bob:bobpw", "user", "get", "bob"]],
  },
  {
    name: "interrupt at the prompt restores echo and exits 255",
    setup: [],
    args: "user add alice; echo \"exit=$?\"; stty -a | grep -o -- '-\\?echo ' | head -1",
    answers: [{ prompt: "Password of alice: ", keys: "\x03" }],
    checks: [["user", "list"]],
  },
];

const skip = missingTools();

describe("ctl prompts on a terminal", { skip }, () => {
  for (const scenario of scenarios) {
    test(scenario.name, async () => {
      const results: { run: TerminalRun; checks: { code: number | null; output: string }[] }[] = [];
      for (const tool of ["etcdctl", cairnctl]) {
        const etcd = await startEtcd();
        try {
          for (const args of scenario.setup) assert.equal(etcdctl(etcd, args).code, 0, `setup ${args.join(" ")}`);
          // The interrupt scenario needs a shell around the tool to report its exit code.
          const line = scenario.args.includes(";") ? `bash -c '${tool} ${scenario.args.replace(/'/g, "'\\''")}'` : `${tool} ${scenario.args}`;
          const run = await runOnTerminal(line, ctlEnv(etcd), scenario.answers);
          results.push({ run, checks: scenario.checks.map((args) => etcdctl(etcd, args)) });
        } finally {
          await etcd.stop();
        }
      }
      const [expected, actual] = results as [(typeof results)[0], (typeof results)[0]];
      const show = (r: (typeof results)[0]) => ({
        run: { code: r.run.code, transcript: normalize(r.run.transcript) },
        checks: r.checks.map((c) => ({ code: c.code, output: normalize(c.output) })),
      });
      assert.deepEqual(show(actual), show(expected));
      // Echo was off: nothing typed shows in the transcript.
      for (const answer of scenario.answers) {
        const typed = answer.keys.replace(/[\n\x7f\x03]/g, "").trim();
        if (typed !== "") assert.ok(!actual.run.transcript.includes(typed), `${JSON.stringify(typed)} was echoed`);
      }
    });
  }
});
