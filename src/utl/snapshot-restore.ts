/**
 * `cairnutl snapshot restore <file>`: turns a snapshot file (taken from Cairn or from etcd) into a
 * new member's data directory, with the flags and checks of `etcdctl snapshot restore`.
 *
 * Everything that can fail on bad input (flags, cluster membership, existing directories, the
 * sha256 trailer, the bbolt structure) is checked before anything is written. The data directory
 * is then built under a temporary name beside the target and renamed into place, so a failed
 * restore leaves nothing behind.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { BboltReader, decodeBucketValue, type BucketEntry } from "../storage/bbolt/reader.js";
import { openSnapshotDatabase, verifySnapshotHash } from "../storage/bbolt/snapshot-file.js";
import type { FileSource } from "../storage/bbolt/source.js";
import { FlagError, flagIsTrue, formatFlagHelp, parseFlags, type FlagSpec } from "./flags.js";
import { ExitCode, exitWithError, type CommandIO } from "./io.js";
import { MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET, encodeMemberJson, encodeMemberKey } from "../storage/schema.js";
import { formatId } from "../storage/membership.js";
import { syncPath } from "../storage/etcd/backend.js";
import { MembershipConfigError, buildInitialCluster, type InitialCluster } from "./membership.js";
import { describeSnapshotError } from "./snapshot-status.js";

const DEFAULT_NAME = "default";
const DEFAULT_PEER_URL = "http://localhost:2380";

export const restoreFlags: FlagSpec[] = [
  { name: "data-dir", kind: "string", defaultValue: "", usage: "Path to the data directory" },
  { name: "help", short: "h", kind: "bool", defaultValue: "false", usage: "help for restore" },
  { name: "initial-advertise-peer-urls", kind: "string", defaultValue: DEFAULT_PEER_URL, usage: "List of this member's peer URLs to advertise to the rest of the cluster" },
  { name: "initial-cluster", kind: "string", defaultValue: `${DEFAULT_NAME}=${DEFAULT_PEER_URL}`, usage: "Initial cluster configuration for restore bootstrap" },
  { name: "initial-cluster-token", kind: "string", defaultValue: "etcd-cluster", usage: "Initial cluster token for the etcd cluster during restore bootstrap" },
  { name: "name", kind: "string", defaultValue: DEFAULT_NAME, usage: "Human-readable name for this member" },
  { name: "skip-hash-check", kind: "bool", defaultValue: "false", usage: "Ignore snapshot integrity hash value (required if copied from data directory)" },
  { name: "wal-dir", kind: "string", defaultValue: "", usage: "Path to the WAL directory (use --data-dir if none given)" },
];

export const restoreHelp = `NAME:
\tsnapshot restore - Restores an etcd member snapshot to an etcd directory

USAGE:
\tcairnutl snapshot restore <filename> [options] [flags]

DESCRIPTION:
\tReads a snapshot file saved from Cairn or from etcd (\`etcdctl snapshot save\`) and creates a new
\tmember data directory from it. Member and cluster IDs are derived from --name, --initial-cluster,
\t--initial-cluster-token and --initial-advertise-peer-urls exactly as etcd derives them.

OPTIONS:
${formatFlagHelp(restoreFlags)}`;

/** Restore settings after defaults are applied. */
export interface RestoreOptions {
  snapshotPath: string;
  name: string;
  dataDir: string;
  /** WAL directory; `<data-dir>/member/wal` unless given. */
  walDir: string;
  /** Whether --wal-dir was given (then it must not exist either). */
  dedicatedWalDir: boolean;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerURLs: string;
  skipHashCheck: boolean;
}

/** One bucket of the restored state, streamed from the snapshot. */
export interface RestoredBucket {
  name: string;
  entries: Iterable<BucketEntry>;
}

