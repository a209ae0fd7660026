/**
 * Maintenance.Snapshot: the member's whole state as an etcd snapshot file, sent in chunks.
 *
 * etcd streams its bbolt file straight out of a read transaction. Cairn keeps its state in LMDB,
 * so it first writes an etcd-format bbolt file (storage/bbolt) from a consistent read view of the
 * backend into a temporary file, then sends that file. The view is an LMDB read transaction taken
 * when the call arrives: writes go on while the file is built and sent, and do not show in it.
 * Building yields to the event loop every `ENTRIES_PER_SLICE` entries so requests keep flowing.
 *
 * What goes on the wire is what etcd 3.4 sends (etcdserver/api/v3rpc/maintenance.go): the database
 * bytes in chunks of `SNAPSHOT_CHUNK_BYTES`, each with `remaining_bytes` = database size − bytes
 * sent so far (so the last database chunk has 0), then one more message whose blob is the
 * SHA-256 of the database (remaining_bytes 0). No header is set. `etcdctl snapshot save`
 * concatenates the blobs, which gives exactly the file layout `etcdctl snapshot restore` expects.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Backend, BackendReadView, BucketEntry } from "../storage/backend/backend.js";
import { compareBytes } from "../storage/backend/backend.js";
import { exportSnapshot, SNAPSHOT_HASH_SIZE_BYTES } from "../storage/bbolt/snapshot-file.js";

/** etcd's snapshotSendBufferSize: 32 KiB per message, more than one OS page. */
export const SNAPSHOT_CHUNK_BYTES = 32 * 1024;
/** Entries read from the view between two yields to the event loop while the file is built. */
export const ENTRIES_PER_SLICE = 4096;

/** One SnapshotResponse, before protobuf. */
export interface SnapshotChunk {
  remainingBytes: bigint;
  blob: Uint8Array;
  /** True for the final message, whose blob is the SHA-256 of the database. */
  isDigest: boolean;
}

/** What the snapshot stream reports, in etcd's words. */
export interface SnapshotLog {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * A consistent view of the backend: the engine's own (LMDB read transaction) when it has one,
 * otherwise a copy of every committed bucket taken now.
 */
export function openBackendView(backend: Backend): BackendReadView {
  backend.commit();
  if (backend.readView !== undefined) return backend.readView();
  const copy = new Map<string, BucketEntry[]>();
  for (const bucket of backend.buckets()) {
    const entries: BucketEntry[] = [];
    backend.forEach(bucket, (key, value) => entries.push({ key: key.slice(), value: value.slice() }));
    copy.set(bucket, entries);
  }
  return {
    buckets: () => [...copy.keys()],
    page: (bucket, after, limit) => {
      const entries = copy.get(bucket) ?? [];
      const start = after === undefined ? 0 : entries.findIndex((e) => compareBytes(e.key, after) > 0);
      return start < 0 ? [] : entries.slice(start, start + limit);
    },
    release: () => copy.clear(),
  };
}

/** Every entry of one bucket of the view, a page at a time, yielding to the event loop between pages. */
async function* bucketEntries(view: BackendReadView, bucket: string): AsyncGenerator<readonly [Uint8Array, Uint8Array]> {
  let after: Uint8Array | undefined;
  for (;;) {
    const page = view.page(bucket, after, ENTRIES_PER_SLICE);
    for (const entry of page) yield [entry.key, entry.value] as const;
    if (page.length < ENTRIES_PER_SLICE) return;
    after = page[page.length - 1]!.key;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A snapshot file written from a view, waiting to be sent; `remove()` deletes it. */
export interface BuiltSnapshot {
  path: string;
  /** Bytes of the bbolt database (the file holds these plus the 32-byte SHA-256 trailer). */
  dbSizeBytes: number;
  remove(): void;
}

/**
 * Writes the view as an etcd snapshot file in a new temporary directory (removed on failure), named
 * `scratchPrefix` + random; the default is under the OS temporary directory. A view that names its
 * own `scratchPrefix` (beside the member's backend, where a restart removes leftovers) wins.
 */
export async function buildSnapshotFile(view: BackendReadView & { scratchPrefix?: string }, scratchPrefix?: string): Promise<BuiltSnapshot> {
  const dir = mkdtempSync(scratchPrefix ?? view.scratchPrefix ?? join(tmpdir(), "cairn-snapshot-"));
  const path = join(dir, "db");
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const buckets = view.buckets().map((name) => ({ name, entries: bucketEntries(view, name) }));
    const written = await exportSnapshot(path, buckets);
    return { path, dbSizeBytes: written.sizeBytes, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/**
 * The messages of the stream for a built file: database chunks with etcd's remaining_bytes, then
 * the SHA-256 computed over the bytes actually read (checked against the file's own trailer, so a
 * file damaged after it was written is never sent as valid).
 */
export function* snapshotChunks(file: BuiltSnapshot, chunkBytes = SNAPSHOT_CHUNK_BYTES): Generator<SnapshotChunk> {
  const fd = openSync(file.path, "r");
  try {
    const hash = createHash("sha256");
    const total = file.dbSizeBytes;
    let sent = 0;
    while (total - sent > 0) {
      const blob = Buffer.alloc(Math.min(chunkBytes, total - sent));
      readExactly(fd, blob, sent);
      sent += blob.length;
      hash.update(blob);
      yield { remainingBytes: BigInt(total - sent), blob, isDigest: false };
    }
    const digest = hash.digest();
    const trailer = Buffer.alloc(SNAPSHOT_HASH_SIZE_BYTES);
    readExactly(fd, trailer, total);
    if (!trailer.equals(digest)) throw new Error("snapshot: the temporary snapshot file changed while it was sent (sha256 mismatch)");
    yield { remainingBytes: 0n, blob: digest, isDigest: true };
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, into: Buffer, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`snapshot: temporary snapshot file ended at byte ${position + done}`);
    done += n;
  }
}

/** The sink a stream writes to (a grpc-js server stream satisfies it). */
export interface ChunkSink {
  /** Queues a message; false means "wait for drain". */
  write(chunk: SnapshotChunk): boolean;
  /** Resolves when the sink can take more, or when the call ended. */
  drained(): Promise<void>;
  /** Whether the client went away. */
  cancelled(): boolean;
}

/** go-humanize's Bytes: SI units, one decimal below 10 ("1.5 kB", "82 kB", "5 B"). */
export function humanizeBytes(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const exponent = Math.min(Math.floor(Math.log(bytes) / Math.log(1000)), units.length - 1);
  const value = Math.floor((bytes / 1000 ** exponent) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[exponent]}`;
}

/**
 * Serves one Snapshot call: builds the file from `view` (always released), sends it, removes it.
 * Stops early, without error, when the client cancels.
 */
export async function streamSnapshot(view: BackendReadView & { scratchPrefix?: string }, sink: ChunkSink, log: SnapshotLog, scratchPrefix?: string): Promise<void> {
  let file: BuiltSnapshot;
  try {
    file = await buildSnapshotFile(view, scratchPrefix);
  } finally {
    view.release();
  }
  try {
    const total = file.dbSizeBytes;
    log.info(`sending database snapshot to client ${humanizeBytes(total)} [${total} bytes]`);
    for (const chunk of snapshotChunks(file)) {
      if (sink.cancelled()) return;
      if (chunk.isDigest) {
        log.info(`sending database sha256 checksum to client [${chunk.blob.length} bytes]`);
      }
      if (!sink.write(chunk)) await sink.drained();
    }
    log.info(`successfully sent database snapshot to client ${humanizeBytes(total)} [${total} bytes]`);
  } finally {
    file.remove();
  }
}
