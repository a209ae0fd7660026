/**
 * Defragmentation for the LMDB backend: etcd's `defrag` rewrites bbolt into a new file holding only
 * live pages and swaps it in, which shrinks the file after a compaction. LMDB reuses freed pages but
 * never shrinks its file, so the NOSPACE runbook (compact, defrag, alarm disarm) would not free any
 * quota without the same rewrite. `DefragmentableBackend` delegates to an `LmdbBackend` and can
 * replace it with a compacted copy.
 *
 * The copy is synchronous, like etcd's defrag (which holds the backend's locks throughout): no Raft
 * entry is applied and no read is served while it runs, so nothing written during the copy can be
 * lost. Steps, and what a crash (kill -9) at each leaves behind:
 *   1. copy every bucket into a new environment in `<dir>-defrag-<n>/`, committing in chunks,
 *      then fsync its data file. Crash: the live file is untouched; the leftover directory is
 *      removed at the next start (`removeDefragLeftovers`).
 *   2. rename the new data file over `<dir>/data.mdb` (atomic) and fsync the directory. Crash
 *      after it: the new file is complete and durable and holds the same consistent index.
 *   3. switch every later call to the new environment; the old one is closed once no read view
 *      (snapshot stream) still uses it.
 * The lock file of the new environment stays in its own directory until the process ends; a
 * restart opens `<dir>` with `<dir>/lock.mdb` as usual.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Backend, BackendReadView, BucketEntry } from "../storage/backend/backend.js";
import { LmdbBackend } from "../storage/backend/lmdb.js";

/** Entries copied per commit of the new environment (bounds the pending batch). */
export const DEFRAG_ENTRIES_PER_COMMIT = 10_000;
const DATA_FILE = "data.mdb";

/** Sizes measured around one defragmentation. */
export interface DefragResult {
  beforeBytes: number;
  afterBytes: number;
  entries: number;
  /** Time the backend was held (nothing else ran), in milliseconds. */
  stallMs: number;
}

/** Prefix of the temporary directories a Snapshot call builds its file in (beside the backend). */
export function snapshotScratchPrefix(dir: string): string {
  return `${dir}-snapshot-`;
}

/**
 * Removes `<dir>-defrag-*` and `<dir>-snapshot-*` entries left by a defragmentation or a snapshot
 * stream that a crash interrupted (neither is ever part of the member's state).
 */
