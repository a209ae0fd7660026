/**
 * etcd 3.4's write-ahead log file format (wal/encoder.go, wal/decoder.go, wal/wal.go), written
 * and read byte for byte, so that `cairnctl snapshot restore` produces the WAL etcd would.
 * Cairn's own WAL is a different format (see src/storage/schema.ts).
 *
 * Directory: segment files named `<seq:%016x>-<firstIndex:%016x>.wal`; a new WAL has one segment,
 * `0000000000000000-0000000000000000.wal`, preallocated to SEGMENT_SIZE_BYTES (64,000,000: etcd's
 * `SegmentSizeBytes` is decimal megabytes, not MiB) and zero beyond the written records.
 *
 * Frame (everything little-endian):
 *
 *   offset 0  u64 lenField   low 56 bits: length of the marshalled walpb.Record; when the record
 *                            is not a multiple of 8 bytes, the top byte is 0x80 | padBytes
 *   offset 8  walpb.Record   {type, crc, data} (see proto.ts)
 *   then padBytes zero bytes, so the next frame starts 8-byte aligned and a length field can
 *   never be torn across sectors.
 *
 * A zero length field ends the log (the preallocated zeros).
 *
 * Record types: 1 metadata (etcdserverpb.Metadata: node and cluster id), 2 entry (raftpb.Entry),
 * 3 state (raftpb.HardState), 4 crc (carries the running crc of the previous segment, no data),
 * 5 snapshot (walpb.Snapshot: index and term the log starts after).
 *
 * CRC: CRC-32C (Castagnoli) over the `data` of every record in order, chained: each record's crc
 * field is crc32c-update(previous record's crc, data); a crc record restarts the chain at the
 * value it carries (0 in the first segment). The chain makes a stale or reordered record fail.
 *
 * A new WAL (wal.Create) begins: crc{crc 0}, metadata, snapshot{index 0, term 0}.
 *
 * Torn writes: a record whose bytes run past the end of the file, or that fails to parse or to
 * match its crc while one of its 512-byte sectors is all zero, is a torn write at the tail; any
 * other mismatch is corruption. This reader refuses both (it never repairs).
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { crc32cUpdate } from "../mvcc/crc32c.js";
import { EtcdProtoError, decodeWalRecord, encodeWalRecord, type WalRecord } from "./proto.js";

/** walpb record types (wal/wal.go). */
export const WAL_METADATA_TYPE = 1;
export const WAL_ENTRY_TYPE = 2;
export const WAL_STATE_TYPE = 3;
export const WAL_CRC_TYPE = 4;
export const WAL_SNAPSHOT_TYPE = 5;

/** etcd's `wal.SegmentSizeBytes`: each segment file is preallocated to this size. */
export const SEGMENT_SIZE_BYTES = 64 * 1000 * 1000;
/** Frames start at multiples of this. */
const FRAME_ALIGN_BYTES = 8;
const FRAME_LENGTH_BYTES = 8;
/** etcd's `minSectorSize`: the unit in which a torn write leaves zeros. */
const SECTOR_BYTES = 512;
/** etcd's `maxWALEntrySizeLimit`: larger length fields are corruption. */
const MAX_RECORD_BYTES = 10 * 1024 * 1024;

/** The name of segment `seq` whose first entry has index `index` (etcd's walName). */
export function walFileName(seq: bigint, index: bigint): string {
  return `${seq.toString(16).padStart(16, "0")}-${index.toString(16).padStart(16, "0")}.wal`;
}

/** The length field and padding of a frame holding `recordBytes` bytes (etcd's encodeFrameSize). */
export function encodeFrameSize(recordBytes: number): { lenField: bigint; padBytes: number } {
  const padBytes = (FRAME_ALIGN_BYTES - (recordBytes % FRAME_ALIGN_BYTES)) % FRAME_ALIGN_BYTES;
  let lenField = BigInt(recordBytes);
  if (padBytes !== 0) lenField |= BigInt(0x80 | padBytes) << 56n;
  return { lenField, padBytes };
}

/** Builds the bytes of a WAL segment record by record, chaining the CRC. */
export class EtcdWalEncoder {
  private readonly frames: Uint8Array[] = [];
  /** The running CRC: the crc field of the last record encoded (or the chain's start). */
  private crc: number;

  /** @param previousCrc the chain value to continue (0 for the first segment) */
  constructor(previousCrc = 0) {
    this.crc = previousCrc;
  }

