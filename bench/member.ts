/**
 * Starting, measuring and stopping the servers under test: a fresh single-member etcd or cairn on
 * random loopback ports with a temporary data dir, its RSS and CPU read from /proc, its data dir's
 * size on disk, and the time a restart takes until a linearizable read succeeds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { create } from "@bufbuild/protobuf";
import { RangeRequestSchema } from "../src/api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../src/api/grpc.js";
import { openConnection, unary } from "./grpc.js";

/** How to launch one kind of server. */
export interface ServerCommand {
  /** Name in the table: "etcd" or "cairn". */
  readonly label: string;
  readonly command: string;
  /** Arguments before the etcd-style flags (e.g. node's own flags and the script). */
  readonly prefixArgs: readonly string[];
}

/** Flags both servers get, so that they run under the same limits. */
export interface CommonServerFlags {
  readonly quotaBackendBytes: number;
  readonly snapshotCount: number;
  /** Extra flags given to both. */
  readonly extra: readonly string[];
}

/** Longest a (re)start may take until the first linearizable read succeeds. */
export const READY_TIMEOUT_MS = 120_000;
/** Longest a graceful stop may take before SIGKILL. */
const STOP_TIMEOUT_MS = 15_000;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill("SIGKILL");
    process.exit(130);
  });
}

/** Asks the kernel for a free loopback port. */
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

/** Memory of a process from /proc/<pid>/status, in bytes. */
export interface MemoryUsage {
  readonly rssBytes: number;
  /** Peak RSS since start (VmHWM). */
  readonly peakRssBytes: number;
}

export function readMemory(pid: number): MemoryUsage {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024;
  };
  return { rssBytes: field("VmRSS"), peakRssBytes: field("VmHWM") };
}

/** Clock ticks per second of /proc/<pid>/stat times; 100 on every Linux Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time a process (all its threads) has used, in ms. */
export interface CpuTime {
  /** In user space (for cairn: JavaScript, V8, native addons). */
  readonly userMs: number;
  /** In the kernel on the process's behalf (system calls: file I/O, sockets, page faults). */
  readonly systemMs: number;
}

/** CPU time of a process from /proc/<pid>/stat. */
export function readCpu(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the state field (3).
  const toMs = (ticks: number): number => (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  return { userMs: toMs(Number(fields[11])), systemMs: toMs(Number(fields[12])) };
}

/** Size of a directory tree. */
export interface DiskUsage {
  /** Blocks allocated (what du reports), which counts preallocated WAL segments in full. */
  readonly allocatedBytes: number;
  /** Sum of file lengths. */
  readonly apparentBytes: number;
  /** Allocated bytes per file, relative to the data dir, largest first. */
  readonly files: readonly { readonly path: string; readonly allocatedBytes: number; readonly apparentBytes: number }[];
}

export function diskUsage(root: string): DiskUsage {
  const files: { path: string; allocatedBytes: number; apparentBytes: number }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const stats = lstatSync(path);
        files.push({ path: relative(root, path), allocatedBytes: stats.blocks * 512, apparentBytes: stats.size });
      }
    }
  };
  walk(root);
  files.sort((a, b) => b.allocatedBytes - a.allocatedBytes);
  let allocatedBytes = 0;
  let apparentBytes = 0;
  for (const file of files) {
    allocatedBytes += file.allocatedBytes;
    apparentBytes += file.apparentBytes;
  }
  return { allocatedBytes, apparentBytes, files };
}

/** A running server under test. */
export class Member {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private clientPort = 0;
  private peerPort = 0;
  /** Ms from the first spawn until the first linearizable read succeeded. */
  startToReadyMs = Number.NaN;

  private constructor(
    readonly server: ServerCommand,
    readonly flags: CommonServerFlags,
    /** Temporary directory owning the data dir and the server's log. */
    readonly workDir: string,
  ) {}

  /** Starts a fresh server with an empty data dir under root and waits until it serves reads. */
  static async start(server: ServerCommand, flags: CommonServerFlags, root: string): Promise<Member> {
    const member = new Member(server, flags, mkdtempSync(join(root, `cairn-bench-${server.label}-`)));
    member.clientPort = await freePort();
    member.peerPort = await freePort();
    try {
      member.startToReadyMs = await member.launch();
    } catch (error) {
      await member.destroy();
      throw error;
    }
    return member;
  }

  get dataDir(): string {
    return join(this.workDir, "data");
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get logPath(): string {
    return join(this.workDir, "server.log");
  }

  /** Whether the server process is alive. */
  get running(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.server.label} is not running`);
    return pid;
  }

  /** Spawns the server on the member's ports and data dir; resolves with ms until a linearizable read succeeded. */
  private async launch(): Promise<number> {
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      ...this.server.prefixArgs,
      "--name=bench",
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=bench=${peer}`,
      `--quota-backend-bytes=${this.flags.quotaBackendBytes}`,
      `--snapshot-count=${this.flags.snapshotCount}`,
      "--log-level=warn",
      ...this.flags.extra,
    ];
    const log = openSync(this.logPath, "a");
    const started = performance.now();
    const child = spawn(this.server.command, args, { stdio: ["ignore", log, log], cwd: this.workDir });
    closeSync(log);
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        live.delete(child);
        resolve();
      }),
    );
    await this.waitReady(child);
    return performance.now() - started;
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const connection = openConnection(this.endpoint);
    const started = performance.now();
    try {
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${this.server.label} exited (${child.exitCode ?? child.signalCode}); log: ${this.logTail()}`);
        }
        try {
          await unary(connection, kvService.range, create(RangeRequestSchema, { key: Buffer.from("bench-ready") }), 1000);
          return;
        } catch {
          // Not listening or no leader yet.
        }
        if (performance.now() - started > READY_TIMEOUT_MS) {
          throw new Error(`${this.server.label} did not serve a read within ${READY_TIMEOUT_MS} ms; log: ${this.logTail()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      connection.close();
    }
  }

  /** Last lines of the server's log, for error messages. */
  logTail(): string {
    try {
      return readFileSync(this.logPath, "utf8").slice(-2000);
    } catch {
      return "(no log)";
    }
  }

  memory(): MemoryUsage {
    return readMemory(this.pid);
  }

  cpu(): CpuTime {
    return readCpu(this.pid);
  }

  disk(): DiskUsage {
    return diskUsage(this.dataDir);
  }

  /** Stops the server gracefully (SIGTERM, then SIGKILL after a while). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops and starts the server on the same data dir; returns ms from spawn to the first served linearizable read. */
  async restart(): Promise<number> {
    await this.stop();
    return this.launch();
  }

  /**
   * Stops the server gracefully (so that node's --cpu-prof can write its profile) and removes its
   * data dir and log.
   */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
