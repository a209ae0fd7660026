/**
 * Offline defragmentation of an etcd data directory (`etcdctl defrag --data-dir`, etcdctl's
 * defragData): `<data-dir>/member/snap/db` is rewritten compactly with the same buckets, keys and
 * values, through a temporary file that is fsynced and renamed over the original, so a crash
 * leaves either the old or the new file, never half of one.
 *
 * As etcd's backend does, a missing `db` in an existing `member/snap` directory is created (as an
 * empty database); a missing directory is a failure to open the database. Like etcd's defrag, the
 * copy resets bucket sequence numbers (etcd never uses them).
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { BboltFormatError, BboltReader } from "../storage/bbolt/reader.js";
import { BlockFileSource } from "../storage/etcd/block-source.js";
import { DEFAULT_PAGE_SIZE_BYTES } from "../storage/bbolt/layout.js";
import { BackendCopyError, copyBuckets, writeBboltFileAtomically } from "../storage/etcd/backend.js";

/** The backend file etcdctl defragments (Go's filepath.Join, which cleans the path). */
export function etcdBackendPath(dataDir: string): string {
  return join(dataDir, "member", "snap", "db");
}

/**
 * The database cannot be opened at all. etcd's backend panics here (capnslog `C` line, Go panic,
 * exit 2); `message` is the panic's text.
 */
export class EtcdBackendOpenError extends Error {
  override name = "EtcdBackendOpenError";
}

/** capnslog's timestamp: local time with microseconds. */
function capnslogTime(now: Date): string {
  const p = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}.${p(now.getMilliseconds() * 1000, 6)}`;
}

/**
 * What etcd's backend prints when it cannot open its database: capnslog's critical line and Go's
 * panic line (the process then exits with code 2). Go's goroutine dump that follows cannot be
 * reproduced; a one-line note stands in for it.
 */
export function backendOpenPanicText(error: EtcdBackendOpenError, now: Date): string {
  return `${capnslogTime(now)} C | mvcc/backend: ${error.message}\npanic: ${error.message}\n\ngoroutine 1 [running]:\n(cairnctl: no Go stack to show)\n`;
}

/** Go's exit code after a panic. */
export const GO_PANIC_EXIT_CODE = 2;

/** Defragmentation failed on a database that opened; etcdctl prints it in `Failed to defragment etcd data[...] (...)`. */
export class EtcdDefragError extends Error {
  override name = "EtcdDefragError";
}

/** Result of a defragmentation, for callers that report sizes. */
export interface DefragResult {
  path: string;
  sizeBeforeBytes: number;
  sizeAfterBytes: number;
}

/** Defragments the backend of the etcd data directory `dataDir`. */
export function defragEtcdDataDir(dataDir: string): DefragResult {
  const path = etcdBackendPath(dataDir);
  const snapDir = join(dataDir, "member", "snap");
  if (!existsSync(path)) {
    if (!existsSync(snapDir) || !statSync(snapDir).isDirectory()) {
      const reason = existsSync(snapDir) ? "not a directory" : "no such file or directory";
      throw new EtcdBackendOpenError(`cannot open database at ${path} (open ${path}: ${reason})`);
    }
    // bbolt creates a missing file; defragmenting the fresh database changes nothing.
    const written = writeBboltFileAtomically(path, DEFAULT_PAGE_SIZE_BYTES, () => {});
    return { path, sizeBeforeBytes: 0, sizeAfterBytes: written.sizeBytes };
  }
  const sizeBeforeBytes = statSync(path).size;
  const source = new BlockFileSource(path);
  try {
    let reader: BboltReader;
    try {
      reader = BboltReader.open(source);
    } catch (error) {
      if (error instanceof BboltFormatError) throw new EtcdBackendOpenError(`cannot open database at ${path} (${error.message})`);
      throw error;
    }
    try {
      const written = writeBboltFileAtomically(path, reader.pageSize, (writer) => copyBuckets(reader, writer, { keepSequences: false }));
      return { path, sizeBeforeBytes, sizeAfterBytes: written.sizeBytes };
    } catch (error) {
      if (error instanceof BboltFormatError || error instanceof BackendCopyError) throw new EtcdDefragError(error.message);
      throw error;
    }
  } finally {
    source.close();
  }
}