/** A validated restore, ready to be written. */
export interface RestorePlan {
  options: RestoreOptions;
  cluster: InitialCluster;
  /** Bytes of the bbolt database inside the snapshot (without the trailer). */
  dbSizeBytes: number;
  reader: BboltReader;
  /**
   * The buckets as the new member should hold them: the snapshot's, except that "members" holds the
   * members of the new cluster and "members_removed" is empty (the old cluster's membership is
   * meaningless in the new one).
   */
  buckets(): Generator<RestoredBucket>;
  close(): void;
}

/** Writes a plan into a directory; implemented by the storage layer's bulk loader. */
export interface RestoreTarget {
  /** Builds the member's data in `dataDir` (and its WAL in `walDir`); both are new, empty directories. */
  write(plan: RestorePlan, dataDir: string, walDir: string): void | Promise<void>;
}

/** A restore that must stop before writing; the message is etcd's where etcd has one. */
export class RestoreError extends Error {
  override name = "RestoreError";
}

/** Applies etcdctl's defaults to the parsed flags. */
export function resolveRestoreOptions(snapshotPath: string, values: Map<string, string>): RestoreOptions {
  const name = values.get("name") ?? DEFAULT_NAME;
  const dataDir = values.get("data-dir") || `${name}.etcd`;
  const walFlag = values.get("wal-dir") ?? "";
  return {
    snapshotPath,
    name,
    dataDir,
    walDir: walFlag || join(dataDir, "member", "wal"),
    dedicatedWalDir: walFlag !== "",
    initialCluster: values.get("initial-cluster") ?? `${DEFAULT_NAME}=${DEFAULT_PEER_URL}`,
    initialClusterToken: values.get("initial-cluster-token") ?? "etcd-cluster",
    initialAdvertisePeerURLs: values.get("initial-advertise-peer-urls") ?? DEFAULT_PEER_URL,
    skipHashCheck: flagIsTrue(values.get("skip-hash-check")),
  };
}

