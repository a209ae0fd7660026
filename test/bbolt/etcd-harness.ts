/**
 * Helpers for tests that use real etcd 3.4 as the oracle: finding the binaries, free loopback ports,
 * spawning an etcd member in a temporary directory, and running etcdctl.
 *
 * Tests that need etcd call `requireEtcd(t)`: without the binaries it skips with a reason, except
 * under CI=true, where it fails.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { captureOutput, freePort, killAndWait, memberFlags, spawnMember } from "../support/etcd.js";

export { freePort };

/** How many times to poll a starting etcd before giving up (each poll waits POLL_INTERVAL_MS). */
const START_POLL_LIMIT = 200;
const POLL_INTERVAL_MS = 100;

function binaryWorks(name: string, versionArgs: string[]): boolean {
  const result = spawnSync(name, versionArgs, { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
  return result.status === 0 && /3\.4\./.test(result.stdout);
}

/** True when etcd and etcdctl can be used; otherwise skips the test (fails it under CI=true). */
export function requireEtcd(t: TestContext): boolean {
  if (binaryWorks("etcd", ["--version"]) && binaryWorks("etcdctl", ["version"])) return true;
  const reason = "etcd/etcdctl 3.4 not found on PATH (apt-get install -y etcd-server etcd-client)";
  if (process.env.CI === "true") throw new Error(`${reason}; required when CI=true`);
  t.skip(reason);
  return false;
}

/** A temporary directory removed by `cleanup()`. */
export function tempDir(prefix: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cairn-${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface EtcdctlResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs etcdctl (v3 API) synchronously. */
export function etcdctl(args: string[], options: { endpoint?: string; input?: string } = {}): EtcdctlResult {
  const full = options.endpoint === undefined ? args : [`--endpoints=${options.endpoint}`, ...args];
  const result = spawnSync("etcdctl", full, { encoding: "utf8", input: options.input, env: { ...process.env, ETCDCTL_API: "3" } });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** etcdctl that must succeed; returns stdout. */
export function etcdctlOk(args: string[], options: { endpoint?: string; input?: string } = {}): string {
  const result = etcdctl(args, options);
  if (result.status !== 0) throw new Error(`etcdctl ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** The command that runs Cairn's server from the compiled tree (works for any member start). */
export const CAIRN_COMMAND = [process.execPath, join(import.meta.dirname, "../../src/server/main.js")];

/** A running etcd (or, with `command: CAIRN_COMMAND`, Cairn) member on random loopback ports. */
export class EtcdMember {
  private constructor(
    private readonly child: ChildProcess,
    readonly clientURL: string,
    readonly peerURL: string,
    private readonly log: () => string,
  ) {}

  /**
   * Starts etcd on `dataDir`. For a restored data dir, pass the name, peer URL and token used for
   * the restore so the member's flags match its data.
   */
  static async start(options: { dataDir: string; name?: string; peerPort?: number; token?: string; command?: string[] }): Promise<EtcdMember> {
    const name = options.name ?? "default";
    const clientURL = `http://127.0.0.1:${await freePort()}`;
    const peerURL = `http://127.0.0.1:${options.peerPort ?? (await freePort())}`;
    const args = [
      ...memberFlags({ name, dataDir: options.dataDir, clientURL, peerURL, token: options.token ?? "etcd-cluster" }),
      "--log-level=error",
    ];
    const child = spawnMember(options.command ?? ["etcd"], args);
    const log = captureOutput(child);
    const member = new EtcdMember(child, clientURL, peerURL, log);
    for (let attempt = 0; attempt < START_POLL_LIMIT; attempt++) {
      if (child.exitCode !== null) break;
      if (etcdctl(["endpoint", "health", "--command-timeout=1s"], { endpoint: clientURL }).status === 0) return member;
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
    await member.stop();
    throw new Error(`etcd did not become healthy; log:\n${log()}`);
  }

  /**
   * Runs etcdctl against this member. The endpoint is given as host:port (etcdctl's own default
   * form): Cairn's gRPC server rejects the Maintenance calls when etcdctl is given an http:// URL.
   */
  etcdctl(args: string[]): string {
    return etcdctlOk(args, { endpoint: this.clientURL.replace(/^http:\/\//, "") });
  }

  /** Kills the process and waits for it to exit. */
  async stop(): Promise<void> {
    await killAndWait(this.child);
  }
}

/** Puts many keys quickly through etcd's JSON gateway (base64 keys and values). */
export async function putMany(clientURL: string, pairs: [string, string][], concurrency = 32): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const [key, value] = pairs[next++]!;
      const response = await fetch(`${clientURL}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({ key: Buffer.from(key).toString("base64"), value: Buffer.from(value).toString("base64") }),
      });
      if (!response.ok) throw new Error(`put ${key}: HTTP ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Member and cluster IDs etcd reports when it starts on a restored data directory. */
export interface StartupIds {
  localMemberId: string;
  clusterId: string;
  /** Every member etcd recovered, by ID, with its peer URLs as logged. */
  members: Map<string, string>;
}

/**
 * Starts etcd on a restored data dir just long enough to read, from its log, the member and
 * cluster IDs it recovered (a multi-member cluster never gets quorum here, so the log is the only
 * place to ask), then kills it.
 */
export async function readStartupIds(options: {
  dataDir: string;
  name: string;
  peerURL: string;
  initialCluster: string;
  token: string;
  memberCount: number;
}): Promise<StartupIds> {
  const clientURL = `http://127.0.0.1:${await freePort()}`;
  const child = spawnMember(
    ["etcd"],
    memberFlags({ name: options.name, dataDir: options.dataDir, clientURL, peerURL: options.peerURL, initialCluster: options.initialCluster, token: options.token }),
  );
  const output = captureOutput(child);
  try {
    for (let attempt = 0; attempt < START_POLL_LIMIT; attempt++) {
      const log = output();
      const local = /restarting member ([0-9a-f]+) in cluster ([0-9a-f]+)/.exec(log);
      const added = [...log.matchAll(/added member ([0-9a-f]+) \[([^\]]*)\] to cluster ([0-9a-f]+)/g)];
      if (local !== null && added.length >= options.memberCount) {
        return { localMemberId: local[1]!, clusterId: local[2]!, members: new Map(added.map((m) => [m[1]!, m[2]!])) };
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
    throw new Error(`etcd did not report its IDs; log:\n${output()}`);
  } finally {
    await killAndWait(child);
  }
}
