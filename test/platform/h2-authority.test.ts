/**
 * The `:authority` repair on the HTTP/2 read path: the HPACK Huffman code against RFC 7541's
 * examples, and the byte-stream rewriter against a small independent HPACK encoder and decoder
 * (with a dynamic table): random header lists, with and without Huffman, padding, priority,
 * CONTINUATIONs and interleaved frames, cut at random chunk boundaries, must decode to the same
 * header lists except for repaired authorities (fast-check, fixed seed).
 */
import test from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { huffmanCodeOf, huffmanDecode, huffmanEncode } from "../../src/platform/hpack-huffman.js";
import {
  AuthorityRewriter,
  MAX_HEADER_BLOCK_BYTES,
  isValidAuthority,
  repairAuthority,
  repairHeaderBlock,
  writeInteger,
} from "../../src/platform/h2-authority.js";

const SEED = 20261123;

// ---- Huffman ----

test("huffman: codes match RFC 7541 Appendix B samples", () => {
  const samples: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [32, 0x14, 6], // ' '
    [47, 0x18, 6], // '/'
    [48, 0x0, 5], // '0'
    [64, 0x1ffa, 13], // '@'
    [97, 0x3, 5], // 'a'
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30], // EOS
  ];
  for (const [symbol, code, bits] of samples) assert.deepEqual(huffmanCodeOf(symbol), { code, bits }, `symbol ${symbol}`);
});

test("huffman: RFC 7541 Appendix C.4 strings encode and decode", () => {
  const vectors: [string, string][] = [
    ["www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"],
    ["no-cache", "a8eb10649cbf"],
    ["custom-key", "25a849e95ba97d7f"],
    ["custom-value", "25a849e95bb8e8b4bf"],
  ];
  for (const [text, hex] of vectors) {
    assert.equal(huffmanEncode(Buffer.from(text, "latin1")).toString("hex"), hex);
    assert.equal(huffmanDecode(Buffer.from(hex, "hex"))?.toString("latin1"), text);
  }
});

test("huffman: every byte string round-trips", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      assert.deepEqual(huffmanDecode(huffmanEncode(bytes)), Buffer.from(bytes));
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test("huffman: invalid padding and EOS are refused, garbage never throws", () => {
  assert.equal(huffmanDecode(Buffer.from([0xff])), undefined, "8 bits of padding");
  assert.equal(huffmanDecode(Buffer.from([0x00])), undefined, "'0' then padding of zeros");
  assert.equal(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xfc])), undefined, "EOS inside the string");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const decoded = huffmanDecode(bytes);
      if (decoded !== undefined) assert.deepEqual(huffmanEncode(decoded), Buffer.from(bytes));
    }),
    { seed: SEED, numRuns: 5000 },
  );
});

// ---- A small independent HPACK encoder and decoder (RFC 7541) ----

const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""],
];

/** Header names and values are octets; latin1 strings keep them one char per byte. */
type Field = readonly [name: string, value: string];

/** The dynamic table both sides keep: newest first, evicting by name+value+32 octets. */
class DynamicTable {
  entries: Field[] = [];
  size = 0;
  constructor(public maxSize: number) {}
  add(field: Field): void {
    this.entries.unshift(field);
    this.size += entrySize(field);
    this.evict();
  }
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evict();
  }
  private evict(): void {
    while (this.size > this.maxSize) this.size -= entrySize(this.entries.pop() ?? ["", ""]);
  }
  get(index: number): Field | undefined {
    if (index >= 1 && index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    return this.entries[index - STATIC_TABLE.length - 1];
  }
}

function entrySize([name, value]: Field): number {
  return name.length + value.length + 32;
}

type Indexing = "incremental" | "without" | "never";
type NameChoice = { kind: "static"; index: number } | { kind: "dynamic"; pick: number } | { kind: "literal"; name: string; huffman: boolean };
type Op =
  | { kind: "indexed"; pick: number }
  | { kind: "literal"; indexing: Indexing; name: NameChoice; value: string; huffman: boolean }
  | { kind: "sizeUpdate"; size: number };

