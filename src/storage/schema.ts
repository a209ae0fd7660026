/**
 * Cairn's storage schema: every bucket (keyspace), every fixed key and every byte layout that the
 * MVCC store, the lessor, the membership store and the WAL put on disk, documented beside its
 * constant.
 *
 * The backend layout is etcd 3.4's, byte for byte, so that (a) `HashKV` over the "key" bucket equals
 * etcd's and (b) the snapshot exporter (src/storage/bbolt) can copy buckets into an etcd `db` file
 * without translation. The WAL layout (at the end of this file) is Cairn's own; etcd's WAL, .snap
 * and v2-store layouts, which `cairnctl snapshot restore` writes into etcd data directories, are
 * documented in src/storage/etcd/ (wal.ts, snap.ts, proto.ts, v2store.ts, bootstrap.ts).
 *
 * Integers that etcd stores as int64 but that stay far below 2^53 (revisions, versions, TTLs, log
 * indexes) are JavaScript numbers here; 64-bit identifiers (lease IDs, member IDs) are bigints.
 */

// ---------------------------------------------------------------------------------------------
// Buckets. etcd 3.4 creates these bbolt buckets; names are the ASCII bytes shown.
// ---------------------------------------------------------------------------------------------

/** MVCC key-value history: revision key (below) → protobuf mvccpb.KeyValue. */
export const KEY_BUCKET = "key";
/** MVCC and server bookkeeping: consistent index and compaction revisions (see META_* keys). */
export const META_BUCKET = "meta";
/** Leases: 8-byte big-endian lease ID → protobuf leasepb.Lease. */
export const LEASE_BUCKET = "lease";
/** Cluster members: member ID as lower-case hex without padding → JSON member (see encodeMemberJson). */
export const MEMBERS_BUCKET = "members";
/** Removed members: member ID as lower-case hex → the 7 ASCII bytes "removed". */
export const MEMBERS_REMOVED_BUCKET = "members_removed";
/** Cluster-wide settings: "clusterVersion" → semver text such as "3.4.0". */
export const CLUSTER_BUCKET = "cluster";
/**
 * Raised alarms, as etcd 3.4's v3alarm store keeps them: the key is the protobuf-encoded
 * etcdserverpb.AlarmMember (field 1 memberID varint, field 2 alarm varint, zero fields omitted;
 * e.g. member 0x8e9e05c52164694d with NOSPACE = 08 cd d2 91 8b d2 b8 81 cf 8e 01 10 01), the value
 * is empty. Written in the same batch as the consistent index of the alarm entry; read before the
 * WAL is replayed on start-up.
 */
export const ALARM_BUCKET = "alarm";
/** Auth settings: "authEnabled" → one byte (1 or 0); "authRevision" → 8-byte big-endian uint64. */
export const AUTH_BUCKET = "auth";
/** Auth users: user name → protobuf authpb.User. */
export const AUTH_USERS_BUCKET = "authUsers";
/** Auth roles: role name → protobuf authpb.Role. */
export const AUTH_ROLES_BUCKET = "authRoles";

/** Every bucket, in the order etcd 3.4 creates them on a new member. */
export const ALL_BUCKETS: readonly string[] = [
  KEY_BUCKET,
  META_BUCKET,
  LEASE_BUCKET,
  MEMBERS_BUCKET,
  MEMBERS_REMOVED_BUCKET,
  CLUSTER_BUCKET,
  ALARM_BUCKET,
  AUTH_BUCKET,
  AUTH_USERS_BUCKET,
  AUTH_ROLES_BUCKET,
];

// ---------------------------------------------------------------------------------------------
// Meta bucket keys.
// ---------------------------------------------------------------------------------------------

/**
 * Index of the last Raft entry whose effects are in the backend: 8-byte big-endian uint64.
 * Written in the same backend transaction as the entry's effects, so after a restart the server
 * skips every entry with index ≤ this value. HashKV ignores it (it hashes only the key bucket).
 */
export const META_CONSISTENT_INDEX = "consistent_index";
/** Revision a compaction was requested at: a 17-byte revision key {main: rev, sub: 0}. */
export const META_SCHEDULED_COMPACT_REV = "scheduledCompactRev";
/** Revision the last finished compaction ran at: a 17-byte revision key {main: rev, sub: 0}. */
export const META_FINISHED_COMPACT_REV = "finishedCompactRev";

