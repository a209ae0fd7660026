/**
 * The LMDB engine (lmdb-js) behind the Backend port. One LMDB environment per member data
 * directory; each etcd bucket is an LMDB named database with binary keys and values, so byte order
 * is LMDB's memcmp order, the same as bbolt's.
 *
 * Commits run as synchronous LMDB transactions with `noMetaSync` (MDB_NOMETASYNC): each commit
 * fdatasyncs its data pages before writing the meta page that points at them, and leaves only that
 * meta page write unsynced (the next commit's fdatasync or `checkpoint()` flushes it). So a power
 * loss can undo the last commit(s) but cannot leave a meta page pointing at unwritten pages:
 * data.mdb always opens, at a consistent index from which the server replays its WAL (the WAL,
 * not LMDB, is the durability point). `noSync` would be ~60x faster per commit, but with it the
 * OS may write a meta page before the pages it references, and a system crash can corrupt the
 * file. `checkpoint()` (mdb_env_sync, forced) makes every commit before it durable, meta included;
 * WAL release/purge waits for it.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { PendingBatch, compareBytes, keyBytes, type Backend, type BackendReadView, type BucketEntry } from "./backend.js";

/** Settings of the LMDB engine. */
export interface LmdbBackendOptions {
  /** Directory for data.mdb and lock.mdb (created if missing). */
  path: string;
  /** Initial memory-map size in bytes; lmdb-js grows it when needed (default 1 GiB). */
  mapSizeBytes?: number;
}

/** Named database holding the bucket names, so buckets (even empty ones) survive a reopen. */
const BUCKET_REGISTRY = "~cairn-buckets";
const EMPTY = new Uint8Array(0);

/**
 * Environment flags (see the header). `overlappingSync` is lmdb-js's default whenever `noSync` is
 * off; it is switched off because it only overlaps flushes for lmdb-js's asynchronous writes
 * (ours are `transactionSync`, which still fsyncs in the commit, twice: measured slower than
 * `noMetaSync`), and its recovery after a reboot depends on the OS boot id.
 */
export const LMDB_DURABILITY_OPTIONS = { noSync: false, noMetaSync: true, overlappingSync: false } as const;

type BinaryDb = Database<Buffer, Buffer>;

/**
 * Value codec of the scan handles behind `forEach`: values come out as views into lmdb-js's shared
 * read buffer (or the memory map) instead of fresh copies, which is much of what a restart's
 * million-entry scan spends allocating and collecting. A view is valid only until the scan moves
 * on, as the Backend port documents. (Keys stay lmdb-js's binary keys: small copies; a custom key
 * codec loses the scan's start position.)
 */
const VIEW_VALUES = {
  encode: (value: Uint8Array): Uint8Array => value,
  // A plain Uint8Array, not a Buffer: callers copy with .slice(), which on a Buffer makes a view.
  decode: (bytes: Uint8Array, size: number): Uint8Array => new Uint8Array(bytes.buffer, bytes.byteOffset, size),
};

export class LmdbBackend implements Backend {
  private env: RootDatabase;
  private registry: BinaryDb;
  /** Open database handles by bucket name (every known bucket is open). */
  private readonly dbs = new Map<string, BinaryDb>();
  /** Scan handles (view codecs) by bucket name, opened on first use. */
  private readonly viewDbs = new Map<string, Database<Uint8Array, Uint8Array>>();
  private readonly pending = new PendingBatch();
  private readonly path: string;
  private readonly mapSizeBytes: number;

  constructor(options: LmdbBackendOptions) {
    this.path = options.path;
    this.mapSizeBytes = options.mapSizeBytes ?? 1024 * 1024 * 1024;
    this.env = this.openEnv();
    this.registry = this.openDb(BUCKET_REGISTRY);
    this.openBuckets();
  }

  private openEnv(): RootDatabase {
    return open({ path: this.path, ...LMDB_DURABILITY_OPTIONS, maxDbs: 64, mapSize: this.mapSizeBytes });
  }

  private openBuckets(): void {
    this.dbs.clear();
    this.viewDbs.clear();
    for (const key of this.registry.getKeys({})) this.dbs.set(Buffer.from(key).toString("latin1"), this.openDb(Buffer.from(key).toString("latin1")));
  }

  /**
   * Rewrites the engine file without free pages (etcd's Defragment): a compacting copy is made
   * beside it, synced, and atomically renamed over data.mdb; then the engine is reopened.
   */
  async defragment(): Promise<void> {
    await this.checkpoint();
    const scratch = `${this.path}.defrag`;
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    await this.env.backup(scratch, true);
    syncFile(join(scratch, "data.mdb"));
    await this.env.close();
    renameSync(join(scratch, "data.mdb"), join(this.path, "data.mdb"));
    syncFile(this.path);
    rmSync(scratch, { recursive: true, force: true });
    this.env = this.openEnv();
    this.registry = this.openDb(BUCKET_REGISTRY);
    this.openBuckets();
  }

