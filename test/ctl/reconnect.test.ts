/**
 * Long-running commands across a server restart, etcdctl and cairnctl side by side on the same
 * real etcd: clientv3 resumes a watch from the revision after the last one it saw, keeps a lease
 * alive over a new stream, and a lock waiter's watch resumes too. etcd is killed with SIGKILL and
 * started again on the same data and ports; writes made right after it is back may land before the
 * clients have reconnected, so a watch that resumed from the wrong revision loses them.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { skipWithoutEtcd, startEtcd, type EtcdProcess } from "../client/etcd.js";
import { isRunning, killAndWait, killOnExit } from "../support/etcd.js";

const cairnctl = resolve("bin/cairnctl");
const skip = skipWithoutEtcd();
/** How long a step may wait for output before the test gives up (a safety net, not a measurement). */
const waitMs = 30_000;

interface Running {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  code: number | null | undefined;
}

function run(tool: string, args: readonly string[], endpoint: string): Running {
  const child = spawn(tool, [`--endpoints=${endpoint}`, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ETCDCTL_API: "3" } });
  killOnExit(child);
  const running: Running = { child, stdout: "", stderr: "", code: undefined };
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (running.stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (running.stderr += chunk));
  child.once("exit", (code) => (running.code = code));
  return running;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + waitMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const lines = (text: string) => text.split("\n").length - 1;