  /** Appends a record; `data` undefined means the record has no data field (a crc record). */
  encode(type: number, data: Uint8Array | undefined): void {
    this.crc = crc32cUpdate(this.crc, data ?? new Uint8Array(0));
    const record = encodeWalRecord({ type, crc: this.crc, data });
    const { lenField, padBytes } = encodeFrameSize(record.length);
    const frame = new Uint8Array(FRAME_LENGTH_BYTES + record.length + padBytes);
    new DataView(frame.buffer).setBigUint64(0, lenField, true);
    frame.set(record, FRAME_LENGTH_BYTES);
    this.frames.push(frame);
  }

  /** The crc record that starts a segment, carrying the running crc. */
  encodeCrc(): void {
    this.encode(WAL_CRC_TYPE, undefined);
  }

  /** Everything encoded so far. */
  bytes(): Uint8Array {
    return Buffer.concat(this.frames);
  }
}

/**
 * Writes a segment file at `path` (which must not exist): the records, then zeros up to
 * SEGMENT_SIZE_BYTES (a sparse extension: the bytes read back are those of etcd's preallocated
 * file), fsynced. Mode 0600 as etcd's `PrivateFileMode`.
 */
export function writeWalSegment(path: string, records: Uint8Array): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    let done = 0;
    while (done < records.length) done += writeSync(fd, records, done, records.length - done, done);
    ftruncateSync(fd, Math.max(SEGMENT_SIZE_BYTES, records.length));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export type EtcdWalErrorCode = "TORN_TAIL" | "CRC_MISMATCH" | "CORRUPT" | "TOO_LARGE";

/** A WAL that cannot be read back as written; `offset` is the frame's position in the file. */
export class EtcdWalError extends Error {
  constructor(
    readonly code: EtcdWalErrorCode,
    readonly offset: number,
    message: string,
  ) {
    super(`wal: ${message} at offset ${offset}`);
    this.name = "EtcdWalError";
  }
}

/** One record read back, with where its frame starts. */
export interface DecodedWalRecord extends WalRecord {
  offset: number;
}

/** Whether any sector-aligned piece of `data` (which starts at file offset `from`) is all zero. */
function hasZeroSector(data: Uint8Array, from: number): boolean {
  let at = 0;
  let fileOffset = from;
  while (at < data.length) {
    const length = Math.min(SECTOR_BYTES - (fileOffset % SECTOR_BYTES), data.length - at);
    if (data.subarray(at, at + length).every((b) => b === 0)) return true;
    at += length;
    fileOffset += length;
  }
  return false;
}

/**
 * Reads every record of one segment image, checking the CRC chain from `previousCrc`. Refuses a
 * torn tail and corruption alike, with the offset of the bad frame.
 */
export function decodeWalSegment(image: Uint8Array, previousCrc = 0): DecodedWalRecord[] {
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const records: DecodedWalRecord[] = [];
  let crc = previousCrc;
  let offset = 0;
  while (offset + FRAME_LENGTH_BYTES <= image.length) {
    const lenField = view.getBigUint64(offset, true);
    if (lenField === 0n) break;
    const recordBytes = Number(lenField & 0x00ff_ffff_ffff_ffffn);
    const padBytes = lenField >> 63n === 1n ? Number((lenField >> 56n) & 7n) : 0;
    if (recordBytes >= MAX_RECORD_BYTES - padBytes) throw new EtcdWalError("TOO_LARGE", offset, `record of ${recordBytes} bytes exceeds the limit`);
    const start = offset + FRAME_LENGTH_BYTES;
    const end = start + recordBytes + padBytes;
    if (end > image.length) throw new EtcdWalError("TORN_TAIL", offset, "record runs past the end of the file");
    const frameData = image.subarray(start, end);
    const torn = () => hasZeroSector(frameData, start);
    let record: WalRecord;
    try {
      record = decodeWalRecord(image.subarray(start, start + recordBytes));
    } catch (error) {
      if (!(error instanceof EtcdProtoError)) throw error;
      if (torn()) throw new EtcdWalError("TORN_TAIL", offset, "torn record");
      throw new EtcdWalError("CORRUPT", offset, error.message);
    }
    if (record.type === WAL_CRC_TYPE) {
      if (crc !== 0 && record.crc !== crc) throw new EtcdWalError("CRC_MISMATCH", offset, `crc record carries ${record.crc}, chain is at ${crc}`);
      crc = record.crc;
    } else {
      crc = crc32cUpdate(crc, record.data ?? new Uint8Array(0));
      if (record.crc !== crc) {
        if (torn()) throw new EtcdWalError("TORN_TAIL", offset, "torn record");
        throw new EtcdWalError("CRC_MISMATCH", offset, `record crc ${record.crc}, computed ${crc}`);
      }
    }
    records.push({ ...record, offset });
    offset = end;
  }
  return records;
}
