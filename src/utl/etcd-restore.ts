/**
 * `snapshot restore` into an **etcd** data directory, as etcdctl 3.4 does it
 * (clientv3/snapshot/v3_snapshot.go): same checks in the same order, same messages, same log
 * lines, and the same files:
 *
 *   <data-dir>/member/snap/db          the snapshot's bbolt database without the sha256 trailer,
 *                                      with the buckets etcd's mvcc and lessor create ("key",
 *                                      "meta", "lease") and meta/consistent_index = number of
 *                                      members (the index of the bootstrap snapshot)
 *   <data-dir>/member/snap/<1>-<n>.snap  the v2 store with the new members (storage/etcd/snap.ts)
 *   <wal-dir>/0000000000000000-0000000000000000.wal  the bootstrap WAL (storage/etcd/bootstrap.ts)
 *
 * The WAL and .snap files are byte for byte etcd's. The db holds the same buckets, keys and
 * values as etcd's, written compactly (etcd copies the file and edits it in place, so the page
 * layout differs).
 *
 * Deliberate difference: etcd creates the data directory before checking the sha256 trailer and
 * leaves a partial directory behind when the check fails; this restore checks everything first,
 * builds the directories under temporary names and renames them into place, so a failed restore
 * leaves nothing behind.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { BboltFormatError, BboltReader } from "../storage/bbolt/reader.js";
import { sha256OfFile, hasSnapshotHash, SNAPSHOT_HASH_SIZE_BYTES } from "../storage/bbolt/snapshot-file.js";
import { BlockFileSource } from "../storage/etcd/block-source.js";
import { BackendCopyError, copyBuckets, writeBboltFileAtomically } from "../storage/etcd/backend.js";
import { bootstrapIndex, bootstrapSnapshot, bootstrapWalRecords, type BootstrapCluster } from "../storage/etcd/bootstrap.js";
import { writeSnapFile } from "../storage/etcd/snap.js";
import { memberIdHex } from "../storage/etcd/v2store.js";
import { walFileName, writeWalSegment } from "../storage/etcd/wal.js";
import {
  KEY_BUCKET,
  LEASE_BUCKET,
  MEMBERS_BUCKET,
  MEMBERS_REMOVED_BUCKET,
  META_BUCKET,
  META_CONSISTENT_INDEX,
  META_FINISHED_COMPACT_REV,
  META_SCHEDULED_COMPACT_REV,
  decodeRevisionKey,
  encodeKeyValue,
  encodeRevisionKey,
  encodeUint64,
  isTombstoneKey,
} from "../storage/schema.js";
import { MembershipConfigError, buildInitialCluster, type InitialCluster } from "./membership.js";
import { removeStaleRestores, syncDirectory } from "./snapshot-restore.js";
import { EtcdBackendOpenError } from "./etcd-defrag.js";

/** The flags of `etcdctl snapshot restore`, after etcdctl's defaults. */
export interface EtcdRestoreOptions {
  snapshotPath: string;
  name: string;
  /** As given, or `<name>.etcd`. */
  dataDir: string;
  /** As given, or `<data-dir>/member/wal` (etcdctl always passes one). */
  walDir: string;
  initialCluster: string;
  initialClusterToken: string;
  /** Comma-separated, as the flag. */
  initialAdvertisePeerURLs: string;
  skipHashCheck: boolean;
}

/** Where etcdctl's zap logger lines go; `caller` is etcd's source position, kept for fidelity. */
export type ZapInfo = (caller: string, msg: string, fields: Record<string, unknown>) => void;

/** A restore that stops with etcd's error message (etcdctl prints `Error: <message>`, exit 1). */
export class EtcdRestoreError extends Error {
  override name = "EtcdRestoreError";
}

/** etcdctl's defaults: data dir `<name>.etcd`, WAL dir `<data-dir>/member/wal` (Go's filepath.Join cleans). */
export function etcdRestoreDefaults(values: { name: string; dataDir: string; walDir: string }): { dataDir: string; walDir: string } {
  const dataDir = values.dataDir === "" ? `${values.name}.etcd` : values.dataDir;
  return { dataDir, walDir: values.walDir === "" ? join(dataDir, "member", "wal") : values.walDir };
}

const errnoTexts: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  ELOOP: "too many levels of symbolic links",
};

function goPathError(op: string, path: string, error: unknown): EtcdRestoreError {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return new EtcdRestoreError(`${op} ${path}: ${errnoTexts[code] ?? (error as Error).message}`);
}