/** Cluster bucket key holding the cluster version. */
export const CLUSTER_VERSION_KEY = "clusterVersion";
/** Auth bucket key: one byte, 1 when auth is enabled, 0 when disabled. */
export const AUTH_ENABLED_KEY = "authEnabled";
/** Auth bucket key: 8-byte big-endian uint64 auth revision. */
export const AUTH_REVISION_KEY = "authRevision";
/** Value stored under a member ID in the members_removed bucket. */
export const MEMBER_REMOVED_VALUE = "removed";

// ---------------------------------------------------------------------------------------------
// Revision keys (key bucket).
//
//   offset 0..7   main revision, uint64 big-endian
//   offset 8      '_' (0x5f)
//   offset 9..16  sub revision, uint64 big-endian
//   offset 17     't' (0x74), present only on tombstones (the key was deleted at this revision)
//
// Big-endian makes byte order equal revision order, so the engine's ordered scan is a scan in
// revision order. A normal key is 17 bytes, a tombstone 18.
// ---------------------------------------------------------------------------------------------

/** A point in the key-value history. Changes with the same `main` were applied atomically. */
export interface Revision {
  /** The store revision of one atomic change set (a Put, DeleteRange or whole Txn). */
  main: number;
  /** Position of this change inside its change set, from 0. */
  sub: number;
}

/** Byte length of a revision key without the tombstone mark. */
export const REVISION_KEY_BYTES = 17;
/** Byte length of a tombstone revision key. */
export const TOMBSTONE_REVISION_KEY_BYTES = 18;
/** Separator between main and sub revision. */
export const REVISION_SEPARATOR = 0x5f; // '_'
/** Suffix marking a tombstone. */
export const TOMBSTONE_MARK = 0x74; // 't'

/** Compares two revisions: negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareRevisions(a: Revision, b: Revision): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

/** Encodes a revision key; `tombstone` appends the 't' mark. */
export function encodeRevisionKey(rev: Revision, tombstone = false): Uint8Array {
  const out = new Uint8Array(tombstone ? TOMBSTONE_REVISION_KEY_BYTES : REVISION_KEY_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(rev.main / 2 ** 32));
  view.setUint32(4, rev.main >>> 0);
  out[8] = REVISION_SEPARATOR;
  view.setUint32(9, Math.floor(rev.sub / 2 ** 32));
  view.setUint32(13, rev.sub >>> 0);
  if (tombstone) out[17] = TOMBSTONE_MARK;
  return out;
}

/** Decodes the revision of a 17- or 18-byte revision key (the tombstone mark is ignored). */
export function decodeRevisionKey(key: Uint8Array): Revision {
  if (key.length !== REVISION_KEY_BYTES && key.length !== TOMBSTONE_REVISION_KEY_BYTES) {
    throw new Error(`schema: revision key has ${key.length} bytes, want 17 or 18`);
  }
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return { main: view.getUint32(0) * 2 ** 32 + view.getUint32(4), sub: view.getUint32(9) * 2 ** 32 + view.getUint32(13) };
}

/** Whether a revision key carries the tombstone mark. */
export function isTombstoneKey(key: Uint8Array): boolean {
  return key.length === TOMBSTONE_REVISION_KEY_BYTES && key[17] === TOMBSTONE_MARK;
}

// ---------------------------------------------------------------------------------------------
// Protobuf primitives (proto3 wire format as gogoproto writes it: fields in number order,
// zero-valued scalars and empty bytes omitted, negative int64 as 10-byte two's-complement varint).
// ---------------------------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;