/** Checks everything a restore depends on, in etcd's order, without writing anything. */
export function planRestore(options: RestoreOptions): RestorePlan {
  const cluster = buildInitialCluster({
    name: options.name,
    initialCluster: options.initialCluster,
    initialClusterToken: options.initialClusterToken,
    initialAdvertisePeerURLs: options.initialAdvertisePeerURLs,
  });
  if (existsSync(options.dataDir)) throw new RestoreError(`data-dir ${JSON.stringify(options.dataDir)} exists`);
  if (options.dedicatedWalDir && existsSync(options.walDir)) {
    throw new RestoreError(`wal-dir ${JSON.stringify(options.walDir)} exists`);
  }
  const dbSizeBytes = verifySnapshotHash(options.snapshotPath, options.skipHashCheck);
  const opened: { reader: BboltReader; source: FileSource } = openSnapshotDatabase(options.snapshotPath, dbSizeBytes);
  const { reader, source } = opened;
  return {
    options,
    cluster,
    dbSizeBytes,
    reader,
    *buckets() {
      // The membership buckets are written even when the snapshot lacks them.
      const stored = new Map<string, Uint8Array>();
      for (const bucket of reader.entries(reader.rootBucket())) stored.set(Buffer.from(bucket.key).toString("latin1"), bucket.value);
      const names = [...new Set([...stored.keys(), MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET])];
      names.sort((a, b) => Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")));
      for (const name of names) {
        if (name === MEMBERS_BUCKET) yield { name, entries: memberEntries(cluster) };
        else if (name === MEMBERS_REMOVED_BUCKET) yield { name, entries: [] };
        else yield { name, entries: reader.entries(decodeBucketValue(stored.get(name)!)) };
      }
    },
    close: () => source.close(),
  };
}

function memberEntries(cluster: InitialCluster): BucketEntry[] {
  return cluster.members
    .map((member) => ({
      key: encodeMemberKey(member.id),
      value: encodeMemberJson({ id: member.id, peerUrls: member.peerURLs, isLearner: false, name: member.name, clientUrls: [] }),
      isBucket: false,
    }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
}

/**
 * Writes a plan through `target` into temporary directories beside the destinations, then renames
 * them into place; on any failure the temporaries are removed and the destinations never appear.
 */
export async function executeRestore(plan: RestorePlan, target: RestoreTarget): Promise<void> {
  const { dataDir, walDir, dedicatedWalDir } = plan.options;
  const suffix = `.restoring-${process.pid}`;
  const tempData = join(dirname(resolve(dataDir)), `${basename(dataDir)}${suffix}`);
  const tempWal = dedicatedWalDir ? join(dirname(resolve(walDir)), `${basename(walDir)}${suffix}`) : join(tempData, "member", "wal");
  let walPlaced = false;
  removeStaleRestores(dataDir);
  if (dedicatedWalDir) removeStaleRestores(walDir);
  try {
    mkdirSync(tempData, { recursive: true, mode: 0o700 });
    mkdirSync(tempWal, { recursive: true, mode: 0o700 });
    await target.write(plan, tempData, tempWal);
    if (dedicatedWalDir) {
      renameSync(tempWal, walDir);
      walPlaced = true;
      syncDirectory(dirname(resolve(walDir)));
    }
    renameSync(tempData, dataDir);
    syncDirectory(dirname(resolve(dataDir)));
  } catch (error) {
    rmSync(tempData, { recursive: true, force: true });
    if (dedicatedWalDir) rmSync(walPlaced ? walDir : tempWal, { recursive: true, force: true });
    throw error;
  }
}

const RESTORING_SUFFIX = /^\.restoring-(\d+)$/;

/**
 * Removes what restores into `target` left behind when they were killed: `<target>.restoring-<pid>`
 * directories whose process no longer runs.
 */
export function removeStaleRestores(target: string): void {
  const parent = dirname(resolve(target));
  const name = basename(target);
  if (!existsSync(parent)) return;
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(name)) continue;
    const match = RESTORING_SUFFIX.exec(entry.slice(name.length));
    if (match === null || isRunning(Number(match[1]))) continue;
    rmSync(join(parent, entry), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Makes a rename inside `dir` durable. */
export const syncDirectory: (dir: string) => void = syncPath;

/**
 * Runs the command. `target` is the storage layer's bulk loader; without one (before Cairn's MVCC
 * backend exists in this build) the command validates everything and stops before writing.
 */
export async function snapshotRestoreCommand(args: string[], io: CommandIO, target: RestoreTarget | undefined): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(args, restoreFlags);
  } catch (error) {
    if (error instanceof FlagError) return exitWithError(io, ExitCode.error, error.message);
    throw error;
  }
  if (flagIsTrue(parsed.values.get("help"))) {
    io.stdout(restoreHelp);
    return ExitCode.success;
  }
  if (parsed.positional.length !== 1) return exitWithError(io, ExitCode.badArgs, "snapshot restore requires exactly one argument");
  const options = resolveRestoreOptions(parsed.positional[0]!, parsed.values);
  let plan: RestorePlan;
  try {
    plan = planRestore(options);
  } catch (error) {
    if (error instanceof RestoreError || error instanceof MembershipConfigError) return exitWithError(io, ExitCode.error, error.message);
    const message = describeSnapshotError(error);
    if (message === undefined) throw error;
    return exitWithError(io, ExitCode.error, message);
  }
  try {
    if (target === undefined) {
      return exitWithError(io, ExitCode.error, "this build cannot write a Cairn data directory yet (no storage backend); the snapshot and flags are valid");
    }
    await executeRestore(plan, target);
    io.stdout(
      `restored snapshot ${options.snapshotPath} into ${options.dataDir}: member ${formatId(plan.cluster.local.id)} (${options.name}) in cluster ${formatId(plan.cluster.clusterId)}\n`,
    );
    return ExitCode.success;
  } finally {
    plan.close();
  }
}