/** Reads the snapshot's size and checks the trailer in etcd's order; returns the db length. */
function checkSnapshotFile(path: string, skipHashCheck: boolean): number {
  let size: number;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw goPathError("open", path, error);
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw new EtcdRestoreError(`read ${path}: is a directory`);
    size = stats.size;
    // etcd seeks to 32 bytes before the end to read the trailer: a shorter file cannot.
    if (size < SNAPSHOT_HASH_SIZE_BYTES) throw new EtcdRestoreError(`seek ${path}: invalid argument`);
    const hasHash = hasSnapshotHash(size);
    if (!hasHash && !skipHashCheck) throw new EtcdRestoreError("snapshot missing hash but --skip-hash-check=false");
    const dbSize = hasHash ? size - SNAPSHOT_HASH_SIZE_BYTES : size;
    if (hasHash && !skipHashCheck) {
      const expected = Buffer.alloc(SNAPSHOT_HASH_SIZE_BYTES);
      readSync(fd, expected, 0, SNAPSHOT_HASH_SIZE_BYTES, dbSize);
      const actual = Buffer.from(sha256OfFile(path, dbSize));
      if (!expected.equals(actual)) {
        throw new EtcdRestoreError(`expected sha256 [${[...expected].join(" ")}], got [${[...actual].join(" ")}]`);
      }
    }
    return dbSize;
  } finally {
    closeSync(fd);
  }
}

function toBootstrap(cluster: InitialCluster): BootstrapCluster {
  return { clusterId: cluster.clusterId, localId: cluster.local.id, members: cluster.members };
}

/** Creates a directory with etcd's private mode (0700), parents included. */
function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/**
 * Go's os.MkdirAll with etcd's private mode, failing as Go does: the error names the first
 * component that is not a directory or could not be made (`mkdir afile: not a directory`), as
 * given (relative paths stay relative).
 */
function goMkdirAll(path: string): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    stats = undefined;
  }
  if (stats !== undefined) {
    if (stats.isDirectory()) return;
    throw new EtcdRestoreError(`mkdir ${path}: not a directory`);
  }
  const parent = dirname(path);
  if (parent !== path) goMkdirAll(parent);
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST" && statSync(path).isDirectory()) return;
    throw goPathError("mkdir", path, error);
  }
}

/**
 * Restores `options.snapshotPath` into a new etcd data directory, logging through `log` as
 * etcdctl does. Throws EtcdRestoreError (etcd's message) when the restore cannot be done, and
 * EtcdBackendOpenError where etcd's backend would panic (a file bbolt cannot open).
 */
export function restoreEtcdDataDir(options: EtcdRestoreOptions, log: ZapInfo): void {
  let cluster: InitialCluster;
  try {
    cluster = buildInitialCluster(options);
  } catch (error) {
    if (error instanceof MembershipConfigError) throw new EtcdRestoreError(error.message);
    throw error;
  }
  const { dataDir, walDir } = options;
  if (existsSync(dataDir)) throw new EtcdRestoreError(`data-dir ${JSON.stringify(dataDir)} exists`);
  if (existsSync(walDir)) throw new EtcdRestoreError(`wal-dir ${JSON.stringify(walDir)} exists`);
  const snapDir = join(dataDir, "member", "snap");
  const dirFields = { path: options.snapshotPath, "wal-dir": walDir, "data-dir": dataDir, "snap-dir": snapDir };
  log("snapshot/v3_snapshot.go:296", "restoring snapshot", dirFields);

  const dbSize = checkSnapshotFile(options.snapshotPath, options.skipHashCheck);
  const source = new BlockFileSource(options.snapshotPath, dbSize);
  try {
    let reader: BboltReader;
    try {
      reader = BboltReader.open(source);
    } catch (error) {
      // etcd copies the file to <snap-dir>/db and opens it there; bbolt's refusal makes its backend panic.
      if (error instanceof BboltFormatError) throw new EtcdBackendOpenError(`cannot open database at ${join(snapDir, "db")} (${error.message})`);
      throw error;
    }
    logCompactionState(reader, log);
    writeDirectories(options, reader, cluster, log);
  } finally {
    source.close();
  }
  log("snapshot/v3_snapshot.go:309", "restored snapshot", dirFields);
}

