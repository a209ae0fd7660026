/**
 * The few protobuf messages etcd 3.4 writes into a data directory's WAL and .snap files, encoded
 * byte for byte as etcd's gogoproto code encodes them, and decoded back.
 *
 * gogoproto with `nullable=false` always writes a scalar field, zero or not, in field-number
 * order; a `bytes` field is written only when it is non-nil (an empty but present slice is
 * written as a zero-length field). Repeated uint64 fields are not packed (proto2).
 * Field numbers (from walpb/record.proto, raftpb/raft.proto, snappb/snap.proto,
 * etcdserverpb/etcdserver.proto):
 *
 *   walpb.Record            1 type int64, 2 crc uint32, 3 data bytes
 *   walpb.Snapshot          1 index uint64, 2 term uint64
 *   etcdserverpb.Metadata   1 NodeID uint64, 2 ClusterID uint64
 *   raftpb.Entry            1 Type enum, 2 Term uint64, 3 Index uint64, 4 Data bytes
 *   raftpb.HardState        1 term, 2 vote, 3 commit (uint64)
 *   raftpb.ConfChange       1 ID uint64, 2 Type enum, 3 NodeID uint64, 4 Context bytes
 *   raftpb.ConfState        1 voters, 2 learners, 3 voters_outgoing, 4 learners_next (repeated
 *                           uint64), 5 auto_leave bool (always written)
 *   raftpb.SnapshotMetadata 1 conf_state ConfState, 2 index uint64, 3 term uint64
 *   raftpb.Snapshot         1 data bytes, 2 metadata SnapshotMetadata (always written)
 *   snappb.Snapshot         1 crc uint32, 2 data bytes
 */

/** Input etcd never writes or that does not parse as the expected message. */
export class EtcdProtoError extends Error {
  override name = "EtcdProtoError";
}

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_BYTES = 2;
const WIRE_32BIT = 5;

/** Appends protobuf fields to a growing list of chunks. */
class ProtoWriter {
  private readonly parts: number[] = [];
  private readonly chunks: Uint8Array[] = [];

