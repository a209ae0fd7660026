/**
 * Framing and payload codecs of WAL records. The byte layout is documented in ../schema.ts (section
 * "WAL"); this module only implements it.
 */
import { crc32 } from "node:zlib";
import type { Entry, HardState, SnapshotMetadata } from "../../raft/types.js";
import {
  WAL_MAX_RECORD_PAYLOAD_BYTES, WAL_RECORD_ALIGN_BYTES, WAL_RECORD_ENTRY, WAL_RECORD_HARD_STATE, WAL_RECORD_HEADER_BYTES,
  WAL_RECORD_METADATA, WAL_RECORD_SEGMENT_HEADER, WAL_RECORD_SNAPSHOT,
} from "../schema.js";

/** A record before framing: its type and payload. */
export interface RecordBody {
  type: number;
  payload: Uint8Array;
}

/** Bytes a framed record with `payloadBytes` of payload occupies, padding included. */
export function framedBytes(payloadBytes: number): number {
  return alignUp(WAL_RECORD_HEADER_BYTES + payloadBytes);
}

export function alignUp(n: number): number {
  return Math.ceil(n / WAL_RECORD_ALIGN_BYTES) * WAL_RECORD_ALIGN_BYTES;
}

/** CRC of a record continued from `previousCrc`. */
export function recordCrc(type: number, payload: Uint8Array, previousCrc: number): number {
  return crc32(payload, crc32(Uint8Array.of(type), previousCrc));
}

/** Frames `body` into `out` at `offset` with its CRC chained from `previousCrc`; returns the new crc. */
export function frameRecord(out: Uint8Array, offset: number, body: RecordBody, previousCrc: number): number {
  const crc = recordCrc(body.type, body.payload, previousCrc);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, body.payload.length, true);
  view.setUint32(offset + 4, crc, true);
  out[offset + 8] = body.type;
  out.set(body.payload, offset + WAL_RECORD_HEADER_BYTES);
  return crc;
}

/** Why a record could not be read. */
export type RecordProblem = "short header" | "bad length" | "bad type" | "short payload" | "crc mismatch";

/** Result of reading one record at an offset of a segment image. */
export type ReadOutcome =
  | { kind: "record"; body: RecordBody; crc: number; next: number }
  | { kind: "end" }
  | { kind: "bad"; problem: RecordProblem; extentEnd: number };

/** Reads the record at `offset` of `image`, checking its CRC against the chain value `previousCrc`. */
export function readRecord(image: Uint8Array, offset: number, previousCrc: number): ReadOutcome {
  if (offset + WAL_RECORD_HEADER_BYTES > image.length) {
    return isZero(image, offset, image.length) ? { kind: "end" } : { kind: "bad", problem: "short header", extentEnd: image.length };
  }
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const length = view.getUint32(offset, true);
  const crc = view.getUint32(offset + 4, true);
  const type = image[offset + 8] ?? 0;
  if (length === 0 && crc === 0 && isZero(image, offset, offset + WAL_RECORD_HEADER_BYTES)) return { kind: "end" };
  const headerEnd = offset + WAL_RECORD_HEADER_BYTES;
  if (type < WAL_RECORD_SEGMENT_HEADER || type > WAL_RECORD_METADATA || !isZero(image, offset + 9, headerEnd)) {
    return { kind: "bad", problem: "bad type", extentEnd: headerEnd };
  }
  if (length > WAL_MAX_RECORD_PAYLOAD_BYTES) return { kind: "bad", problem: "bad length", extentEnd: headerEnd };
  if (headerEnd + length > image.length) return { kind: "bad", problem: "short payload", extentEnd: image.length };
  const payload = image.subarray(headerEnd, headerEnd + length);
  if (recordCrc(type, payload, previousCrc) !== crc) {
    return { kind: "bad", problem: "crc mismatch", extentEnd: Math.min(image.length, alignUp(headerEnd + length)) };
  }
  return { kind: "record", body: { type, payload }, crc, next: Math.min(image.length, alignUp(headerEnd + length)) };
}

const ZERO_CHUNK = new Uint8Array(64 * 1024);

/** Whether image[from, to) is all zero bytes (compared natively, 64 KiB at a time). */
export function isZero(image: Uint8Array, from: number, to: number): boolean {
  for (let at = from; at < to; at += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, to - at);
    if (Buffer.compare(image.subarray(at, at + n), ZERO_CHUNK.subarray(0, n)) !== 0) return false;
  }
  return true;
}

/** Position of the last non-zero byte at or after `from`, or -1 when image[from..] is all zero. */
export function lastNonZero(image: Uint8Array, from: number): number {
  for (let chunkEnd = image.length; chunkEnd > from; chunkEnd -= ZERO_CHUNK.length) {
    const chunkStart = Math.max(from, chunkEnd - ZERO_CHUNK.length);
    if (isZero(image, chunkStart, chunkEnd)) continue;
    for (let i = chunkEnd - 1; i >= chunkStart; i--) if (image[i] !== 0) return i;
  }
  return -1;
}