/** The main revision in a meta-bucket revision value (17-byte revision key, big-endian main first). */
function mainRevision(value: Uint8Array): bigint {
  if (value.length < 8) throw new EtcdRestoreError(`meta bucket holds a ${value.length}-byte revision, shorter than 8 bytes`);
  return new DataView(value.buffer, value.byteOffset, 8).getBigInt64(0, false);
}

/**
 * What etcd's mvcc store logs when the restore opens the backend: the last finished compaction,
 * and a scheduled one it resumes. (etcd then runs that compaction in the background, racing with
 * closing the store; this restore copies the keys as they are and leaves the compaction to the
 * server, which resumes it at start.)
 */
function logCompactionState(reader: BboltReader, log: ZapInfo): void {
  const meta = reader.bucket(META_BUCKET);
  if (meta === undefined) return;
  let finished: bigint | undefined;
  let scheduled: bigint | undefined;
  for (const entry of reader.entries(meta)) {
    const key = Buffer.from(entry.key).toString("latin1");
    if (key === META_FINISHED_COMPACT_REV) finished = mainRevision(entry.value);
    else if (key === META_SCHEDULED_COMPACT_REV) scheduled = mainRevision(entry.value);
  }
  if (finished !== undefined) {
    log("mvcc/kvstore.go:388", "restored last compact revision", {
      "meta-bucket-name": META_BUCKET,
      "meta-bucket-name-key": META_FINISHED_COMPACT_REV,
      "restored-compact-revision": Number(finished),
    });
  }
  if (scheduled !== undefined && scheduled > (finished ?? -1n)) {
    log("mvcc/kvstore.go:468", "resume scheduled compaction", {
      "meta-bucket-name": META_BUCKET,
      "meta-bucket-name-key": META_SCHEDULED_COMPACT_REV,
      "scheduled-compact-revision": Number(scheduled),
    });
  }
}

/** Builds the directories under temporary names, then renames them into place. */
function writeDirectories(options: EtcdRestoreOptions, reader: BboltReader, cluster: InitialCluster, log: ZapInfo): void {
  const dataDir = resolve(options.dataDir);
  const walDir = resolve(options.walDir);
  const walInside = relative(dataDir, walDir);
  const walIsInsideData = walInside !== "" && !walInside.startsWith("..") && !isAbsolute(walInside);
  const suffix = `.restoring-${process.pid}`;
  const tempData = join(dirname(dataDir), `${basename(dataDir)}${suffix}`);
  const tempWal = walIsInsideData ? join(tempData, walInside) : join(dirname(walDir), `${basename(walDir)}${suffix}`);
  goMkdirAll(dirname(options.dataDir));
  removeStaleRestores(dataDir);
  if (!walIsInsideData) {
    goMkdirAll(dirname(options.walDir));
    removeStaleRestores(walDir);
  }
  let walPlaced = false;
  try {
    const tempSnap = join(tempData, "member", "snap");
    makePrivateDir(tempSnap);
    makePrivateDir(tempWal);
    writeRestoredDb(reader, join(tempSnap, "db"), cluster);
    const bootstrap = toBootstrap(cluster);
    for (const member of cluster.members) {
      log("membership/cluster.go:392", "added member", {
        "cluster-id": memberIdHex(cluster.clusterId),
        "local-member-id": "0",
        "added-peer-id": memberIdHex(member.id),
        "added-peer-peer-urls": member.peerURLs,
      });
    }
    writeWalSegment(join(tempWal, walFileName(0n, 0n)), bootstrapWalRecords(bootstrap));
    syncDirectory(tempWal);
    writeSnapFile(tempSnap, bootstrapSnapshot(bootstrap));
    syncDirectory(tempSnap);
    if (!walIsInsideData) {
      renameSync(tempWal, walDir);
      walPlaced = true;
      syncDirectory(dirname(walDir));
    }
    renameSync(tempData, dataDir);
    syncDirectory(dirname(dataDir));
  } catch (error) {
    rmSync(tempData, { recursive: true, force: true });
    if (!walIsInsideData) rmSync(walPlaced ? walDir : tempWal, { recursive: true, force: true });
    if (error instanceof BackendCopyError || error instanceof BboltFormatError) throw new EtcdRestoreError(error.message);
    const errno = error as NodeJS.ErrnoException;
    // A file-system failure (disk full, permissions): reported as Go's *PathError would be.
    if (typeof errno.syscall === "string" && typeof errno.path === "string") throw goPathError(errno.syscall, errno.path, error);
    throw error;
  }
}