function etcdctl(etcd: EtcdProcess, ...args: string[]): string {
  const result = spawnSync("etcdctl", [`--endpoints=${etcd.endpoint}`, ...args], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
  assert.equal(result.status, 0, `etcdctl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

describe("long-running commands survive a server restart as etcdctl's do", { skip }, () => {
  let etcd: EtcdProcess;
  const started: Running[] = [];
  const start = (tool: string, args: readonly string[]) => {
    const running = run(tool, args, etcd.endpoint);
    started.push(running);
    return running;
  };
  before(async () => {
    etcd = await startEtcd();
  });
  after(async () => {
    for (const running of started) await killAndWait(running.child);
    await etcd?.stop();
  });

  test("watch and watch -i resume after the last event seen: nothing lost, nothing repeated", async () => {
    const watchers = ["etcdctl", cairnctl].flatMap((tool) => [
      start(tool, ["watch", "w/", "--prefix"]),
      start(tool, ["watch", "w/", "--prefix", "--prev-kv"]),
      start(tool, ["watch", "-i"]),
    ]);
    for (const interactive of watchers.filter((_, i) => i % 3 === 2)) interactive.child.stdin!.write("watch w/ --prefix\n");
    // A watch of "now" is established once it has seen a write made after it started.
    for (let n = 0; !watchers.every((w) => w.stdout.includes("w/ready")); n++) {
      etcdctl(etcd, "put", `w/ready`, String(n));
      await new Promise((r) => setTimeout(r, 100));
    }
    etcdctl(etcd, "put", "w/a", "1");
    await until("the first event", () => watchers.every((w) => w.stdout.includes("w/a\n1\n")));
    await etcd.restart(500);
    etcdctl(etcd, "put", "w/a", "2");
    etcdctl(etcd, "del", "w/a");
    etcdctl(etcd, "put", "w/b", "3");
    await until("every event after the restart", () => watchers.every((w) => w.stdout.includes("w/b\n3\n")));
    await new Promise((r) => setTimeout(r, 300));
    for (const [i, kind] of ["--prefix", "--prev-kv", "-i"].entries()) {
      const [ours, theirs] = [watchers[i + 3]!, watchers[i]!];
      const tail = (text: string) => text.slice(text.indexOf("w/a\n1\n") - "PUT\n".length);
      assert.equal(tail(ours.stdout), tail(theirs.stdout), `watch ${kind}: cairnctl's events after the restart differ from etcdctl's`);
      assert.equal(ours.stderr, theirs.stderr, `watch ${kind}: stderr`);
      assert.ok(isRunning(ours.child), `watch ${kind}: cairnctl still watching`);
    }
    assert.equal(watchers[3]!.stdout.slice(watchers[3]!.stdout.indexOf("PUT\nw/a\n1\n")), "PUT\nw/a\n1\nPUT\nw/a\n2\nDELETE\nw/a\n\nPUT\nw/b\n3\n");
  });

  test("lease keep-alive renews over a new stream after the restart, and ends when the lease is revoked", async () => {
    const lease = /lease ([0-9a-f]+) granted/.exec(etcdctl(etcd, "lease", "grant", "8"))![1]!;
    const keepers = ["etcdctl", cairnctl].map((tool) => start(tool, ["lease", "keep-alive", lease]));
    await until("first renewals", () => keepers.every((k) => k.stdout.includes("keepalived")));
    await etcd.restart(500);
    const counts = keepers.map((k) => lines(k.stdout));
    await until("renewals after the restart", () => keepers.every((k, i) => lines(k.stdout) > counts[i]!));
    // The lease is renewed, not merely not yet expired: wait past its TTL.
    await new Promise((r) => setTimeout(r, 9_000));
    assert.match(etcdctl(etcd, "lease", "timetolive", lease), /remaining\(\d+s\)/);
    assert.ok(keepers.every((k) => isRunning(k.child)), "both still renewing");
    etcdctl(etcd, "lease", "revoke", lease);
    await until("both to exit", () => keepers.every((k) => k.code !== undefined));
    const [theirs, ours] = keepers.map((k) => ({ code: k.code, last: k.stdout.split("\n").at(-2), stderr: k.stderr }));
    assert.deepEqual(ours, theirs);
    assert.equal(theirs!.last, `lease ${lease} expired or revoked.`);
  });

  test("elect -l keeps observing across the restart and reports the next leader", async () => {
    const first = start("etcdctl", ["elect", "vote", "p1"]);
    await until("the first leader", () => first.stdout.includes("p1"));
    const observers = ["etcdctl", cairnctl].map((tool) => start(tool, ["elect", "-l", "vote"]));
    await until("observers to see p1", () => observers.every((o) => o.stdout.includes("p1\n")));
    await etcd.restart(500);
    first.child.kill("SIGINT");
    await until("the first leader to resign", () => first.code !== undefined);
    const second = start("etcdctl", ["elect", "vote", "p2"]);
    await until("observers to see p2", () => observers.every((o) => o.stdout.includes("p2\n")));
    const shape = (text: string) => text.replace(/vote\/[0-9a-f]+/g, "vote/<lease>");
    assert.equal(shape(observers[1]!.stdout), shape(observers[0]!.stdout));
    assert.equal(observers[1]!.stderr, observers[0]!.stderr);
    second.child.kill("SIGINT");
  });

  test("make-mirror keeps mirroring after its source restarts", async () => {
    const dest = await startEtcd();
    try {
      const mirrors = [
        { tool: "etcdctl", prefix: "m/e/" },
        { tool: cairnctl, prefix: "m/c/" },
      ].map(({ tool, prefix }) => ({ prefix, running: start(tool, ["make-mirror", `--prefix=${prefix}`, dest.endpoint]) }));
      const destKeys = () => etcdctl(dest, "get", "m/", "--prefix", "--keys-only").split("\n").filter((l) => l !== "");
      for (const { prefix } of mirrors) etcdctl(etcd, "put", `${prefix}1`, "a");
      await until("the first keys to be mirrored", () => destKeys().length === 2);
      await etcd.restart(500);
      for (const { prefix } of mirrors) {
        etcdctl(etcd, "put", `${prefix}2`, "b");
        etcdctl(etcd, "del", `${prefix}1`);
      }
      await until("the writes after the restart to be mirrored", () => destKeys().join(",") === "m/c/2,m/e/2");
      for (const { running } of mirrors) assert.ok(isRunning(running.child));
    } finally {
      await dest.stop();
    }
  });

  test("snapshot save cut off by a server crash: same warning, error and exit code, no .part file left", async () => {
    // 20 values of 1 MB: far more than the socket buffers hold while the client is stopped.
    const value = "v".repeat(1_000_000);
    for (let i = 0; i < 20; i++) {
      const result = spawnSync("etcdctl", [`--endpoints=${etcd.endpoint}`, "put", `big/${i}`], { input: value, env: { ...process.env, ETCDCTL_API: "3" } });
      assert.equal(result.status, 0, String(result.stderr));
    }
    const outcomes = [];
    for (const tool of ["etcdctl", cairnctl]) {
      const dir = mkdtempSync(join(tmpdir(), "cairn-snap-cut-"));
      try {
        const path = join(dir, "s.db");
        const saving = start(tool, ["snapshot", "save", path]);
        await until("the download to start", () => existsSync(`${path}.part`) && statSync(`${path}.part`).size > 0);
        // Stopped, the client cannot finish the download before the server dies under it.
        saving.child.kill("SIGSTOP");
        await etcd.restart(0);
        saving.child.kill("SIGCONT");
        await until("the save to fail", () => saving.code !== undefined);
        const stderr = saving.stderr
          .split("\n")
          .filter((line) => !line.startsWith('{"level":"info"'))
          .join("\n")
          .replace(/"ts":"[^"]+"/g, '"ts":"<time>"');
        outcomes.push({ code: saving.code, stderr, stdout: saving.stdout, files: readdirSync(dir) });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    assert.deepEqual(outcomes[1], outcomes[0]);
    assert.equal(outcomes[0]!.code, 5);
  });

  for (const tool of ["etcdctl", cairnctl]) {
    test(`a lock waiter (${tool === "etcdctl" ? "etcdctl" : "cairnctl"}) keeps waiting across the restart and gets the lock when it is released`, async () => {
      const name = `lock-${tool === "etcdctl" ? "e" : "c"}`;
      const holder = start(tool, ["lock", name]);
      await until("the holder to hold the lock", () => holder.stdout.includes(`${name}/`));
      const waiter = start(tool, ["lock", name]);
      await until("the waiter to queue", () => etcdctl(etcd, "get", `${name}/`, "--prefix", "--keys-only").split("\n").filter((l) => l !== "").length === 2);
      await etcd.restart(500);
      assert.equal(waiter.stdout, "", "the waiter must not hold the lock yet");
      holder.child.kill("SIGINT");
      await until("the waiter to hold the lock", () => waiter.stdout.includes(`${name}/`));
      assert.ok(isRunning(waiter.child));
      assert.equal(holder.stderr, "");
      assert.equal(waiter.stderr, "");
    });
  }
});
