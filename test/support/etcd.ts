/**
 * The one place tests spawn an etcd-compatible member (real etcd 3.4, or Cairn with the same
 * flags): free loopback ports, the single-member command line, spawning with the output captured,
 * and killing. Every child spawned here is killed when the test process exits, also on failure.
 * The harnesses in test/storage, test/bbolt and test/e2e build on it; how each waits for
 * readiness stays with them, since that is part of what their tests check.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";

/** A free TCP port on 127.0.0.1 (the OS picks it, then releases it; a tiny race remains). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolvePort(port));
    });
  });
}

/** Flags that start one member of `initialCluster` (by default, a cluster of itself) on loopback URLs. */
export function memberFlags(options: {
  name: string;
  dataDir: string;
  clientURL: string;
  peerURL: string;
  initialCluster?: string;
  token?: string;
}): string[] {
  return [
    `--name=${options.name}`,
    `--data-dir=${options.dataDir}`,
    `--listen-client-urls=${options.clientURL}`,
    `--advertise-client-urls=${options.clientURL}`,
    `--listen-peer-urls=${options.peerURL}`,
    `--initial-advertise-peer-urls=${options.peerURL}`,
    `--initial-cluster=${options.initialCluster ?? `${options.name}=${options.peerURL}`}`,
    ...(options.token === undefined ? [] : [`--initial-cluster-token=${options.token}`]),
  ];
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Spawns `command` (program and leading arguments) with `args`; killed at exit if still running. */
export function spawnMember(command: readonly string[], args: readonly string[], options: { cwd?: string } = {}): ChildProcess {
  const [program, ...prefix] = command;
  const child = spawn(program!, [...prefix, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd });
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Collects a child's stdout and stderr; the returned function gives everything so far. */
export function captureOutput(child: ChildProcess): () => string {
  const chunks: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
  return () => chunks.join("");
}

/** Whether the child is still running. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs the child (if it still runs) and waits for its exit. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}