export function removeDefragLeftovers(dir: string): string[] {
  const parent = dirname(dir);
  const prefixes = [`${basename(dir)}-defrag-`, basename(snapshotScratchPrefix(dir))];
  if (!existsSync(parent)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    if (!prefixes.some((prefix) => name.startsWith(prefix))) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A Backend over the LMDB environment in `dir` that `defragment()` can rewrite in place. */
export class DefragmentableBackend implements Backend {
  private current: LmdbBackend;
  /** Read views still open on each environment (an old one is closed when its count drops to 0). */
  private readonly openViews = new Map<LmdbBackend, number>();
  /** Old environments waiting for their views to be released before they close. */
  private readonly retired = new Map<LmdbBackend, string>();
  private readonly closing: Promise<void>[] = [];
  private generation = 0;
  /** Directory of the current environment's lock file (`dir` until the first defragmentation). */
  private currentDir: string;

  constructor(private readonly dir: string) {
    this.current = new LmdbBackend({ path: dir });
    this.currentDir = dir;
  }

  createBucket(bucket: string): void {
    this.current.createBucket(bucket);
  }
  buckets(): string[] {
    return this.current.buckets();
  }
  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    return this.current.get(bucket, key);
  }
  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.current.put(bucket, key, value);
  }
  delete(bucket: string, key: Uint8Array): void {
    this.current.delete(bucket, key);
  }
  range(bucket: string, start: Uint8Array, end: Uint8Array | null, limit?: number): BucketEntry[] {
    return this.current.range(bucket, start, end, limit);
  }
  forEach(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void {
    this.current.forEach(bucket, fn);
  }
  hasPending(): boolean {
    return this.current.hasPending();
  }
  commit(): void {
    this.current.commit();
  }
  checkpoint(): Promise<void> {
    return this.current.checkpoint();
  }
  /** The live data file's size: after a swap, `<dir>/data.mdb` is the new environment's file. */
  sizeBytes(): number {
    try {
      return statSync(join(this.dir, DATA_FILE)).size;
    } catch {
      return 0;
    }
  }
  sizeInUseBytes(): number {
    return this.current.sizeInUseBytes();
  }

  /** A read view of the current environment; `scratchPrefix` tells the snapshot stream where to build. */
  readView(): BackendReadView & { scratchPrefix: string } {
    const backend = this.current;
    const view = backend.readView();
    this.openViews.set(backend, (this.openViews.get(backend) ?? 0) + 1);
    let released = false;
    return {
      scratchPrefix: snapshotScratchPrefix(this.dir),
      buckets: () => view.buckets(),
      page: (bucket, after, limit) => view.page(bucket, after, limit),
      release: () => {
        if (released) return;
        released = true;
        view.release();
        const left = (this.openViews.get(backend) ?? 1) - 1;
        this.openViews.set(backend, left);
        if (left === 0 && this.retired.has(backend)) this.retire(backend);
      },
    };
  }

  /** The Backend port's defragment, done synchronously (see the module comment). */
  defragment(): Promise<void> {
    this.defragmentNow();
    return Promise.resolve();
  }

  /**
   * Rewrites the environment with live pages only and swaps it in, in one synchronous step. (The
   * engine's own `LmdbBackend.defragment` copies asynchronously, and a write committed while its
   * copy runs would be missing from the file it renames into place.)
   */
  defragmentNow(): DefragResult {
    const start = process.hrtime.bigint();
    this.current.commit();
    const beforeBytes = this.sizeBytes();
    const tempDir = `${this.dir}-defrag-${process.pid}-${++this.generation}`;
    rmSync(tempDir, { recursive: true, force: true });
    // lmdb-js opens a path with an extension as a single file: the name has no dot, and exists.
    mkdirSync(tempDir, { mode: 0o700 });
    const fresh = new LmdbBackend({ path: tempDir });
    let entries = 0;
    try {
      for (const bucket of this.current.buckets()) {
        fresh.createBucket(bucket);
        this.current.forEach(bucket, (key, value) => {
          fresh.put(bucket, key, value);
          if (++entries % DEFRAG_ENTRIES_PER_COMMIT === 0) fresh.commit();
        });
      }
      fresh.commit();
      fsyncPath(join(tempDir, DATA_FILE));
      renameSync(join(tempDir, DATA_FILE), join(this.dir, DATA_FILE));
      fsyncPath(this.dir);
    } catch (error) {
      void fresh.close().finally(() => rmSync(tempDir, { recursive: true, force: true }));
      throw error;
    }
    const old = this.current;
    const oldDir = this.currentDir;
    this.current = fresh;
    this.currentDir = tempDir;
    this.retired.set(old, oldDir);
    if ((this.openViews.get(old) ?? 0) === 0) this.retire(old);
    const stallMs = Number(process.hrtime.bigint() - start) / 1e6;
    return { beforeBytes, afterBytes: this.sizeBytes(), entries, stallMs };
  }

  /** Closes an environment that was swapped out, and removes its directory if it was a defrag one. */
  private retire(old: LmdbBackend): void {
    const dir = this.retired.get(old);
    this.retired.delete(old);
    this.openViews.delete(old);
    this.closing.push(
      old.close().then(
        () => this.removeIfDefragDir(dir),
        () => undefined,
      ),
    );
  }

  private removeIfDefragDir(dir: string | undefined): void {
    if (dir !== undefined && dir !== this.dir) rmSync(dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    await this.current.close();
    this.removeIfDefragDir(this.currentDir);
    await Promise.all(this.closing);
  }
}
