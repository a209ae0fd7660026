/**
 * Whether another process holds a lock on a file, read from Linux's /proc/locks (flock, POSIX and
 * open-file-description locks alike). Offline tools use it to refuse, or wait for, a data
 * directory that a running member still has open: etcd flocks its bbolt `db`, and LMDB locks its
 * `lock.mdb` in every process that has the environment open. Elsewhere than Linux the answer is
 * always "not locked", so the check only ever adds safety.
 */
import { readFileSync, statSync } from "node:fs";

/** One lock on the file: the holder's pid (undefined for open-file-description locks, which have none). */
export interface FileLock {
  kind: string;
  pid: number | undefined;
}

/** Linux's dev_t split as /proc/locks prints it (major:minor in hex). */
function majorMinor(dev: number): { major: number; minor: number } {
  const value = BigInt(dev);
  const major = Number(((value >> 8n) & 0xfffn) | ((value >> 32n) & ~0xfffn));
  const minor = Number((value & 0xffn) | ((value >> 12n) & ~0xffn));
  return { major, minor };
}

/** The locks other processes hold on `path`; empty when it is not locked or cannot be checked. */
export function locksHeldByOthers(path: string): FileLock[] {
  let table: string;
  let stats;
  try {
    stats = statSync(path);
    table = readFileSync("/proc/locks", "latin1");
  } catch {
    return [];
  }
  const { major, minor } = majorMinor(stats.dev);
  const locks: FileLock[] = [];
  for (const line of table.split("\n")) {
    // "3: FLOCK  ADVISORY  WRITE 6695 fe:00:2171436 0 EOF"; lines starting "->" are waiters.
    const match = /^\d+:\s+(\S+)\s+\S+\s+\S+\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (match === null) continue;
    if (parseInt(match[3]!, 16) !== major || parseInt(match[4]!, 16) !== minor || BigInt(match[5]!) !== BigInt(stats.ino)) continue;
    const pid = Number(match[2]);
    if (pid === process.pid) continue;
    locks.push({ kind: match[1]!, pid: pid > 0 ? pid : undefined });
  }
  return locks;
}