/** Growable byte sink for protobuf encoding. */
class ProtoWriter {
  private buf: Uint8Array;
  private length = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + extra));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  /** Writes a varint; non-negative safe integers take the fast path, others go through BigInt. */
  varint(value: number | bigint): void {
    this.reserve(10);
    if (typeof value === "number" && value >= 0 && Number.isSafeInteger(value)) {
      let v = value;
      while (v >= 0x80) {
        this.buf[this.length++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.buf[this.length++] = v;
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.buf[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.length++] = Number(v);
  }

  /** Writes a varint field unless `value` is zero. */
  int64Field(field: number, value: number | bigint): void {
    if (value === 0 || value === 0n) return;
    this.varint((field << 3) | WIRE_VARINT);
    this.varint(value);
  }

  /** Writes a length-delimited field unless `value` is empty. */
  bytesField(field: number, value: Uint8Array): void {
    if (value.length === 0) return;
    this.varint((field << 3) | WIRE_BYTES);
    this.varint(value.length);
    this.reserve(value.length);
    this.buf.set(value, this.length);
    this.length += value.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Cursor over protobuf bytes; throws on truncated or malformed input. */
class ProtoReader {
  private offset = 0;
  constructor(private readonly buf: Uint8Array) {}

  done(): boolean {
    return this.offset >= this.buf.length;
  }

  /** Reads a varint as int64 (two's complement) in a BigInt. */
  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.buf[this.offset++];
      if (b === undefined) throw new Error("schema: truncated protobuf varint");
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
    }
    throw new Error("schema: protobuf varint longer than 10 bytes");
  }

  /** Reads a varint as a number; exact for values below 2^49, else via BigInt (exact below 2^53). */
  varintNumber(): number {
    const start = this.offset;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.buf[this.offset++];
      if (b === undefined) throw new Error("schema: truncated protobuf varint");
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 0x80;
    }
    this.offset = start;
    return Number(this.varint());
  }

  bytes(): Uint8Array {
    const length = this.varintNumber();
    if (length < 0 || this.offset + length > this.buf.length) throw new Error("schema: truncated protobuf bytes field");
    const out = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** Skips a field of an unknown number so that newer writers stay readable. */
  skip(wireType: number): void {
    if (wireType === WIRE_VARINT) this.varint();
    else if (wireType === WIRE_BYTES) this.bytes();
    else if (wireType === 1) this.offset += 8;
    else if (wireType === 5) this.offset += 4;
    else throw new Error(`schema: unsupported protobuf wire type ${wireType}`);
  }
}

// ---------------------------------------------------------------------------------------------
// mvccpb.KeyValue (key bucket value).
//
//   1 key             bytes
//   2 create_revision int64 varint
//   3 mod_revision    int64 varint
//   4 version         int64 varint
//   5 value           bytes
//   6 lease           int64 varint
//
// A tombstone's value is a KeyValue with only `key` set.
// ---------------------------------------------------------------------------------------------

/** One version of a key, as stored in the key bucket and returned by Range. */
export interface KeyValue {
  key: Uint8Array;
  /** Revision of the put that created this generation of the key. */
  createRevision: number;
  /** Revision of the put that wrote this version. */
  modRevision: number;
  /** Number of puts in this generation so far, from 1; 0 on a tombstone. */
  version: number;
  value: Uint8Array;
  /** Lease the key is attached to, 0n for none. */
  lease: bigint;
}

/** Encodes a KeyValue exactly as etcd 3.4's gogoproto marshaler does. */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  const w = new ProtoWriter(kv.key.length + kv.value.length + 40);
  w.bytesField(1, kv.key);
  w.int64Field(2, kv.createRevision);
  w.int64Field(3, kv.modRevision);
  w.int64Field(4, kv.version);
  w.bytesField(5, kv.value);
  w.int64Field(6, kv.lease);
  return w.finish();
}

/** Decodes a KeyValue; byte fields are views into `buf`. */
export function decodeKeyValue(buf: Uint8Array): KeyValue {
  const r = new ProtoReader(buf);
  const kv: KeyValue = { key: new Uint8Array(0), createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0n };
  while (!r.done()) {
    const tag = r.varintNumber();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === WIRE_BYTES) kv.key = r.bytes();
    else if (field === 2 && wireType === WIRE_VARINT) kv.createRevision = r.varintNumber();
    else if (field === 3 && wireType === WIRE_VARINT) kv.modRevision = r.varintNumber();
    else if (field === 4 && wireType === WIRE_VARINT) kv.version = r.varintNumber();
    else if (field === 5 && wireType === WIRE_BYTES) kv.value = r.bytes();
    else if (field === 6 && wireType === WIRE_VARINT) kv.lease = r.varint();
    else r.skip(wireType);
  }
  return kv;
}

// ---------------------------------------------------------------------------------------------
// leasepb.Lease (lease bucket value); key = 8-byte big-endian lease ID.
//
//   1 ID           int64 varint
//   2 TTL          int64 varint (seconds, as granted)
//   3 RemainingTTL int64 varint (seconds left at the last checkpoint; 0 when never checkpointed)
// ---------------------------------------------------------------------------------------------

/** A lease as persisted by the lessor. */
export interface LeaseRecord {
  id: bigint;
  ttlSeconds: number;
  remainingTtlSeconds: number;
}

/** Encodes the lease bucket key: the lease ID as 8-byte big-endian int64. */
export function encodeLeaseKey(id: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, id);
  return out;
}