/**
 * The restored backend: the snapshot's buckets and keys, plus what etcd's restore adds when it
 * opens the file with its mvcc store and lessor: the "key", "meta" and "lease" buckets if missing,
 * meta/consistent_index = the bootstrap index (so the new member applies entries after it), and
 * the tombstones of memberKeyTombstones.
 */
function writeRestoredDb(reader: BboltReader, path: string, cluster: InitialCluster): void {
  const consistentIndex = encodeUint64(bootstrapIndex(toBootstrap(cluster)));
  const deleter = new MemberKeyDeleter(reader);
  writeBboltFileAtomically(path, reader.pageSize, (writer) =>
    copyBuckets(reader, writer, {
      ensureBuckets: [KEY_BUCKET, META_BUCKET, LEASE_BUCKET],
      puts: new Map([[META_BUCKET, new Map([[META_CONSISTENT_INDEX, consistentIndex]])]]),
      keepSequences: true,
      observe: (bucket, key, value) => {
        if (bucket === KEY_BUCKET) deleter.observe(key, value);
      },
      append: (bucket) => (bucket === KEY_BUCKET ? deleter.tombstones() : []),
    }),
  );
}

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

/** The key of a marshalled mvccpb.KeyValue (field 1, written first), without decoding the rest. */
function keyOfKeyValue(value: Uint8Array): string | undefined {
  if (value[0] !== 0x0a) return undefined;
  let length = 0;
  let at = 1;
  for (let shift = 0; shift < 35; shift += 7) {
    const byte = value[at++];
    if (byte === undefined) return undefined;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return at + length <= value.length ? latin1(value.subarray(at, at + length)) : undefined;
  }
  return undefined;
}

/**
 * etcd 3.4's restore "deletes the old cluster's members" with a callback that runs an mvcc
 * DeleteRange on each key of the "members" and then "members_removed" buckets: the buckets keep
 * their content (nothing reads them in 3.4), but a *user key* spelled like an old member id (its
 * hex) is deleted if it is live. Each such delete is a tombstone in the "key" bucket at revision
 * (current + 1, n) for the n-th deleted key, valued `KeyValue{key}`; current is the highest main
 * revision in the "key" bucket, or the finished compaction if higher (mvcc's restore). The
 * tombstones sort after every existing revision, so they are appended while the bucket is copied.
 */
class MemberKeyDeleter {
  /** Keys of the membership buckets, in the order etcd deletes them. */
  private readonly candidates: string[] = [];
  private readonly wanted: Set<string>;
  /** Whether each candidate's newest revision seen so far is a put (the key is live). */
  private readonly live = new Map<string, boolean>();
  /** The store's current revision as mvcc's restore computes it. */
  private currentRevision = 1n;

  constructor(reader: BboltReader) {
    for (const bucket of [MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET]) {
      const ref = reader.bucket(bucket);
      if (ref !== undefined) for (const entry of reader.entries(ref)) this.candidates.push(latin1(entry.key));
    }
    this.wanted = new Set(this.candidates);
    const meta = reader.bucket(META_BUCKET);
    if (meta === undefined) return;
    for (const entry of reader.entries(meta)) {
      if (latin1(entry.key) !== META_FINISHED_COMPACT_REV) continue;
      const compacted = mainRevision(entry.value);
      if (compacted > this.currentRevision) this.currentRevision = compacted;
    }
  }

  /** Sees one "key" bucket entry (in revision order). */
  observe(revisionKey: Uint8Array, value: Uint8Array): void {
    let revision;
    try {
      revision = decodeRevisionKey(revisionKey);
    } catch (error) {
      throw new EtcdRestoreError(`key bucket holds ${Buffer.from(revisionKey).toString("hex")}, not a revision: ${(error as Error).message}`);
    }
    if (BigInt(revision.main) > this.currentRevision) this.currentRevision = BigInt(revision.main);
    if (this.wanted.size === 0) return;
    const key = keyOfKeyValue(value);
    if (key !== undefined && this.wanted.has(key)) this.live.set(key, !isTombstoneKey(revisionKey));
  }

  /** The tombstones etcd writes, once every "key" entry has been observed. */
  tombstones(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    for (const key of this.candidates) {
      if (this.live.get(key) !== true) continue;
      this.live.set(key, false);
      const revisionKey = encodeRevisionKey({ main: Number(this.currentRevision + 1n), sub: out.length }, true);
      out.push([revisionKey, encodeKeyValue({ key: Buffer.from(key, "latin1"), createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0n })]);
    }
    return out;
  }
}
