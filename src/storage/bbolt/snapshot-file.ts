/**
 * etcd's snapshot file: a bbolt database followed by a 32-byte SHA-256 of the database bytes.
 *
 * `etcdctl snapshot save` appends the trailer; `snapshot restore` recognises it by the file size
 * (size % 512 == 32, since a bbolt file is a whole number of pages and 512 divides every page size)
 * and refuses a file whose trailer does not match unless --skip-hash-check is given (a `db` file
 * copied from a data directory has no trailer). `snapshot status` opens the file as a bbolt
 * database and ignores the trailer.
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { KEY_BUCKET } from "../schema.js";
import { Crc32c } from "./crc32c.js";
import { BboltFormatError, BboltReader, type CheckVisitor } from "./reader.js";
import { FileSource } from "./source.js";
import { BboltWriter, FileSink, type WrittenDatabase } from "./writer.js";

export const SNAPSHOT_HASH_SIZE_BYTES = 32;
/** Smallest sector size; bbolt files are multiples of it, so a trailer leaves a remainder of 32. */
const SECTOR_SIZE_BYTES = 512;
/** Read size for hashing whole files. */
const HASH_CHUNK_BYTES = 1 << 20;

export type SnapshotErrorCode = "NOT_FOUND" | "MISSING_HASH" | "HASH_MISMATCH" | "INTEGRITY" | "NOT_A_BUCKET";

/** A snapshot file that cannot be used; the message follows etcd's wording where etcd has one. */
export class SnapshotFileError extends Error {
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SnapshotFileError";
  }
}

/** Whether a file of this size carries the sha256 trailer (etcd's `hasChecksum`). */
export function hasSnapshotHash(fileSizeBytes: number): boolean {
  return fileSizeBytes % SECTOR_SIZE_BYTES === SNAPSHOT_HASH_SIZE_BYTES;
}

/** What `etcdctl snapshot status` reports. */
export interface SnapshotStatus {
  /** CRC-32C over every bucket name, key and value, in bbolt iteration order. */
  hash: number;
  /** Main revision of the last key in the "key" bucket (0 when it is empty). */
  revision: bigint;
  /** Number of keys over all top-level buckets. */
  totalKey: number;
  /** Database size: pages in use times page size (`tx.Size()`). */
  totalSize: number;
}

/** Result of checking the trailer. */
export interface SnapshotHashCheck {
  /** Bytes of the bbolt database, without the trailer when there is one. */
  dbSizeBytes: number;
  hasHash: boolean;
  /** True when the trailer matches the database (false when there is no trailer). */
  matches: boolean;
  expected?: Uint8Array;
  actual?: Uint8Array;
}

/** The size of a snapshot file; errors worded as Go's os package words them. */
function statOrThrow(path: string): number {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SnapshotFileError("NOT_FOUND", `stat ${path}: no such file or directory`, { cause: error });
    if (code === "EACCES") throw new SnapshotFileError("NOT_FOUND", `stat ${path}: permission denied`, { cause: error });
    throw error;
  }
  if (stats.isDirectory()) throw new SnapshotFileError("NOT_FOUND", `open ${path}: is a directory`);
  return stats.size;
}

/** SHA-256 of the first `lengthBytes` bytes of a file, read in chunks. */
export function sha256OfFile(path: string, lengthBytes: number): Uint8Array {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(HASH_CHUNK_BYTES);
    let done = 0;
    while (done < lengthBytes) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, lengthBytes - done), done);
      if (n === 0) throw new SnapshotFileError("INTEGRITY", `${path}: unexpected end of file at byte ${done}`);
      hash.update(buffer.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest();
}