/** Decodes a lease bucket key. */
export function decodeLeaseKey(key: Uint8Array): bigint {
  if (key.length !== 8) throw new Error(`schema: lease key has ${key.length} bytes, want 8`);
  return new DataView(key.buffer, key.byteOffset, 8).getBigInt64(0);
}

/** Encodes a leasepb.Lease as etcd's gogoproto marshaler does. */
export function encodeLease(lease: LeaseRecord): Uint8Array {
  const w = new ProtoWriter();
  w.int64Field(1, lease.id);
  w.int64Field(2, lease.ttlSeconds);
  w.int64Field(3, lease.remainingTtlSeconds);
  return w.finish();
}

/** Decodes a leasepb.Lease. */
export function decodeLease(buf: Uint8Array): LeaseRecord {
  const r = new ProtoReader(buf);
  const lease: LeaseRecord = { id: 0n, ttlSeconds: 0, remainingTtlSeconds: 0 };
  while (!r.done()) {
    const tag = r.varintNumber();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === WIRE_VARINT) lease.id = r.varint();
    else if (field === 2 && wireType === WIRE_VARINT) lease.ttlSeconds = Number(r.varint());
    else if (field === 3 && wireType === WIRE_VARINT) lease.remainingTtlSeconds = Number(r.varint());
    else r.skip(wireType);
  }
  return lease;
}

// ---------------------------------------------------------------------------------------------
// etcdserverpb.AlarmMember (alarm bucket key; the value is empty).
//
//   1 memberID uint64 varint
//   2 alarm    enum varint (0 NONE, 1 NOSPACE, 2 CORRUPT)
// ---------------------------------------------------------------------------------------------

/** A raised alarm: which member, which kind (etcdserverpb.AlarmType number). */
export interface AlarmRecord {
  memberId: bigint;
  alarm: number;
}

/** Encodes an alarm bucket key. */
export function encodeAlarmKey(alarm: AlarmRecord): Uint8Array {
  const w = new ProtoWriter();
  w.int64Field(1, alarm.memberId);
  w.int64Field(2, alarm.alarm);
  return w.finish();
}

/** Decodes an alarm bucket key. */
export function decodeAlarmKey(buf: Uint8Array): AlarmRecord {
  const r = new ProtoReader(buf);
  const alarm: AlarmRecord = { memberId: 0n, alarm: 0 };
  while (!r.done()) {
    const tag = r.varintNumber();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === WIRE_VARINT) alarm.memberId = BigInt.asUintN(64, r.varint());
    else if (field === 2 && wireType === WIRE_VARINT) alarm.alarm = Number(r.varint());
    else r.skip(wireType);
  }
  return alarm;
}

// ---------------------------------------------------------------------------------------------
// Members bucket. Key: member ID as lower-case hex without leading zeros (Go's types.ID.String()).
// Value: Go's encoding/json of membership.Member, fields in this order, omitempty where noted:
//   {"id":<uint64 decimal>,"peerURLs":[...],"isLearner":true (omitted when false),
//    "name":"..." (omitted when empty),"clientURLs":[...] (omitted when empty)}
// ---------------------------------------------------------------------------------------------

/** A cluster member as stored in the members bucket. */
export interface MemberRecord {
  id: bigint;
  peerUrls: string[];
  isLearner: boolean;
  name: string;
  clientUrls: string[];
}

/** Encodes a members bucket key (Go's types.ID.String()). */
export function encodeMemberKey(id: bigint): Uint8Array {
  return new TextEncoder().encode(BigInt.asUintN(64, id).toString(16));
}

/** Encodes a member as Go's json.Marshal(membership.Member) does (HTML-safe escaping aside). */
export function encodeMemberJson(member: MemberRecord): Uint8Array {
  let text = `{"id":${BigInt.asUintN(64, member.id).toString(10)},"peerURLs":${JSON.stringify(member.peerUrls)}`;
  if (member.isLearner) text += `,"isLearner":true`;
  if (member.name !== "") text += `,"name":${JSON.stringify(member.name)}`;
  if (member.clientUrls.length > 0) text += `,"clientURLs":${JSON.stringify(member.clientUrls)}`;
  return new TextEncoder().encode(text + "}");
}

