/**
 * Starts a throwaway real etcd 3.4 on free loopback ports with a temporary data dir, for
 * differential tests. `etcdAvailability()` tells whether tests may run: when etcd is missing they
 * skip with the reason, unless CI=true, where its absence fails the test.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureOutput, freePort, isRunning, memberFlags, spawnMember } from "../support/etcd.js";

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

/** A running etcd plus an etcdctl runner bound to it. */
export class EtcdProcess {
  private constructor(private readonly child: ChildProcess, private readonly dir: string, readonly endpoint: string, private readonly log: () => string) {}

  static async start(): Promise<EtcdProcess> {
    const dir = mkdtempSync(join(tmpdir(), "cairn-etcd-"));
    const clientPort = await freePort();
    const peerPort = await freePort();
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const child = spawnMember(["etcd"], memberFlags({ name: "diff", dataDir: join(dir, "data"), clientURL: client, peerURL: peer }));
    const etcd = new EtcdProcess(child, dir, client, captureOutput(child));
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
    if (isRunning(this.child)) this.child.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
