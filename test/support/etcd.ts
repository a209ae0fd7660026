/**
 * The one place tests spawn an etcd-compatible member (real etcd 3.4, or Cairn with the same
 * flags): free loopback ports, the single-member command line, spawning with the output captured,
 * and killing. Every child spawned here is killed when the test process ends, however it ends
 * (see the reaper below).
 * The harnesses in test/storage, test/bbolt and test/e2e build on it; how each waits for
 * readiness stays with them, since that is part of what their tests check.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { after } from "node:test";
import { createServer, type AddressInfo } from "node:net";

/**
 * Ports are picked below Linux's ephemeral range (32768-60999 by default): a port the OS hands out
 * for listen(0) comes from that range, which is also where every outgoing connection on the
 * machine (etcdctl, gRPC clients, other engineers' tests) takes its local port, so between
 * releasing the port and etcd binding it an outgoing connection could take it. Below the range,
 * only another test picking the same random port could, and this process never hands out a port
 * twice.
 */
const portRange = { low: 20_000, high: 32_767 };
const handedOut = new Set<number>();

/** Whether `port` (0: any) can be bound on 127.0.0.1 now; resolves to the bound port or undefined. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(undefined));
    server.listen(port, "127.0.0.1", () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolvePort(bound));
    });
  });
}

/** A free TCP port on 127.0.0.1, released for the caller to bind (see above for the small race). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const candidate = portRange.low + Math.floor(Math.random() * (portRange.high - portRange.low + 1));
    if (handedOut.has(candidate)) continue;
    handedOut.add(candidate);
    if ((await tryPort(candidate)) !== undefined) return candidate;
  }
  const port = await tryPort(0);
  if (port === undefined) throw new Error("no free loopback port");
  handedOut.add(port);
  return port;
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

/** Children to kill when we end, with whether the whole process group (id -pid) goes too. */
const running = new Map<ChildProcess, boolean>();
process.once("exit", () => {
  for (const [child, group] of running) killProcess(child, group);
});

// Once every test of the file is done, nothing spawned here may outlive it: a test that failed
// before stopping its etcd would otherwise keep this process alive through etcd's output pipes,
// so the runner would hang with etcd still running (and leave it behind when someone kills it).
after(() => {
  for (const [child, group] of running) killProcess(child, group);
});

function killProcess(child: ChildProcess, group: boolean): void {
  try {
    if (group) process.kill(-child.pid!, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * A reaper that outlives us: a bash process in its own process group reading "+pid" and "-pid"
 * lines from a pipe whose only writer is this process. When this process dies by any means
 * (normal exit, uncaught error, SIGTERM or SIGINT from a runner, even SIGKILL), the kernel closes
 * the pipe, the reaper reads EOF and SIGKILLs every process (or, for a negative id, process
 * group) still registered. The "exit" hook above covers the ordinary paths; the reaper covers the
 * paths where no JavaScript runs any more, which is how a TLS etcd was once left behind.
 */
let reaper: ChildProcess | undefined;
const reaperScript = [
  "live=' '",
  "while read -r op id; do",
  '  case $op in "+") live="$live$id " ;; "-") live="${live/ $id / }" ;; esac',
  "done",
  "for id in $live; do kill -9 -- \"$id\" 2>/dev/null; done",
].join("\n");

function reaperWrite(line: string): void {
  if (reaper === undefined) {
    reaper = spawn("bash", ["-c", reaperScript], { stdio: ["pipe", "ignore", "ignore"], detached: true });
    reaper.unref();
    // The pipe must not keep the event loop alive, and a reaper that died must not crash us.
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    reaper.stdin?.on("error", () => undefined);
  }
  reaper.stdin?.write(`${line}\n`);
}

/**
 * Registers a child to be SIGKILLed if this process ends while the child still runs. With `group`
 * (the child must have been spawned with `detached: true`, so it leads its own process group) the
 * whole group is killed, and the group's remaining members are also killed when the leader exits.
 */
export function killOnExit(child: ChildProcess, options: { group?: boolean } = {}): void {
  if (child.pid === undefined) return;
  const group = options.group === true;
  const id = group ? -child.pid : child.pid;
  running.set(child, group);
  reaperWrite(`+ ${id}`);
  child.once("exit", () => {
    if (group) killProcess(child, true);
    running.delete(child);
    reaperWrite(`- ${id}`);
  });
}

/** Spawns `command` (program and leading arguments) with `args`; killed at exit if still running. */
export function spawnMember(command: readonly string[], args: readonly string[], options: { cwd?: string } = {}): ChildProcess {
  const [program, ...prefix] = command;
  const child = spawn(program!, [...prefix, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd });
  killOnExit(child);
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
