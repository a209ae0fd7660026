/**
 * Byte encoding of a ConfChange inside an Entry of type ConfChange, identical to etcd's protobuf
 * raftpb.ConfChange: field 1 ID (varint), 2 Type (varint), 3 NodeID (varint), always written, and
 * 4 Context (length-delimited), written when present. Entries written by etcd decode here and back.
 */
import { ConfChangeType, type ConfChange } from "./types.js";

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out: number[] = [];
  out.push(0x08);
  pushVarint(out, BigInt.asUintN(64, cc.id));
  out.push(0x10);
  pushVarint(out, BigInt(cc.type));
  out.push(0x18);
  pushVarint(out, BigInt.asUintN(64, cc.nodeId));
  if (cc.context.byteLength > 0) {
    out.push(0x22);
    pushVarint(out, BigInt(cc.context.byteLength));
    for (const b of cc.context) out.push(b);
  }
  return Uint8Array.from(out);
}

/** Decodes etcd's raftpb.ConfChange; unknown fields are skipped. Throws on truncated input. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  const cc: ConfChange = { id: 0n, type: ConfChangeType.AddNode, nodeId: 0n, context: new Uint8Array(0) };
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= bytes.byteLength) throw new RangeError("confchange: truncated varint");
      const b = bytes[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new RangeError("confchange: varint too long");
    }
  };
  while (pos < bytes.byteLength) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      const value = readVarint();
      if (field === 1) cc.id = value;
      else if (field === 2) cc.type = Number(value) as ConfChangeType;
      else if (field === 3) cc.nodeId = value;
    } else if (wire === 2) {
      const length = Number(readVarint());
      if (pos + length > bytes.byteLength) throw new RangeError("confchange: truncated bytes");
      if (field === 4) cc.context = bytes.slice(pos, pos + length);
      pos += length;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new RangeError(`confchange: unsupported wire type ${wire}`);
    }
  }
  return cc;
}

function pushVarint(out: number[], value: bigint): void {
  while (value >= 0x80n) {
    out.push(Number(value & 0x7fn) | 0x80);
    value >>= 7n;
  }
  out.push(Number(value));
}