function encodeTestString(out: number[], text: string, huffman: boolean): void {
  const raw = Buffer.from(text, "latin1");
  const bytes = huffman ? huffmanEncode(raw) : raw;
  writeInteger(out, bytes.length, 7, huffman ? 0x80 : 0);
  out.push(...bytes);
}

/** Encodes ops into one header block, returning the header list a decoder must produce. */
function encodeBlock(table: DynamicTable, ops: readonly Op[]): { block: Buffer; fields: Field[] } {
  const out: number[] = [];
  const fields: Field[] = [];
  for (const op of ops) {
    if (op.kind === "sizeUpdate") {
      writeInteger(out, op.size, 5, 0x20);
      table.resize(op.size);
    } else if (op.kind === "indexed") {
      const index = 1 + (op.pick % (STATIC_TABLE.length + table.entries.length));
      writeInteger(out, index, 7, 0x80);
      fields.push(table.get(index) ?? ["", ""]);
    } else {
      const [prefixBits, flags] = op.indexing === "incremental" ? [6, 0x40] : op.indexing === "without" ? [4, 0] : [4, 0x10];
      let name: string;
      let nameChoice = op.name;
      if (nameChoice.kind === "dynamic") {
        const entry = table.entries[nameChoice.pick % Math.max(1, table.entries.length)];
        // The rewriter only knows `:authority` by static index or literal name, as real encoders
        // (Go, nghttp2) name it: they search the static table first.
        if (entry === undefined || entry[0] === ":authority") nameChoice = { kind: "static", index: 1 };
      }
      if (nameChoice.kind === "static") {
        writeInteger(out, nameChoice.index, prefixBits, flags);
        name = STATIC_TABLE[nameChoice.index - 1]?.[0] ?? "";
      } else if (nameChoice.kind === "dynamic") {
        const position = nameChoice.pick % table.entries.length;
        writeInteger(out, STATIC_TABLE.length + 1 + position, prefixBits, flags);
        name = table.entries[position]?.[0] ?? "";
      } else {
        writeInteger(out, 0, prefixBits, flags);
        encodeTestString(out, nameChoice.name, nameChoice.huffman);
        name = nameChoice.name;
      }
      encodeTestString(out, op.value, op.huffman);
      const field: Field = [name, op.value];
      fields.push(field);
      if (op.indexing === "incremental") table.add(field);
    }
  }
  return { block: Buffer.from(out), fields };
}

function readTestInteger(block: Buffer, at: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = (block[at] ?? 0) & max;
  let next = at + 1;
  if (value < max) return [value, next];
  for (let shift = 0; ; shift += 7) {
    const byte = block[next++];
    assert.ok(byte !== undefined, "truncated integer");
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, next];
  }
}

function readTestString(block: Buffer, at: number): [string, number] {
  const [length, start] = readTestInteger(block, at, 7);
  const raw = block.subarray(start, start + length);
  const bytes = (block[at] ?? 0) & 0x80 ? huffmanDecode(raw) : raw;
  assert.ok(bytes !== undefined, "bad huffman");
  return [bytes.toString("latin1"), start + length];
}

/** Decodes one header block with the decoder's dynamic table. */
function decodeBlock(table: DynamicTable, block: Buffer): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < block.length) {
    const first = block[at] ?? 0;
    if (first & 0x80) {
      const [index, next] = readTestInteger(block, at, 7);
      const field = table.get(index);
      assert.ok(field !== undefined, `index ${index} out of range`);
      fields.push(field);
      at = next;
    } else if ((first & 0xe0) === 0x20) {
      const [size, next] = readTestInteger(block, at, 5);
      table.resize(size);
      at = next;
    } else {
      const incremental = (first & 0xc0) === 0x40;
      const [nameIndex, afterIndex] = readTestInteger(block, at, incremental ? 6 : 4);
      let name: string;
      if (nameIndex === 0) [name, at] = readTestString(block, afterIndex);
      else {
        name = table.get(nameIndex)?.[0] ?? assert.fail(`name index ${nameIndex} out of range`);
        at = afterIndex;
      }
      let value: string;
      [value, at] = readTestString(block, at);
      fields.push([name, value]);
      if (incremental) table.add([name, value]);
    }
  }
  return fields;
}

