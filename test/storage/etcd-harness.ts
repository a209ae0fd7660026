/**
 * Starts a throwaway real etcd 3.4 on free loopback ports with a temporary data dir, for
 * differential tests. `etcdAvailability()` tells whether tests may run: when etcd is missing they
 * skip with the reason, unless CI=true, where its absence fails the test.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether the etcd binaries are installed. */
export function etcdAvailability(): { available: true } | { available: false; reason: string } {
  for (const [bin, args] of [["etcd", ["--version"]], ["etcdctl", ["version"]]] as const) {
    const probe = spawnSync(bin, args, { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
    if (probe.error !== undefined || probe.status !== 0) {
      const reason = `${bin} is not installed (${probe.error?.message ?? `exit ${probe.status}`})`;
      if (process.env.CI === "true") throw new Error(`CI=true requires real etcd: ${reason}`);
      return { available: false, reason };
    }
  }
  return { available: true };
}

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A running etcd plus an etcdctl runner bound to it. */
export class EtcdProcess {
  private constructor(private readonly child: ChildProcess, private readonly dir: string, readonly endpoint: string, private readonly log: () => string) {}

  static async start(): Promise<EtcdProcess> {
    const dir = mkdtempSync(join(tmpdir(), "cairn-etcd-"));
    const clientPort = await freePort();
    const peerPort = await freePort();
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const child = spawn("etcd", [
      "--name", "diff", "--data-dir", join(dir, "data"),
      "--listen-client-urls", client, "--advertise-client-urls", client,
      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", `diff=${peer}`,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const etcd = new EtcdProcess(child, dir, client, () => output);
    try {
      await etcd.waitReady();
    } catch (error) {
      etcd.stop();
      throw error;
    }
    return etcd;
  }

  private async waitReady(): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      if (this.child.exitCode !== null) throw new Error(`etcd exited (${this.child.exitCode}):\n${this.log()}`);
      // The endpoint must be ours: our own fresh data dir answers with revision 1.
      const probe = spawnSync("etcdctl", ["--endpoints", this.endpoint, "--command-timeout=1s", "endpoint", "status", "-w", "json"], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
      if (probe.status === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not become ready:\n${this.log()}`);
  }

  /** Runs etcdctl with ETCDCTL_API=3 against this etcd; throws with stderr on failure. */
  ctl(...args: string[]): string {
    return this.ctlWithInput("", ...args);
  }

  /** Runs etcdctl with `input` on its stdin (e.g. for `txn`). */
  ctlWithInput(input: string, ...args: string[]): string {
    const result = spawnSync("etcdctl", ["--endpoints", this.endpoint, ...args], { input, encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
    if (result.status !== 0) throw new Error(`etcdctl ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Kills etcd and removes its data dir. */
  stop(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