  varint(field: number, value: bigint | number): this {
    this.key(field, WIRE_VARINT);
    this.rawVarint(BigInt.asUintN(64, BigInt(value)));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_BYTES);
    this.rawVarint(BigInt(value.length));
    this.flushParts();
    this.chunks.push(value);
    return this;
  }

  /** Writes `value` only when present (gogoproto's nil check for bytes fields). */
  optionalBytes(field: number, value: Uint8Array | undefined): this {
    return value === undefined ? this : this.bytes(field, value);
  }

  finish(): Uint8Array {
    this.flushParts();
    return Buffer.concat(this.chunks);
  }

  private key(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  private rawVarint(value: bigint): void {
    let v = value;
    while (v > 0x7fn) {
      this.parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.parts.push(Number(v));
  }

  private flushParts(): void {
    if (this.parts.length === 0) return;
    this.chunks.push(Uint8Array.from(this.parts));
    this.parts.length = 0;
  }
}

/** One decoded field: varints as bigint, length-delimited fields as bytes. */
type Field = { field: number; varint: bigint } | { field: number; bytes: Uint8Array };

/** Splits a message into its fields; fixed-width fields (never used by these messages) are refused. */
function readFields(buf: Uint8Array, message: string): Field[] {
  const fields: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (at >= buf.length) throw new EtcdProtoError(`${message}: truncated varint`);
      const byte = buf[at++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new EtcdProtoError(`${message}: varint longer than 10 bytes`);
  };
  while (at < buf.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new EtcdProtoError(`${message}: field number 0`);
    if (wire === WIRE_VARINT) fields.push({ field, varint: varint() });
    else if (wire === WIRE_BYTES) {
      const length = Number(varint());
      if (at + length > buf.length) throw new EtcdProtoError(`${message}: field ${field} runs past the end`);
      fields.push({ field, bytes: buf.subarray(at, at + length) });
      at += length;
    } else if (wire === WIRE_64BIT || wire === WIRE_32BIT) {
      throw new EtcdProtoError(`${message}: unexpected fixed-width field ${field}`);
    } else throw new EtcdProtoError(`${message}: bad wire type ${wire} for field ${field}`);
  }
  return fields;
}

function varintOf(fields: Field[], field: number): bigint {
  let value = 0n;
  for (const f of fields) if (f.field === field && "varint" in f) value = f.varint;
  return value;
}

function bytesOf(fields: Field[], field: number): Uint8Array | undefined {
  let value: Uint8Array | undefined;
  for (const f of fields) if (f.field === field && "bytes" in f) value = f.bytes;
  return value;
}

function repeatedVarint(fields: Field[], field: number): bigint[] {
  return fields.filter((f): f is { field: number; varint: bigint } => f.field === field && "varint" in f).map((f) => f.varint);
}

// ---------------------------------------------------------------------------------------------
// walpb
// ---------------------------------------------------------------------------------------------

/** walpb.Record: one WAL record before framing. */
export interface WalRecord {
  type: number;
  crc: number;
  data: Uint8Array | undefined;
}

export function encodeWalRecord(record: WalRecord): Uint8Array {
  return new ProtoWriter().varint(1, record.type).varint(2, record.crc).optionalBytes(3, record.data).finish();
}

export function decodeWalRecord(buf: Uint8Array): WalRecord {
  const fields = readFields(buf, "walpb.Record");
  return { type: Number(BigInt.asIntN(64, varintOf(fields, 1))), crc: Number(varintOf(fields, 2) & 0xffffffffn), data: bytesOf(fields, 3) };
}

/** walpb.Snapshot: the raft index and term of a snapshot the WAL has been cut at. */
export interface WalSnapshot {
  index: bigint;
  term: bigint;
}

export function encodeWalSnapshot(snapshot: WalSnapshot): Uint8Array {
  return new ProtoWriter().varint(1, snapshot.index).varint(2, snapshot.term).finish();
}

export function decodeWalSnapshot(buf: Uint8Array): WalSnapshot {
  const fields = readFields(buf, "walpb.Snapshot");
  return { index: varintOf(fields, 1), term: varintOf(fields, 2) };
}

// ---------------------------------------------------------------------------------------------
// etcdserverpb.Metadata (the WAL's metadata record)
// ---------------------------------------------------------------------------------------------

export interface WalMetadata {
  nodeId: bigint;
  clusterId: bigint;
}

export function encodeWalMetadata(metadata: WalMetadata): Uint8Array {
  return new ProtoWriter().varint(1, metadata.nodeId).varint(2, metadata.clusterId).finish();
}

export function decodeWalMetadata(buf: Uint8Array): WalMetadata {
  const fields = readFields(buf, "etcdserverpb.Metadata");
  return { nodeId: varintOf(fields, 1), clusterId: varintOf(fields, 2) };
}

// ---------------------------------------------------------------------------------------------
// raftpb
// ---------------------------------------------------------------------------------------------

/** raftpb.EntryType. */
export const ENTRY_NORMAL = 0;
export const ENTRY_CONF_CHANGE = 1;
/** raftpb.ConfChangeType. */
export const CONF_CHANGE_ADD_NODE = 0;

export interface RaftEntry {
  type: number;
  term: bigint;
  index: bigint;
  data: Uint8Array | undefined;
}

export function encodeRaftEntry(entry: RaftEntry): Uint8Array {
  return new ProtoWriter().varint(1, entry.type).varint(2, entry.term).varint(3, entry.index).optionalBytes(4, entry.data).finish();
}

export function decodeRaftEntry(buf: Uint8Array): RaftEntry {
  const fields = readFields(buf, "raftpb.Entry");
  return { type: Number(varintOf(fields, 1)), term: varintOf(fields, 2), index: varintOf(fields, 3), data: bytesOf(fields, 4) };
}

export interface RaftHardState {
  term: bigint;
  vote: bigint;
  commit: bigint;
}

export function encodeRaftHardState(state: RaftHardState): Uint8Array {
  return new ProtoWriter().varint(1, state.term).varint(2, state.vote).varint(3, state.commit).finish();
}

export function decodeRaftHardState(buf: Uint8Array): RaftHardState {
  const fields = readFields(buf, "raftpb.HardState");
  return { term: varintOf(fields, 1), vote: varintOf(fields, 2), commit: varintOf(fields, 3) };
}

export interface RaftConfChange {
  id: bigint;
  type: number;
  nodeId: bigint;
  context: Uint8Array | undefined;
}

export function encodeRaftConfChange(change: RaftConfChange): Uint8Array {
  return new ProtoWriter().varint(1, change.id).varint(2, change.type).varint(3, change.nodeId).optionalBytes(4, change.context).finish();
}

export function decodeRaftConfChange(buf: Uint8Array): RaftConfChange {
  const fields = readFields(buf, "raftpb.ConfChange");
  return { id: varintOf(fields, 1), type: Number(varintOf(fields, 2)), nodeId: varintOf(fields, 3), context: bytesOf(fields, 4) };
}

export interface RaftConfState {
  voters: bigint[];
  learners: bigint[];
  votersOutgoing: bigint[];
  learnersNext: bigint[];
  autoLeave: boolean;
}

function encodeConfState(state: RaftConfState): Uint8Array {
  const writer = new ProtoWriter();
  for (const id of state.voters) writer.varint(1, id);
  for (const id of state.learners) writer.varint(2, id);
  for (const id of state.votersOutgoing) writer.varint(3, id);
  for (const id of state.learnersNext) writer.varint(4, id);
  return writer.varint(5, state.autoLeave ? 1 : 0).finish();
}

function decodeConfState(buf: Uint8Array): RaftConfState {
  const fields = readFields(buf, "raftpb.ConfState");
  return {
    voters: repeatedVarint(fields, 1),
    learners: repeatedVarint(fields, 2),
    votersOutgoing: repeatedVarint(fields, 3),
    learnersNext: repeatedVarint(fields, 4),
    autoLeave: varintOf(fields, 5) !== 0n,
  };
}

export interface RaftSnapshot {
  data: Uint8Array | undefined;
  index: bigint;
  term: bigint;
  confState: RaftConfState;
}

export function encodeRaftSnapshot(snapshot: RaftSnapshot): Uint8Array {
  const metadata = new ProtoWriter().bytes(1, encodeConfState(snapshot.confState)).varint(2, snapshot.index).varint(3, snapshot.term).finish();
  return new ProtoWriter().optionalBytes(1, snapshot.data).bytes(2, metadata).finish();
}

export function decodeRaftSnapshot(buf: Uint8Array): RaftSnapshot {
  const fields = readFields(buf, "raftpb.Snapshot");
  const metadata = readFields(bytesOf(fields, 2) ?? new Uint8Array(0), "raftpb.SnapshotMetadata");
  return {
    data: bytesOf(fields, 1),
    confState: decodeConfState(bytesOf(metadata, 1) ?? new Uint8Array(0)),
    index: varintOf(metadata, 2),
    term: varintOf(metadata, 3),
  };
}

// ---------------------------------------------------------------------------------------------
// snappb
// ---------------------------------------------------------------------------------------------

/** snappb.Snapshot: a .snap file's whole content. */
export interface SnapFileRecord {
  crc: number;
  data: Uint8Array | undefined;
}

export function encodeSnapFileRecord(record: SnapFileRecord): Uint8Array {
  return new ProtoWriter().varint(1, record.crc).optionalBytes(2, record.data).finish();
}

export function decodeSnapFileRecord(buf: Uint8Array): SnapFileRecord {
  const fields = readFields(buf, "snappb.Snapshot");
  return { crc: Number(varintOf(fields, 1) & 0xffffffffn), data: bytesOf(fields, 2) };
}
