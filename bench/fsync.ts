/**
 * The disk's fdatasync latency: the physical floor under one client's durable puts, since both etcd
 * and cairn fdatasync their WAL before acknowledging a write. Measured as etcd's hardware guide
 * suggests with fio: sequential 2300-byte writes, fdatasync after each, into a file laid out
 * beforehand (fio writes its file before the job; both WALs preallocate their segments), so that a
 * sync flushes data only and never a file-size change. Appending to a growing file instead costs a
 * journal commit per sync and measured several times slower on the project machine.
 */
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { summarize, type LatencySummary } from "./stats.js";

/** Size of one write, as in etcd's fio recipe (close to a small WAL entry plus its record header). */
export const FSYNC_PROBE_WRITE_BYTES = 2300;
/** Size of the laid-out file, as in etcd's fio recipe (22 MiB), enough for 10,000 writes. */
const PROBE_FILE_BYTES = 22 * 1024 * 1024;

export interface FsyncProbe {
  readonly directory: string;
  readonly writeBytes: number;
  readonly latency: LatencySummary;
  /** 1000 / p50: the most durable writes per second one sequential writer could get. */
  readonly syncsPerSecondAtP50: number;
}

/** Overwrites and fdatasyncs until maxWrites or maxDurationMs is reached, whichever is first. */
export function probeFsync(directory: string, maxWrites: number, maxDurationMs: number): FsyncProbe {
  const dir = mkdtempSync(join(directory, "cairn-bench-fsync-"));
  const fd = openSync(join(dir, "probe"), "w");
  const block = Buffer.alloc(FSYNC_PROBE_WRITE_BYTES, 0x5a);
  const samples: number[] = [];
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    for (let at = 0; at < PROBE_FILE_BYTES; at += chunk.length) writeSync(fd, chunk, 0, chunk.length, at);
    fsyncSync(fd);
    const writes = Math.min(maxWrites, Math.floor(PROBE_FILE_BYTES / FSYNC_PROBE_WRITE_BYTES));
    const started = performance.now();
    for (let i = 0; i < writes && performance.now() - started < maxDurationMs; i += 1) {
      const before = performance.now();
      writeSync(fd, block, 0, block.length, i * FSYNC_PROBE_WRITE_BYTES);
      fdatasyncSync(fd);
      samples.push(performance.now() - before);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  const latency = summarize(Float64Array.from(samples));
  return { directory, writeBytes: FSYNC_PROBE_WRITE_BYTES, latency, syncsPerSecondAtP50: 1000 / latency.p50Ms };
}