// ---- HTTP/2 framing for the tests ----

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

function frame(type: number, flags: number, streamId: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

interface BlockFraming {
  padLength: number | undefined;
  priority: boolean;
  endStream: boolean;
  /** Cut points (fractions of the block) where CONTINUATION frames start. */
  cuts: number[];
}

function headerFrames(streamId: number, block: Buffer, framing: BlockFraming): Buffer {
  const cuts = [...new Set(framing.cuts.map((c) => Math.floor(c * block.length)))].filter((c) => c > 0 && c < block.length).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, block.length]) {
    pieces.push(block.subarray(from, cut));
    from = cut;
  }
  const frames: Buffer[] = [];
  pieces.forEach((piece, i) => {
    const last = i === pieces.length - 1;
    if (i === 0) {
      let flags = (framing.endStream ? 0x1 : 0) | (last ? 0x4 : 0);
      const parts: Buffer[] = [];
      if (framing.padLength !== undefined) {
        flags |= 0x8;
        parts.push(Buffer.from([framing.padLength]));
      }
      if (framing.priority) {
        flags |= 0x20;
        parts.push(Buffer.from([0x80, 0, 0, 3, 200]));
      }
      parts.push(piece, Buffer.alloc(framing.padLength ?? 0));
      frames.push(frame(0x1, flags, streamId, Buffer.concat(parts)));
    } else {
      frames.push(frame(0x9, last ? 0x4 : 0, streamId, piece));
    }
  });
  return Buffer.concat(frames);
}

/** What a connection carried, decoded: header lists with their stream and flags, other frames raw. */
interface Decoded {
  headers: { streamId: number; endStream: boolean; priority: string; fields: Field[] }[];
  others: string[];
}

function decodeConnection(bytes: Buffer, tableSize: number): Decoded {
  assert.deepEqual(bytes.subarray(0, PREFACE.length), PREFACE);
  const table = new DynamicTable(tableSize);
  const decoded: Decoded = { headers: [], others: [] };
  let at = PREFACE.length;
  let open: { streamId: number; endStream: boolean; priority: string; fragments: Buffer[] } | undefined;
  while (at < bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3] ?? 0;
    const flags = bytes[at + 4] ?? 0;
    const streamId = bytes.readUInt32BE(at + 5);
    let payload = bytes.subarray(at + 9, at + 9 + length);
    assert.equal(payload.length, length, "truncated frame");
    at += 9 + length;
    if (type === 0x1) {
      assert.equal(open, undefined);
      assert.ok(length <= 16_384, "frame larger than the default max frame size");
      let priority = "";
      if (flags & 0x8) payload = payload.subarray(1, payload.length - (payload[0] ?? 0));
      if (flags & 0x20) {
        priority = payload.subarray(0, 5).toString("hex");
        payload = payload.subarray(5);
      }
      open = { streamId, endStream: (flags & 0x1) !== 0, priority, fragments: [payload] };
    } else if (type === 0x9) {
      assert.ok(open !== undefined && open.streamId === streamId);
      open.fragments.push(payload);
    } else {
      assert.equal(open, undefined, "frame inside a header block");
      decoded.others.push(`${type}/${flags}/${streamId}/${payload.toString("hex")}`);
    }
    if ((type === 0x1 || type === 0x9) && flags & 0x4 && open !== undefined) {
      const fields = decodeBlock(table, Buffer.concat(open.fragments));
      decoded.headers.push({ streamId: open.streamId, endStream: open.endStream, priority: open.priority, fields });
      open = undefined;
    }
  }
  return decoded;
}

function runRewriter(bytes: Buffer, chunkSizes: readonly number[]): { out: Buffer; rewriter: AuthorityRewriter } {
  const rewriter = new AuthorityRewriter();
  const out: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const size = chunkSizes.length === 0 ? bytes.length : (chunkSizes[i++ % chunkSizes.length] ?? 1);
    out.push(...rewriter.push(bytes.subarray(at, at + size)));
    at += size;
  }
  return { out: Buffer.concat(out), rewriter };
}