/** Reads the trailer (if the size says there is one) and compares it with the database's SHA-256. */
export function checkSnapshotHash(path: string): SnapshotHashCheck {
  const size = statOrThrow(path);
  if (!hasSnapshotHash(size)) return { dbSizeBytes: size, hasHash: false, matches: false };
  const dbSizeBytes = size - SNAPSHOT_HASH_SIZE_BYTES;
  const expected = Buffer.alloc(SNAPSHOT_HASH_SIZE_BYTES);
  const fd = openSync(path, "r");
  try {
    readSync(fd, expected, 0, SNAPSHOT_HASH_SIZE_BYTES, dbSizeBytes);
  } finally {
    closeSync(fd);
  }
  const actual = sha256OfFile(path, dbSizeBytes);
  return { dbSizeBytes, hasHash: true, matches: Buffer.compare(expected, actual) === 0, expected, actual };
}

/** Formats bytes as Go prints a []byte with %v: `[1 2 3]`. */
function goBytes(bytes: Uint8Array): string {
  return `[${Array.from(bytes).join(" ")}]`;
}

/**
 * Checks the trailer as `etcdctl snapshot restore` does: a missing trailer is an error unless
 * `skipHashCheck`, a mismatching one is an error unless `skipHashCheck`. Returns the database size.
 */
export function verifySnapshotHash(path: string, skipHashCheck: boolean): number {
  const check = checkSnapshotHash(path);
  if (!check.hasHash && !skipHashCheck) {
    throw new SnapshotFileError("MISSING_HASH", "snapshot missing hash but --skip-hash-check=false");
  }
  if (check.hasHash && !skipHashCheck && !check.matches) {
    throw new SnapshotFileError("HASH_MISMATCH", `expected sha256 ${goBytes(check.expected!)}, got ${goBytes(check.actual!)}`);
  }
  return check.dbSizeBytes;
}

/**
 * Opens the bbolt database in a snapshot (or a plain bbolt file) and checks its structure.
 * The caller closes the returned source.
 */
export function openSnapshotDatabase(path: string, dbSizeBytes?: number): { reader: BboltReader; source: FileSource } {
  statOrThrow(path);
  const source = new FileSource(path, dbSizeBytes);
  try {
    const reader = BboltReader.open(source);
    integrityCheck(reader);
    return { reader, source };
  } catch (error) {
    source.close();
    throw error;
  }
}

/** Computes what `etcdctl snapshot status` prints, the way etcd 3.4 computes it, in one pass over the file. */
export function snapshotStatus(path: string): SnapshotStatus {
  statOrThrow(path);
  const source = new FileSource(path);
  try {
    const reader = BboltReader.open(source);
    const crc = new Crc32c();
    let revision = 0n;
    let totalKey = 0;
    let lastKey: Uint8Array | undefined;
    let inKeyBucket = false;
    const finishBucket = () => {
      if (inKeyBucket && lastKey !== undefined) revision = revisionOfKey(lastKey);
      inKeyBucket = false;
      lastKey = undefined;
    };
    integrityCheck(reader, {
      enterBucket(bucketPath) {
        if (bucketPath.length !== 1) return;
        finishBucket();
        crc.update(bucketPath[0]!);
        inKeyBucket = Buffer.from(bucketPath[0]!).toString("latin1") === KEY_BUCKET;
      },
      entry(bucketPath, entry) {
        if (bucketPath.length === 0 && !entry.isBucket) {
          throw new SnapshotFileError("NOT_A_BUCKET", `cannot get hash of bucket ${Buffer.from(entry.key).toString("latin1")}`);
        }
        if (bucketPath.length !== 1) return;
        crc.update(entry.key);
        // bbolt's ForEach hands out a nil value for a nested bucket.
        if (!entry.isBucket) crc.update(entry.value);
        lastKey = entry.key;
        totalKey++;
      },
    });
    finishBucket();
    return { hash: crc.digest(), revision, totalKey, totalSize: reader.sizeBytes };
  } finally {
    source.close();
  }
}