/** Decodes a member JSON value (the ID is parsed exactly, beyond 2^53). */
export function decodeMemberJson(buf: Uint8Array): MemberRecord {
  const text = new TextDecoder().decode(buf);
  const idMatch = /"id":\s*(\d+)/.exec(text);
  if (idMatch === null || idMatch[1] === undefined) throw new Error("schema: member JSON has no id");
  const parsed = JSON.parse(text) as { peerURLs?: string[]; isLearner?: boolean; name?: string; clientURLs?: string[] };
  return {
    id: BigInt(idMatch[1]),
    peerUrls: parsed.peerURLs ?? [],
    isLearner: parsed.isLearner ?? false,
    name: parsed.name ?? "",
    clientUrls: parsed.clientURLs ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// Fixed-width integers used by meta and auth keys.
// ---------------------------------------------------------------------------------------------

/** Encodes an unsigned integer as 8-byte big-endian (consistent_index, authRevision). */
export function encodeUint64(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** Decodes an 8-byte big-endian unsigned integer. */
export function decodeUint64(buf: Uint8Array): number {
  if (buf.length !== 8) throw new Error(`schema: uint64 value has ${buf.length} bytes, want 8`);
  return Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0));
}

// ---------------------------------------------------------------------------------------------
// WAL (Cairn's own format; etcd's WAL format is in src/storage/etcd/wal.ts).
//
// Directory: segment files named `<seq:16 hex>-<firstIndex:16 hex>.wal`, where `seq` counts
// segments from 0 and `firstIndex` is the index the next entry had when the segment was cut
// (a later Raft log truncation may still write smaller indexes into it). A new segment is
// written as `<name>.tmp`, filled with zeros to the segment size, fsynced, renamed, and the
// directory fsynced, so a segment file always has its full preallocated length.
//
// Segment = a sequence of records, then zeros to the end of the file. Record layout (little-endian):
//
//   offset 0   u32  payloadLength   bytes of payload (not counting this 12-byte header)
//   offset 4   u32  crc             CRC-32 (IEEE, zlib's) of (type ‖ payload), continued from the
//                                   previous record's crc (zlib.crc32(data, previousCrc)); the
//                                   segment header record starts its own chain from 0
//   offset 8   u8   type            WAL_RECORD_* below
//   offset 9   u8[3] reserved, zero
//   offset 12  payload
//   then 0–7 zero bytes of padding so the next record starts 8-byte aligned.
//
// An all-zero header marks the end of the written part (the preallocated zeros). Chaining each
// CRC to the previous one makes a stale or reordered record fail its check, and each segment
// header names the last crc of the previous segment (`chainCrc`), so a segment that lost records
// at its end is detected when the next segment is read.
//
// Every segment starts with: SEGMENT_HEADER, METADATA, then the latest HARD_STATE and SNAPSHOT
// marker known when the segment was cut, so that older segments can be deleted freely.
//
// Payloads (little-endian):
//   SEGMENT_HEADER   u64 seq, u64 firstIndex, u32 chainCrc (last crc of the previous segment)
//   ENTRY            u64 term, u64 index, u8 entryType, then the entry data to the end
//   HARD_STATE       u64 term, u64 vote (uint64), u64 commit
//   SNAPSHOT         u64 index, u64 term, u32 voterCount, voters u64…, u32 learnerCount, learners u64…
//                    (a marker: the application's snapshot data lives in the backend, not the WAL)
//   METADATA         opaque bytes given when the WAL was created (e.g. node and cluster ID)
//
// Reading: a bad record (short, bad length, bad crc) in the last segment is a torn write and is
// cut off (zeroed and synced) when everything after it is zero, or when the record contains a
// zeroed 512-byte sector and the next record does not chain from its stored CRC; anywhere else it
// is corruption and the WAL refuses to open, naming the file and offset. Known limit (shared with
// etcd): a bit flip in the very last record of the log is indistinguishable from a torn write. Entries with an index already seen replace the earlier ones from that index on (a Raft
// log truncation).
// ---------------------------------------------------------------------------------------------

/** WAL record types (the byte at offset 8 of a record header). */
export const WAL_RECORD_SEGMENT_HEADER = 1;
export const WAL_RECORD_ENTRY = 2;
export const WAL_RECORD_HARD_STATE = 3;
export const WAL_RECORD_SNAPSHOT = 4;
export const WAL_RECORD_METADATA = 5;
/** Bytes in a WAL record header. */
export const WAL_RECORD_HEADER_BYTES = 12;
/** Records start at multiples of this many bytes. */
export const WAL_RECORD_ALIGN_BYTES = 8;
/** Default preallocated segment size, as etcd's (64 MiB). */
export const WAL_DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Largest payload a WAL record may carry; bigger length fields are corruption. */
export const WAL_MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;
