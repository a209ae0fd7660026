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
import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { Crc32c } from "./crc32c.js";
import { BboltFormatError, BboltReader, decodeBucketValue } from "./reader.js";
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

function statOrThrow(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SnapshotFileError("NOT_FOUND", `stat ${path}: no such file or directory`, { cause: error });
    throw error;
  }
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
    try {
      reader.check();
    } catch (error) {
      if (error instanceof BboltFormatError) {
        throw new SnapshotFileError("INTEGRITY", `snapshot file integrity check failed. 1 errors found.\n${error.message}`, { cause: error });
      }
      throw error;
    }
    return { reader, source };
  } catch (error) {
    source.close();
    throw error;
  }
}

/** Computes what `etcdctl snapshot status` prints, the way etcd 3.4 computes it. */
export function snapshotStatus(path: string): SnapshotStatus {
  const { reader, source } = openSnapshotDatabase(path);
  try {
    const crc = new Crc32c();
    let revision = 0n;
    let totalKey = 0;
    for (const bucket of reader.entries(reader.rootBucket())) {
      if (!bucket.isBucket) {
        throw new SnapshotFileError("NOT_A_BUCKET", `cannot get hash of bucket ${Buffer.from(bucket.key).toString("latin1")}`);
      }
      crc.update(bucket.key);
      const isKeyBucket = Buffer.from(bucket.key).toString("latin1") === "key";
      let lastKey: Uint8Array | undefined;
      for (const entry of reader.entries(decodeBucketValue(bucket.value))) {
        crc.update(entry.key);
        // bbolt's ForEach hands out a nil value for a nested bucket.
        if (!entry.isBucket) crc.update(entry.value);
        lastKey = entry.key;
        totalKey++;
      }
      if (isKeyBucket && lastKey !== undefined) revision = revisionOfKey(lastKey);
    }
    return { hash: crc.digest(), revision, totalKey, totalSize: reader.sizeBytes };
  } finally {
    source.close();
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
 * Writes a snapshot file at `path` (which must not exist): `fill` pushes the buckets into the
 * writer, then the SHA-256 trailer is appended.
 */
export function writeSnapshotFile(path: string, fill: (writer: BboltWriter) => void): WrittenDatabase {
  const sink = new FileSink(path);
  let written: WrittenDatabase;
  try {
    const writer = new BboltWriter(sink);
    fill(writer);
    written = writer.finish();
  } finally {
    sink.close();
  }
  const digest = sha256OfFile(path, written.sizeBytes);
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, digest, 0, digest.length, written.sizeBytes);
  } finally {
    closeSync(fd);
  }
  return written;
}
