/**
 * Spawns real etcd and cairn side by side on random loopback ports with temporary data dirs, runs
 * etcdctl against either, and kills every child it started (also when a test fails).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { freePort, memberFlags, spawnMember } from "../support/etcd.js";

export { freePort };

/** Time to wait for a member to answer /health after start. */
export const START_TIMEOUT_MS = 20_000;
/** Time any single etcdctl call may take. */
export const ETCDCTL_TIMEOUT_MS = 15_000;

const REPO_ROOT = resolve(import.meta.dirname, "../../..");

export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/**
 * Whether the real-etcd tests can run. When they cannot, the test is skipped with the reason,
 * unless CI=true, where the absence of etcd is a failure.
 */
export function requireEtcd(t: TestContext): boolean {
  if (hasCommand("etcd") && hasCommand("etcdctl")) return true;
  const reason = "etcd/etcdctl 3.4 not installed (apt-get install -y etcd-server etcd-client)";
  if (process.env["CI"] === "true") throw new Error(`${reason}; mandatory when CI=true`);
  t.skip(reason);
  return false;
}

export interface MemberOptions {
  /** Extra flags appended to the command line. */
  flags?: string[];
  /** Reuse this data dir (for restarts) instead of a new temporary one. */
  dataDir?: string;
  clientPort?: number;
  peerPort?: number;
  /**
   * What start-up waits for: /health answering "true" (the default), or any /health answer (a
   * member with a raised alarm reports itself unhealthy).
   */
  waitFor?: "healthy" | "answering";
}

/** A running etcd or cairn process. */
export class Member {
  private exited: Promise<number | null>;
  readonly stderrChunks: string[] = [];
  constructor(
    readonly kind: "etcd" | "cairn",
    readonly process: ChildProcess,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly ownsDir: boolean,
  ) {
    this.exited = new Promise((resolveExit) => process.once("exit", (code) => resolveExit(code)));
    process.stderr?.on("data", (chunk: Buffer) => {
      if (this.stderrChunks.length < 2000) this.stderrChunks.push(chunk.toString());
    });
    process.stdout?.on("data", () => undefined);
  }
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }
  get url(): string {
    return `http://${this.endpoint}`;
  }
  /** SIGKILL and wait for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
    return this.exited;
  }
  async stop(): Promise<void> {
    await this.kill("SIGKILL");
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

/** Starts a member and waits until /health answers. `kind` picks the binary. */
export async function startMember(kind: "etcd" | "cairn", options: MemberOptions = {}): Promise<Member> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `${kind}-e2e-`));
  const clientPort = options.clientPort ?? (await freePort());
  const peerPort = options.peerPort ?? (await freePort());
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [...memberFlags({ name: "default", dataDir: join(dataDir, "data"), clientURL: client, peerURL: peer }), ...(options.flags ?? [])];
  const command = kind === "etcd" ? "etcd" : join(REPO_ROOT, "bin/cairn");
  const child = spawnMember([command], args, { cwd: dataDir });
  const member = new Member(kind, child, dataDir, clientPort, peerPort, ownsDir);
  await waitHealthy(member, options.waitFor ?? "healthy");
  return member;
}

async function waitHealthy(member: Member, waitFor: "healthy" | "answering"): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (member.process.exitCode !== null) throw new Error(`${member.kind} exited with ${member.process.exitCode}: ${member.stderrChunks.join("").slice(-2000)}`);
    try {
      const res = await fetch(`${member.url}/health`);
      const body = await res.text();
      if (res.status === 200 && body.includes('"true"')) return;
      if (waitFor === "answering" && body.includes('"health"')) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await member.kill();
  throw new Error(`${member.kind} did not become healthy within ${START_TIMEOUT_MS} ms: ${member.stderrChunks.join("").slice(-2000)}`);
}

export interface CtlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `etcdctl` (API v3) against an endpoint. */
export function etcdctl(endpoint: string, args: readonly string[], input?: string): Promise<CtlResult> {
  return new Promise((resolveRun) => {
    const child = spawn("etcdctl", ["--endpoints", endpoint, "--command-timeout", "10s", ...args], {
      env: { ...process.env, ETCDCTL_API: "3" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), ETCDCTL_TIMEOUT_MS);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    // etcdctl may exit before reading its input (a usage error): that is its answer, not ours.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}
