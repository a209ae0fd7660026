/**
 * A spawned etcd never outlives the test process, however that process ends: a failing test, an
 * uncaught error, SIGTERM from a runner, or SIGKILL. Each run starts etcd in a child process
 * (etcd-orphan-fixture.ts), ends it, and then looks for any process still using etcd's data dir.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { haveOpenssl } from "../client/tls.js";
import { skipWithoutEtcd } from "../client/etcd.js";

const fixture = fileURLToPath(new URL("./etcd-orphan-fixture.js", import.meta.url));

/** Pids of live (non-zombie) processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

/** Waits (bounded) until no process mentions `text`; returns those still there. */
async function remaining(text: string): Promise<number[]> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const pids = processesMentioning(text);
    if (pids.length === 0 || performance.now() > deadline) return pids;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function endFixture(mode: string, security: string, signal: NodeJS.Signals | undefined): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "cairn-orphan-"));
  const go = join(scratch, "go");
  // A failing test runs under the test runner, as `npm test` runs every test file.
  const runner = mode === "failing-test" ? ["--test", "--test-reporter=tap"] : [];
  // Without the runner's marker, which would make the inner runner refuse to run the file.
  const { NODE_TEST_CONTEXT: _marker, ...env } = process.env;
  const child = spawn(process.execPath, [...runner, fixture], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...env, CAIRN_FIXTURE_MODE: mode, CAIRN_FIXTURE_SECURITY: security, CAIRN_FIXTURE_GO: go },
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const dataDir = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /\{"dataDir":"([^"]+)"\}/.exec(stdout);
      if (match !== null) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`fixture ended before etcd started: ${stdout}${stderr}`)));
  });
  try {
    assert.ok(processesMentioning(`--data-dir=${dataDir}`).length > 0, "etcd is running before the fixture ends");
    if (signal !== undefined) child.kill(signal);
    else writeFileSync(go, "");
    // A fixture that never exits is the failure too: the runner would hang with etcd running.
    const hung = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 30_000).unref())]);
    assert.equal(hung, false, `the fixture ended by ${signal ?? mode} did not exit`);
    const left = await remaining(`--data-dir=${dataDir}`);
    assert.deepEqual(left, [], `etcd outlived a fixture ended by ${signal ?? mode}`);
  } finally {
    for (const pid of processesMentioning(`--data-dir=${dataDir}`)) process.kill(pid, "SIGKILL");
    child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe("spawned etcd is killed when the test process ends", { skip: skipWithoutEtcd() }, () => {
  test("after a failing test", () => endFixture("failing-test", "plain", undefined));
  test("after an uncaught error", () => endFixture("throw", "plain", undefined));
  test("after SIGTERM, with TLS and client certificates", { skip: haveOpenssl() ? false : "openssl not found" }, () =>
    endFixture("wait", "tls", "SIGTERM"));
  test("after SIGKILL", () => endFixture("wait", "plain", "SIGKILL"));
});