/** Sector size used to recognise a torn write: a record containing a whole zeroed sector was cut. */
const SECTOR_BYTES = 512;

/** Whether [from, to) contains an aligned, entirely zero 512-byte sector. */
export function containsZeroSector(image: Uint8Array, from: number, to: number): boolean {
  for (let s = Math.ceil(from / SECTOR_BYTES) * SECTOR_BYTES; s + SECTOR_BYTES <= to; s += SECTOR_BYTES) {
    if (isZero(image, s, s + SECTOR_BYTES)) return true;
  }
  return false;
}

// ----- payload codecs ---------------------------------------------------------------------------

/** Contents of a segment header record. */
export interface SegmentHeader {
  seq: number;
  firstIndex: number;
  chainCrc: number;
}

export function encodeSegmentHeader(h: SegmentHeader): RecordBody {
  const payload = new Uint8Array(20);
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, BigInt(h.seq), true);
  view.setBigUint64(8, BigInt(h.firstIndex), true);
  view.setUint32(16, h.chainCrc, true);
  return { type: WAL_RECORD_SEGMENT_HEADER, payload };
}

export function decodeSegmentHeader(payload: Uint8Array): SegmentHeader {
  const view = payloadView(payload, 20, "segment header");
  return { seq: Number(view.getBigUint64(0, true)), firstIndex: Number(view.getBigUint64(8, true)), chainCrc: view.getUint32(16, true) };
}

export function encodeEntry(e: Entry): RecordBody {
  const payload = new Uint8Array(17 + e.data.length);
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, BigInt(e.term), true);
  view.setBigUint64(8, BigInt(e.index), true);
  payload[16] = e.type;
  payload.set(e.data, 17);
  return { type: WAL_RECORD_ENTRY, payload };
}

export function decodeEntry(payload: Uint8Array): Entry {
  const view = payloadView(payload, 17, "entry");
  // Copy the data out of the segment image so the image can be released.
  return { term: Number(view.getBigUint64(0, true)), index: Number(view.getBigUint64(8, true)), type: payload[16] ?? 0, data: payload.slice(17) };
}

export function encodeHardState(hs: HardState): RecordBody {
  const payload = new Uint8Array(24);
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, BigInt(hs.term), true);
  view.setBigUint64(8, BigInt.asUintN(64, hs.vote), true);
  view.setBigUint64(16, BigInt(hs.commit), true);
  return { type: WAL_RECORD_HARD_STATE, payload };
}

export function decodeHardState(payload: Uint8Array): HardState {
  const view = payloadView(payload, 24, "hard state");
  return { term: Number(view.getBigUint64(0, true)), vote: view.getBigUint64(8, true), commit: Number(view.getBigUint64(16, true)) };
}

export function encodeSnapshotMarker(m: SnapshotMetadata): RecordBody {
  const { voters, learners } = m.confState;
  const payload = new Uint8Array(24 + 8 * (voters.length + learners.length));
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, BigInt(m.index), true);
  view.setBigUint64(8, BigInt(m.term), true);
  let at = 16;
  for (const list of [voters, learners]) {
    view.setUint32(at, list.length, true);
    at += 4;
    for (const id of list) {
      view.setBigUint64(at, BigInt.asUintN(64, id), true);
      at += 8;
    }
  }
  return { type: WAL_RECORD_SNAPSHOT, payload };
}

export function decodeSnapshotMarker(payload: Uint8Array): SnapshotMetadata {
  const view = payloadView(payload, 24, "snapshot marker");
  let at = 16;
  const lists: bigint[][] = [];
  for (let l = 0; l < 2; l++) {
    if (at + 4 > payload.length) throw new Error("wal: snapshot marker payload too short");
    const count = view.getUint32(at, true);
    at += 4;
    if (at + 8 * count > payload.length) throw new Error("wal: snapshot marker payload too short");
    const ids: bigint[] = [];
    for (let i = 0; i < count; i++, at += 8) ids.push(view.getBigUint64(at, true));
    lists.push(ids);
  }
  return { index: Number(view.getBigUint64(0, true)), term: Number(view.getBigUint64(8, true)), confState: { voters: lists[0] ?? [], learners: lists[1] ?? [] } };
}

export function encodeMetadata(metadata: Uint8Array): RecordBody {
  return { type: WAL_RECORD_METADATA, payload: metadata };
}

function payloadView(payload: Uint8Array, minBytes: number, what: string): DataView {
  if (payload.length < minBytes) throw new Error(`wal: ${what} payload has ${payload.length} bytes, want at least ${minBytes}`);
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

export { WAL_RECORD_ENTRY, WAL_RECORD_HARD_STATE, WAL_RECORD_METADATA, WAL_RECORD_SEGMENT_HEADER, WAL_RECORD_SNAPSHOT };