/** Runs the structural check, reporting a failure as etcd does. */
function integrityCheck(reader: BboltReader, visitor?: CheckVisitor): void {
  try {
    reader.check(visitor);
  } catch (error) {
    if (error instanceof BboltFormatError) {
      throw new SnapshotFileError("INTEGRITY", `snapshot file integrity check failed. 1 errors found.\n${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** Main revision of an MVCC key: the signed big-endian 64-bit number in its first 8 bytes. */
function revisionOfKey(key: Uint8Array): bigint {
  if (key.length < 8) {
    throw new SnapshotFileError("INTEGRITY", `key bucket holds a ${key.length}-byte key, shorter than a revision`);
  }
  return new DataView(key.buffer, key.byteOffset, 8).getBigInt64(0, false);
}

/**
 * Builds a snapshot file at `path` (which must not exist): push buckets through `writer`, then
 * `finish()` completes the bbolt file and appends the SHA-256 trailer. `abort()` removes the
 * partial file. Pushes are synchronous, so sources may be iterated with or without `await`.
 */
export class SnapshotFileWriter {
  readonly writer: BboltWriter;
  private readonly sink: FileSink;
  private done = false;

  constructor(readonly path: string) {
    this.sink = new FileSink(path);
    this.writer = new BboltWriter(this.sink);
  }

  finish(): WrittenDatabase {
    if (this.done) throw new Error("SnapshotFileWriter: already finished");
    this.done = true;
    let written: WrittenDatabase;
    try {
      written = this.writer.finish();
    } finally {
      this.sink.close();
    }
    const digest = sha256OfFile(this.path, written.sizeBytes);
    const fd = openSync(this.path, "r+");
    try {
      writeSync(fd, digest, 0, digest.length, written.sizeBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return written;
  }

  /** Discards the file; safe to call after a failure at any point. */
  abort(): void {
    this.done = true;
    this.sink.close();
    rmSync(this.path, { force: true });
  }
}

/** Writes a snapshot file at `path` (which must not exist); `fill` pushes the buckets into the writer. */
export function writeSnapshotFile(path: string, fill: (writer: BboltWriter) => void): WrittenDatabase {
  const file = new SnapshotFileWriter(path);
  try {
    fill(file.writer);
    return file.finish();
  } catch (error) {
    file.abort();
    throw error;
  }
}

/** One bucket to export: its name and its keys, in strictly increasing order. */
export interface ExportBucket {
  name: string;
  sequence?: bigint;
  entries: Iterable<readonly [Uint8Array, Uint8Array]> | AsyncIterable<readonly [Uint8Array, Uint8Array]>;
}

/**
 * Writes an etcd snapshot file from buckets given in any order (bbolt needs them sorted by name,
 * which this does), reading each bucket's entries as a stream. On failure the file is removed.
 */
export async function exportSnapshot(path: string, buckets: ExportBucket[]): Promise<WrittenDatabase> {
  const sorted = [...buckets].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  const file = new SnapshotFileWriter(path);
  try {
    for (const bucket of sorted) {
      file.writer.beginBucket(bucket.name, bucket.sequence ?? 0n);
      for await (const [key, value] of bucket.entries) file.writer.put(key, value);
      file.writer.endBucket();
    }
    return file.finish();
  } catch (error) {
    file.abort();
    throw error;
  }
}

/** The part of the storage backend port an export reads. */
export interface ExportableBackend {
  /** Bucket names, sorted by their bytes (one char per byte). */
  buckets(): string[];
  /** Every committed entry of a bucket, in key order. */
  forEach(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void;
}

/**
 * Writes every committed bucket of a backend into an etcd snapshot file at `path` (which must not
 * exist). The export is synchronous, so it sees one consistent state as long as nothing commits
 * in between; commit pending writes first (MvccStore.forEachBucketEntry does).
 */
export function exportBackendSnapshot(backend: ExportableBackend, path: string): WrittenDatabase {
  return writeSnapshotFile(path, (writer) => {
    for (const bucket of backend.buckets()) {
      writer.beginBucket(Buffer.from(bucket, "latin1"));
      backend.forEach(bucket, (key, value) => writer.put(key, value));
      writer.endBucket();
    }
  });
}