  private openDb(name: string): BinaryDb {
    return this.env.openDB<Buffer, Buffer>({ name, keyEncoding: "binary", encoding: "binary" });
  }

  private db(bucket: string): BinaryDb {
    let db = this.dbs.get(bucket);
    if (db === undefined) {
      db = this.openDb(bucket);
      this.dbs.set(bucket, db);
      this.pending.creates.add(bucket);
    }
    return db;
  }

  createBucket(bucket: string): void {
    this.db(bucket);
  }

  buckets(): string[] {
    return [...this.dbs.keys()].sort((a, b) => compareBytes(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")));
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    const pending = this.pending.lookup(bucket, key);
    if (pending !== undefined) return pending ?? undefined;
    const db = this.dbs.get(bucket);
    if (db === undefined) return undefined;
    return db.getBinary(asBuffer(key)) ?? undefined;
  }

  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.db(bucket);
    this.pending.put(bucket, key, value.slice());
  }

  delete(bucket: string, key: Uint8Array): void {
    this.db(bucket);
    this.pending.put(bucket, key, null);
  }

  range(bucket: string, start: Uint8Array, end: Uint8Array | null, limit = 0): BucketEntry[] {
    this.pending.assertScannable(bucket);
    const db = this.dbs.get(bucket);
    if (db === undefined) return [];
    const options: { start?: Buffer; end?: Buffer; limit?: number } = {};
    if (start.length > 0) options.start = asBuffer(start);
    if (end !== null) options.end = asBuffer(end);
    if (limit > 0) options.limit = limit;
    const out: BucketEntry[] = [];
    for (const { key, value } of db.getRange(options)) out.push({ key: new Uint8Array(key), value: new Uint8Array(value) });
    return out;
  }

  forEach(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void {
    this.pending.assertScannable(bucket);
    if (!this.dbs.has(bucket)) return;
    let db = this.viewDbs.get(bucket);
    if (db === undefined) {
      db = this.env.openDB<Uint8Array, Uint8Array>({ name: bucket, keyEncoding: "binary", encoder: VIEW_VALUES } as never);
      this.viewDbs.set(bucket, db);
    }
    for (const { key, value } of db.getRange({})) fn(key, value);
  }

  /** An LMDB read transaction: a consistent view of the last commit, however long it is held. */
  readView(): BackendReadView {
    this.commit();
    const txn = this.env.useReadTransaction();
    const dbs = new Map(this.dbs);
    const names = this.buckets();
    let released = false;
    return {
      buckets: () => names,
      page: (bucket, after, limit) => {
        if (released) throw new Error("LmdbBackend: read view used after release");
        const db = dbs.get(bucket);
        if (db === undefined) return [];
        const options = after === undefined ? { limit, transaction: txn } : { start: asBuffer(after), exclusiveStart: true, limit, transaction: txn };
        const out: BucketEntry[] = [];
        for (const { key, value } of db.getRange(options)) out.push({ key: new Uint8Array(key), value: new Uint8Array(value) });
        return out;
      },
      release: () => {
        if (released) return;
        released = true;
        txn.done();
      },
    };
  }

  hasPending(): boolean {
    return !this.pending.isEmpty();
  }

  commit(): void {
    if (this.pending.isEmpty()) return;
    this.env.transactionSync(() => {
      for (const bucket of this.pending.creates) this.registry.putSync(Buffer.from(bucket, "latin1"), Buffer.from(EMPTY));
      for (const [bucket, writes] of this.pending.writes) {
        const db = this.db(bucket);
        for (const [k, v] of writes) {
          if (v === null) db.removeSync(Buffer.from(keyBytes(k)));
          else db.putSync(Buffer.from(keyBytes(k)), asBuffer(v));
        }
      }
    });
    this.pending.clear();
  }

  checkpoint(): Promise<void> {
    this.commit();
    return new Promise((resolve, reject) => {
      // mdb_env_sync with force: fdatasyncs data.mdb, so every committed transaction and the meta
      // page of the last one are durable when this resolves (WAL purge relies on it).
      (this.env as unknown as { sync(cb: (error: unknown) => void): void }).sync((error) => (error ? reject(error) : resolve()));
    });
  }

  sizeBytes(): number {
    try {
      return statSync(join(this.path, "data.mdb")).size;
    } catch {
      return 0;
    }
  }

  sizeInUseBytes(): number {
    let pages = 2; // LMDB's two meta pages
    let pageSize = 4096;
    for (const db of [this.registry, ...this.dbs.values()]) {
      const stats = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
      pageSize = stats.pageSize;
      pages += stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages;
    }
    return pages * pageSize;
  }

  async close(): Promise<void> {
    await this.checkpoint();
    await this.env.close();
  }
}

/** fsyncs a file or directory. */
function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
