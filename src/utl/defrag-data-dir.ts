/**
 * `defrag --data-dir`: offline defragmentation of a stopped member's data directory, of either
 * format: an etcd data directory (bbolt `member/snap/db`, see etcd-defrag.ts) or a Cairn one
 * (LMDB `member/snap/data.mdb`, rewritten by the LMDB backend's compacting copy).
 *
 * A member that still runs holds a lock: etcd flocks its `db`, and etcdctl waits for the lock,
 * saying so after a second; this does the same. A running Cairn holds `lock.mdb`; a defrag would
 * swap the file under it and lose its later writes, so that is refused with a pointer to the
 * online `defrag`.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { LmdbBackend } from "../storage/backend/lmdb.js";
import { EtcdDefragError, defragEtcdDataDir, etcdBackendPath, type DefragResult } from "./etcd-defrag.js";
import { locksHeldByOthers } from "./file-locks.js";

export type DataDirFormat = "etcd" | "cairn";

/** How long etcdctl waits for the lock before it says why it is waiting. */
export const LOCK_NOTICE_AFTER_MS = 1000;
/** How often the lock is checked again (bbolt's flock retry interval). */
const LOCK_POLL_INTERVAL_MS = 50;

const CAIRN_DATA_FILE = "data.mdb";
const CAIRN_LOCK_FILE = "lock.mdb";

function snapDir(dataDir: string): string {
  return join(dataDir, "member", "snap");
}

/** Cairn's data directory has LMDB files where etcd's has `db`; anything else is treated as etcd's. */
export function detectDataDirFormat(dataDir: string): DataDirFormat {
  const snap = snapDir(dataDir);
  return !existsSync(join(snap, "db")) && existsSync(join(snap, CAIRN_DATA_FILE)) ? "cairn" : "etcd";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until no other process holds a lock on `path`, calling `onSlow` once if that takes longer
 * than LOCK_NOTICE_AFTER_MS. Like etcdctl, it waits as long as the member runs (Ctrl-C ends it).
 */
async function waitForUnlock(path: string, onSlow: () => void): Promise<void> {
  const started = performance.now();
  let noticed = false;
  while (locksHeldByOthers(path).length > 0) {
    if (!noticed && performance.now() - started >= LOCK_NOTICE_AFTER_MS) {
      noticed = true;
      onSlow();
    }
    await sleep(LOCK_POLL_INTERVAL_MS);
  }
}

async function defragCairnDataDir(dataDir: string): Promise<DefragResult> {
  const snap = snapDir(dataDir);
  const holders = locksHeldByOthers(join(snap, CAIRN_LOCK_FILE));
  if (holders.length > 0) {
    const pids = [...new Set(holders.map((h) => h.pid).filter((p) => p !== undefined))];
    throw new EtcdDefragError(
      `${snap} is in use by a running cairn${pids.length > 0 ? ` (pid ${pids.join(", ")})` : ""}; stop it first, or defragment it online with cairnctl defrag --endpoints`,
    );
  }
  const path = join(snap, CAIRN_DATA_FILE);
  const sizeBeforeBytes = statSync(path).size;
  const backend = new LmdbBackend({ path: snap });
  try {
    await backend.defragment();
  } finally {
    await backend.close();
  }
  return { path, sizeBeforeBytes, sizeAfterBytes: statSync(path).size };
}

/**
 * Defragments the data directory of a stopped etcd or Cairn member. `onWaiting` is called with the
 * backend path when a running etcd's lock has been held for LOCK_NOTICE_AFTER_MS.
 */
export async function defragOfflineDataDir(dataDir: string, onWaiting: (dbPath: string) => void): Promise<DefragResult & { format: DataDirFormat }> {
  if (detectDataDirFormat(dataDir) === "cairn") return { ...(await defragCairnDataDir(dataDir)), format: "cairn" };
  const dbPath = etcdBackendPath(dataDir);
  await waitForUnlock(dbPath, () => onWaiting(dbPath));
  return { ...defragEtcdDataDir(dataDir), format: "etcd" };
}
