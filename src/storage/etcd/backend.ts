/**
 * Rewrites an etcd backend (`member/snap/db`, a bbolt file) compactly with the bbolt writer: the
 * copy holds exactly the source's buckets and keys (plus any changes asked for), every page full,
 * no free pages. Used by snapshot restore (which must also create etcd's mandatory buckets and set
 * the consistent index) and by offline defragmentation.
 *
 * The copy is written to a temporary file beside the target, fsynced, renamed over the target and
 * the directory fsynced, so the target is always either the old file or the complete new one.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { BboltReader, compareBytes, decodeBucketValue, type BucketEntry } from "../bbolt/reader.js";
import { BboltWriter, FileSink, type WrittenDatabase } from "../bbolt/writer.js";

/** A bucket holding a nested bucket, which etcd's schema never has and the writer cannot copy. */
export class BackendCopyError extends Error {
  override name = "BackendCopyError";
}

/** What to change while copying. */
export interface CopyChanges {
  /** Buckets to create (empty) when the source lacks them. */
  ensureBuckets?: readonly string[];
  /** Keys to set, by bucket name; they replace the source's value for the same key. */
  puts?: ReadonlyMap<string, ReadonlyMap<string, Uint8Array>>;
  /** Keep each bucket's sequence number (a bbolt copy does; etcd's defrag resets them to 0). */
  keepSequences: boolean;
  /** Sees every entry copied from the source, in order (to compute `append` in the same pass). */
  observe?: (bucket: string, key: Uint8Array, value: Uint8Array) => void;
  /**
   * Entries to add after a bucket's last entry, asked for once the bucket has been copied; they
   * must sort after every key of the bucket (the writer refuses them otherwise).
   */
  append?: (bucket: string) => Iterable<readonly [Uint8Array, Uint8Array]>;
}

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

/** Merges a bucket's sorted entries with sorted replacement entries. */
function* mergeEntries(entries: Iterable<BucketEntry>, puts: [Uint8Array, Uint8Array][], bucket: string): Generator<[Uint8Array, Uint8Array]> {
  let next = 0;
  for (const entry of entries) {
    if (entry.isBucket) throw new BackendCopyError(`bucket ${JSON.stringify(bucket)} holds a nested bucket, which etcd's schema never does`);
    while (next < puts.length && compareBytes(puts[next]![0], entry.key) < 0) yield puts[next++]!;
    if (next < puts.length && compareBytes(puts[next]![0], entry.key) === 0) {
      yield puts[next++]!;
      continue;
    }
    yield [entry.key, entry.value];
  }
  while (next < puts.length) yield puts[next++]!;
}

/** Streams the source's buckets, with the changes applied, into `writer`. */
export function copyBuckets(reader: BboltReader, writer: BboltWriter, changes: CopyChanges): void {
  const source = new Map<string, { name: Uint8Array; value: Uint8Array }>();
  for (const entry of reader.entries(reader.rootBucket())) {
    if (!entry.isBucket) throw new BackendCopyError(`the root bucket holds a plain key ${JSON.stringify(latin1(entry.key))}`);
    source.set(latin1(entry.key), { name: entry.key, value: entry.value });
  }
  const names = new Set([...source.keys(), ...(changes.ensureBuckets ?? []), ...(changes.puts?.keys() ?? [])]);
  const sorted = [...names].map((name) => Buffer.from(name, "latin1")).sort(compareBytes);
  for (const name of sorted) {
    const key = latin1(name);
    const stored = source.get(key);
    const ref = stored === undefined ? undefined : decodeBucketValue(stored.value);
    const puts = [...(changes.puts?.get(key) ?? new Map<string, Uint8Array>())]
      .map(([k, v]): [Uint8Array, Uint8Array] => [Buffer.from(k, "latin1"), v])
      .sort((a, b) => compareBytes(a[0], b[0]));
    writer.beginBucket(name, changes.keepSequences && ref !== undefined ? ref.sequence : 0n);
    for (const [k, v] of mergeEntries(ref === undefined ? [] : reader.entries(ref), puts, key)) {
      changes.observe?.(key, k, v);
      writer.put(k, v);
    }
    for (const [k, v] of changes.append?.(key) ?? []) writer.put(k, v);
    writer.endBucket();
  }
}

/** fsyncs a file or directory by path. */
export function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a new bbolt file at `path` (replacing it atomically if it exists) from `fill`, which
 * pushes buckets into the writer. The temporary file is removed on any failure.
 */
export function writeBboltFileAtomically(path: string, pageSize: number, fill: (writer: BboltWriter) => void): WrittenDatabase {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  rmSync(temp, { force: true });
  const sink = new FileSink(temp);
  try {
    let written: WrittenDatabase;
    try {
      const writer = new BboltWriter(sink, { pageSize });
      fill(writer);
      written = writer.finish();
    } finally {
      sink.close();
    }
    syncPath(temp);
    renameSync(temp, path);
    syncPath(dirname(path));
    return written;
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
