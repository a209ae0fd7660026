/**
 * The disk's fdatasync latency: the physical floor under one client's durable puts, since both etcd
 * and cairn fdatasync their WAL before acknowledging a write. Measured the way etcd's hardware guide
 * suggests with fio (sequential 2300-byte writes, fdatasync after each) in the directory the data
 * dirs will live in.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { summarize, type LatencySummary } from "./stats.js";

/** Size of one write, as in etcd's fio recipe (close to a small WAL entry plus its record header). */
export const FSYNC_PROBE_WRITE_BYTES = 2300;

export interface FsyncProbe {
  readonly directory: string;
  readonly writeBytes: number;
  readonly latency: LatencySummary;
  /** 1000 / p50: the most durable writes per second one sequential writer could get. */
  readonly syncsPerSecondAtP50: number;
}

/** Writes and fdatasyncs until maxWrites or maxDurationMs is reached, whichever is first. */
export function probeFsync(directory: string, maxWrites: number, maxDurationMs: number): FsyncProbe {
  const dir = mkdtempSync(join(directory, "cairn-bench-fsync-"));
  const fd = openSync(join(dir, "probe"), "w");
  const block = Buffer.alloc(FSYNC_PROBE_WRITE_BYTES, 0x5a);
  const samples: number[] = [];
  try {
    const started = performance.now();
    while (samples.length < maxWrites && performance.now() - started < maxDurationMs) {
      const before = performance.now();
      writeSync(fd, block);
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