// ---- Generators ----

const byteString = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString("latin1"));
const authorityValue = fc.oneof(
  fc.constantFrom("http://127.0.0.1:2379", "https://10.0.0.7:2379", "127.0.0.1:2379", "localhost", "", "unix:///tmp/etcd.sock", "[::1]:2379"),
  fc.string({ maxLength: 40 }),
  byteString(40),
);
const nameChoice: fc.Arbitrary<NameChoice> = fc.oneof(
  { arbitrary: fc.constant<NameChoice>({ kind: "static", index: 1 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 61 }).map((index): NameChoice => ({ kind: "static", index })), weight: 2 },
  { arbitrary: fc.nat().map((pick): NameChoice => ({ kind: "dynamic", pick })), weight: 1 },
  {
    arbitrary: fc
      .record({ name: fc.oneof(fc.constant(":authority"), fc.constant(":authoritx"), fc.constant("grpc-timeout"), byteString(12)), huffman: fc.boolean() })
      .map(({ name, huffman }): NameChoice => ({ kind: "literal", name, huffman })),
    weight: 2,
  },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.nat().map((pick): Op => ({ kind: "indexed", pick })), weight: 2 },
  {
    arbitrary: fc
      .record({
        indexing: fc.constantFrom<Indexing>("incremental", "incremental", "without", "never"),
        name: nameChoice,
        value: fc.oneof(authorityValue, byteString(300)),
        huffman: fc.boolean(),
      })
      .map((r): Op => ({ kind: "literal", ...r })),
    weight: 5,
  },
);
const blockSpec = fc.record({
  sizeUpdate: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
  ops: fc.array(op, { maxLength: 12 }),
  framing: fc.record({
    padLength: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    priority: fc.boolean(),
    endStream: fc.boolean(),
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
  }),
  before: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
});

/** Expected decoding after repair: every `:authority` repaired, everything else identical. */
function repaired(fields: readonly Field[]): Field[] {
  return fields.map(([name, value]) =>
    name === ":authority" ? [name, repairAuthority(Buffer.from(value, "latin1")).toString("latin1")] : [name, value],
  );
}

test("rewriter: header lists survive except repaired authorities, at any chunking", () => {
  fc.assert(
    fc.property(
      fc.array(blockSpec, { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }),
      fc.constantFrom(0, 256, 4096),
      (blocks, chunkSizes, tableSize) => {
        const encoderTable = new DynamicTable(tableSize);
        const parts: Buffer[] = [PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))];
        const expected: Decoded = { headers: [], others: ["4/0/0/"] };
        let anyInvalid = false;
        blocks.forEach((spec, i) => {
          const streamId = 2 * i + 1;
          if (spec.before !== undefined) {
            parts.push(frame(0x0, 0, streamId > 1 ? streamId - 2 : 0, spec.before));
            expected.others.push(`0/0/${streamId > 1 ? streamId - 2 : 0}/${Buffer.from(spec.before).toString("hex")}`);
          }
          const ops: Op[] = spec.sizeUpdate === undefined ? spec.ops : [{ kind: "sizeUpdate", size: Math.min(spec.sizeUpdate, tableSize) }, ...spec.ops];
          const { block, fields } = encodeBlock(encoderTable, ops);
          anyInvalid ||= fields.some(([n, v]) => n === ":authority" && !isValidAuthority(Buffer.from(v, "latin1")));
          parts.push(headerFrames(streamId, block, spec.framing));
          expected.headers.push({
            streamId,
            endStream: spec.framing.endStream,
            priority: spec.framing.priority ? "80000003c8" : "",
            fields: repaired(fields),
          });
        });
        const input = Buffer.concat(parts);
        const { out, rewriter } = runRewriter(input, chunkSizes);
        assert.deepEqual(decodeConnection(out, tableSize), expected);
        if (!anyInvalid) assert.deepEqual(out, input, "nothing to repair: bytes unchanged");
        assert.equal(rewriter.repairedBlocks > 0, anyInvalid);
      },
    ),
    { seed: SEED, numRuns: 1500 },
  );
});

