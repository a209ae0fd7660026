/**
 * etcd 3.4's `.snap` files (etcdserver/api/snap/snapshotter.go): the raft snapshot of the v2
 * store that a member's `member/snap` directory holds beside the bbolt `db`.
 *
 * Name: `<term:%016x>-<index:%016x>.snap`. Content: one snappb.Snapshot message
 * `{1 crc uint32, 2 data bytes}` where data is a marshalled raftpb.Snapshot (v2 store JSON in
 * `data`, index, term and conf state in `metadata`) and crc is the plain CRC-32C (Castagnoli, not
 * chained) of data. Written with mode 0666 (before umask) and fsynced.
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32cUpdate } from "../mvcc/crc32c.js";
import { decodeRaftSnapshot, decodeSnapFileRecord, encodeRaftSnapshot, encodeSnapFileRecord, type RaftSnapshot } from "./proto.js";

/** The file name etcd gives the snapshot at `term`/`index`. */
export function snapFileName(term: bigint, index: bigint): string {
  return `${term.toString(16).padStart(16, "0")}-${index.toString(16).padStart(16, "0")}.snap`;
}

/** The bytes of a .snap file holding `snapshot`. */
export function encodeSnapFile(snapshot: RaftSnapshot): Uint8Array {
  const data = encodeRaftSnapshot(snapshot);
  return encodeSnapFileRecord({ crc: crc32cUpdate(0, data), data });
}

/** A .snap file that is empty, unparseable or fails its CRC. */
export class SnapFileError extends Error {
  override name = "SnapFileError";
}

/** Reads a .snap file's bytes back, checking the CRC (snapshotter.go's Read). */
export function decodeSnapFile(bytes: Uint8Array): RaftSnapshot {
  if (bytes.length === 0) throw new SnapFileError("snap: empty snapshot");
  const record = decodeSnapFileRecord(bytes);
  if (record.data === undefined || record.data.length === 0) throw new SnapFileError("snap: empty snapshot");
  if (crc32cUpdate(0, record.data) !== record.crc) throw new SnapFileError("snap: crc mismatch");
  return decodeRaftSnapshot(record.data);
}

/** Writes `snapshot` into `dir` under etcd's name and returns the path. */
export function writeSnapFile(dir: string, snapshot: RaftSnapshot): string {
  const path = join(dir, snapFileName(snapshot.term, snapshot.index));
  const bytes = encodeSnapFile(snapshot);
  const fd = openSync(path, "wx", 0o666);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return path;
}