test("rewriter: grpc-go's first request and its indexed reuse both reach the server repaired", () => {
  const table = new DynamicTable(4096);
  const authority = "http://127.0.0.1:2379";
  const first = encodeBlock(table, [
    { kind: "indexed", pick: 2 }, // :method POST
    { kind: "literal", indexing: "incremental", name: { kind: "static", index: 1 }, value: authority, huffman: true },
    { kind: "literal", indexing: "incremental", name: { kind: "static", index: 5 }, value: "/etcdserverpb.Maintenance/Status", huffman: true },
  ]);
  const second = encodeBlock(table, [{ kind: "indexed", pick: 62 }]); // dynamic index 63 = the authority entry
  const input = Buffer.concat([
    PREFACE,
    headerFrames(1, first.block, { padLength: undefined, priority: false, endStream: false, cuts: [] }),
    headerFrames(3, second.block, { padLength: undefined, priority: false, endStream: false, cuts: [] }),
  ]);
  const { out } = runRewriter(input, [7]);
  const decoded = decodeConnection(out, 4096);
  assert.deepEqual(decoded.headers[0]?.fields[1], [":authority", "http:@@127.0.0.1:2379"]);
  assert.deepEqual(decoded.headers[1]?.fields, [[":authority", "http:@@127.0.0.1:2379"]]);
});

test("rewriter: a header block over the limit passes through untouched", () => {
  const table = new DynamicTable(4096);
  const { block } = encodeBlock(table, [
    { kind: "literal", indexing: "without", name: { kind: "static", index: 1 }, value: "http://x", huffman: false },
    { kind: "literal", indexing: "without", name: { kind: "literal", name: "big", huffman: false }, value: "v".repeat(MAX_HEADER_BLOCK_BYTES), huffman: false },
  ]);
  const input = Buffer.concat([PREFACE, headerFrames(1, block, { padLength: undefined, priority: false, endStream: true, cuts: [0.1, 0.3, 0.6] }), frame(0x6, 0, 0, Buffer.alloc(8))]);
  const smallBlock = encodeBlock(table, [{ kind: "literal", indexing: "without", name: { kind: "static", index: 1 }, value: "http://y", huffman: false }]).block;
  const after = headerFrames(3, smallBlock, { padLength: undefined, priority: false, endStream: true, cuts: [] });
  const { out, rewriter } = runRewriter(Buffer.concat([input, after]), [1000]);
  assert.deepEqual(out.subarray(0, input.length), input, "the big block is untouched");
  assert.equal(rewriter.repairedBlocks, 1, "the next block is repaired again");
  assert.deepEqual(decodeConnection(out, 4096).headers[1]?.fields, [[":authority", "http:@@y"]]);
});

test("rewriter: garbage never throws, and passes a prefix of it unchanged unless a block was repaired", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 5 }), (garbage, chunkSizes) => {
      const input = Buffer.concat([PREFACE, garbage]);
      const { out, rewriter } = runRewriter(input, chunkSizes);
      // An incomplete frame at the end is held back, waiting for its remaining bytes.
      if (rewriter.repairedBlocks === 0) assert.deepEqual(out, input.subarray(0, out.length));
      assert.ok(out.length >= PREFACE.length);
    }),
    { seed: SEED, numRuns: 5000 },
  );
});

test("repairHeaderBlock: truncated and malformed blocks are refused, not thrown on", () => {
  assert.equal(repairHeaderBlock(Buffer.from([0x80])), undefined, "indexed 0");
  assert.equal(repairHeaderBlock(Buffer.from([0x41, 0x05, 0x61])), undefined, "value shorter than its length");
  assert.equal(repairHeaderBlock(Buffer.from([0x41, 0x81, 0xff])), undefined, "bad huffman in an authority");
  assert.equal(repairHeaderBlock(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), undefined, "endless integer");
  const ok = Buffer.from([0x82, 0x41, 0x01, 0x61]);
  assert.equal(repairHeaderBlock(ok), ok, "a valid authority leaves the block as is");
});
