/**
 * Repairs the `:authority` that some gRPC clients send, before Node's HTTP/2 server sees it.
 *
 * etcdctl 3.4 (grpc-go) dials `--endpoints=http://127.0.0.1:2379` for `endpoint status|health|hashkv`
 * with the whole URL as target, so its HEADERS carry `:authority: http://127.0.0.1:2379`. Go's HTTP/2
 * server takes that; nghttp2 (inside Node, with its messaging checks always on) refuses any byte
 * outside the authority character set and resets the stream with PROTOCOL_ERROR. The server never
 * reads `:authority`, so we rewrite such a value, on the client→server bytes, into a valid one.
 *
 * The rewrite keeps the decoded length of the value: HPACK's dynamic table counts entries by the
 * length of name and value (RFC 7541 §4.1), so a value of another length would make the server's
 * table evict differently from the client's and break every later header block. Same length, and
 * the only difference between the two tables is that the server's copy holds the repaired value,
 * which later indexed references then also get.
 *
 * The parser is a small state machine over the byte stream: the 24-byte preface, then frames (RFC
 * 9113 §4.1). Frames other than HEADERS/CONTINUATION pass through as slices of the input without
 * waiting for their end. A header block (HEADERS plus its CONTINUATIONs) is held until complete, up
 * to MAX_HEADER_BLOCK_BYTES; a larger block is passed through as it comes. Only a block that holds
 * an invalid `:authority` is re-framed; all others leave exactly as they came. Anything that does
 * not parse turns the rewriter into a plain pass-through for the rest of the connection.
 */
import { Duplex } from "node:stream";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from "./hpack-huffman.js";

/** Header blocks larger than this pass through untouched (grpc-js's default max header list size). */
export const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
/**
 * Payload size of re-framed HEADERS/CONTINUATION frames: the smallest SETTINGS_MAX_FRAME_SIZE a peer
 * may announce (RFC 9113 §6.5.2), so every server accepts it.
 */
export const REFRAME_PAYLOAD_BYTES = 16_384;
/** What replaces each byte that nghttp2 refuses in an authority. */
export const AUTHORITY_REPLACEMENT_BYTE = 0x40; // '@'

/** Rewritten pieces of one read are joined into one buffer up to this size (copying is cheap). */
const COALESCE_MAX_BYTES = 64 * 1024;
const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const FRAME_HEADERS = 0x1;
const FRAME_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** Stream dependency (4 bytes) and weight (1 byte) that a HEADERS frame with PRIORITY carries. */
const PRIORITY_FIELD_BYTES = 5;
/** HPACK static table index of `:authority` (RFC 7541 Appendix A). */
const STATIC_INDEX_AUTHORITY = 1;
const AUTHORITY_NAME = Buffer.from(":authority", "latin1");
/** HPACK integers longer than this many continuation bytes are treated as garbage. */
const MAX_INTEGER_CONTINUATION_BYTES = 4;

/** Bytes nghttp2 accepts in `:authority`: `!$&'()*+,-.0-9:;=@A-Z[]_a-z~` and `%`. */
const AUTHORITY_BYTE_ALLOWED: Uint8Array = (() => {
  const allowed = new Uint8Array(256);
  for (const char of "!$&'()*+,-.:;=@[]_~%") allowed[char.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) allowed[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) allowed[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) allowed[c] = 1;
  return allowed;
})();

/** Whether nghttp2 would accept `value` as `:authority`. */
export function isValidAuthority(value: Uint8Array): boolean {
  for (const byte of value) if (AUTHORITY_BYTE_ALLOWED[byte] !== 1) return false;
  return true;
}

/** The value with every refused byte replaced: same length, always valid. */
export function repairAuthority(value: Uint8Array): Buffer {
  const out = Buffer.from(value);
  for (let i = 0; i < out.length; i++) {
    if (AUTHORITY_BYTE_ALLOWED[out[i] ?? 0] !== 1) out[i] = AUTHORITY_REPLACEMENT_BYTE;
  }
  return out;
}

// ---- HPACK (RFC 7541 §5, §6): just enough to find and replace `:authority` literals ----

/** A decoded HPACK integer and where the next field starts; undefined when it does not parse. */
function readInteger(block: Uint8Array, at: number, prefixBits: number): { value: number; next: number } | undefined {
  const first = block[at];
  if (first === undefined) return undefined;
  const max = (1 << prefixBits) - 1;
  let value = first & max;
  let next = at + 1;
  if (value < max) return { value, next };
  for (let shift = 0; shift <= 7 * MAX_INTEGER_CONTINUATION_BYTES; shift += 7) {
    const byte = block[next++];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value, next };
  }
  return undefined;
}

/** Appends an HPACK integer with the given prefix size; `flags` fills the bits above the prefix. */
export function writeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** An HPACK string literal (§5.2) found in a block. */
interface StringField {
  huffman: boolean;
  /** Where the string's bytes (after the length prefix) start and end. */
  dataStart: number;
  dataEnd: number;
}

function readString(block: Uint8Array, at: number): StringField | undefined {
  const first = block[at];
  if (first === undefined) return undefined;
  const length = readInteger(block, at, 7);
  if (length === undefined || length.next + length.value > block.length) return undefined;
  return { huffman: (first & 0x80) !== 0, dataStart: length.next, dataEnd: length.next + length.value };
}

function stringBytes(block: Uint8Array, field: StringField): Buffer | undefined {
  const raw = block.subarray(field.dataStart, field.dataEnd);
  return field.huffman ? huffmanDecode(raw) : Buffer.from(raw);
}

/** Encodes a string literal, Huffman-coded when that is shorter (as most encoders do). */
export function encodeString(value: Uint8Array): Buffer {
  const huffmanLength = huffmanEncodedLength(value);
  const useHuffman = huffmanLength < value.length;
  const prefix: number[] = [];
  writeInteger(prefix, useHuffman ? huffmanLength : value.length, 7, useHuffman ? 0x80 : 0);
  return Buffer.concat([Buffer.from(prefix), useHuffman ? huffmanEncode(value) : value]);
}

/** A replacement of the bytes [start, end) of a header block. */
interface Splice {
  start: number;
  end: number;
  bytes: Buffer;
}

/**
 * Finds every `:authority` literal with an invalid value in a complete header block and returns
 * the block with those values repaired; `block` itself when nothing needs repair; undefined when
 * the block is not valid HPACK.
 */
export function repairHeaderBlock(block: Uint8Array): Uint8Array | undefined {
  const splices: Splice[] = [];
  let at = 0;
  while (at < block.length) {
    const first = block[at] ?? 0;
    if (first & 0x80) {
      // Indexed field (§6.1): index 0 is invalid.
      const index = readInteger(block, at, 7);
      if (index === undefined || index.value === 0) return undefined;
      at = index.next;
      continue;
    }
    if ((first & 0xe0) === 0x20) {
      // Dynamic table size update (§6.3).
      const size = readInteger(block, at, 5);
      if (size === undefined) return undefined;
      at = size.next;
      continue;
    }
    // Literal field (§6.2): with incremental indexing (01), without indexing (0000), never indexed (0001).
    const nameIndex = readInteger(block, at, (first & 0xc0) === 0x40 ? 6 : 4);
    if (nameIndex === undefined) return undefined;
    at = nameIndex.next;
    let isAuthority = nameIndex.value === STATIC_INDEX_AUTHORITY;
    if (nameIndex.value === 0) {
      const name = readString(block, at);
      if (name === undefined) return undefined;
      at = name.dataEnd;
      isAuthority = mayBeAuthorityName(name) && stringBytes(block, name)?.equals(AUTHORITY_NAME) === true;
    }
    const value = readString(block, at);
    if (value === undefined) return undefined;
    if (isAuthority) {
      const decoded = stringBytes(block, value);
      if (decoded === undefined) return undefined;
      if (!isValidAuthority(decoded)) splices.push({ start: at, end: value.dataEnd, bytes: encodeString(repairAuthority(decoded)) });
    }
    at = value.dataEnd;
  }
  if (splices.length === 0) return block;
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const splice of splices) {
    parts.push(block.subarray(from, splice.start), splice.bytes);
    from = splice.end;
  }
  parts.push(block.subarray(from));
  return Buffer.concat(parts);
}

/** A cheap filter before decoding a literal name: ":authority" is 10 bytes raw, 8 Huffman-coded. */
function mayBeAuthorityName(name: StringField): boolean {
  const length = name.dataEnd - name.dataStart;
  return name.huffman ? length <= AUTHORITY_NAME.length : length === AUTHORITY_NAME.length;
}

// ---- HTTP/2 framing ----

/** A HEADERS frame's fields that the re-framed block must keep. */
interface BlockStart {
  streamId: number;
  /** HEADERS flags without PADDED and END_HEADERS (those are decided when re-framing). */
  flags: number;
  /** The PRIORITY field, when the HEADERS frame had one. */
  priority: Buffer | undefined;
}

function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return header;
}

/** Frames a header block as one HEADERS and as many CONTINUATIONs as REFRAME_PAYLOAD_BYTES needs. */
export function frameHeaderBlock(start: BlockStart, block: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  const priorityBytes = start.priority?.length ?? 0;
  let at = 0;
  let first = true;
  do {
    const room = REFRAME_PAYLOAD_BYTES - (first ? priorityBytes : 0);
    const fragment = block.subarray(at, at + room);
    at += fragment.length;
    const last = at >= block.length;
    const type = first ? FRAME_HEADERS : FRAME_CONTINUATION;
    const flags = (first ? start.flags : 0) | (last ? FLAG_END_HEADERS : 0);
    const payloadLength = fragment.length + (first ? priorityBytes : 0);
    out.push(frameHeader(payloadLength, type, flags, start.streamId));
    if (first && start.priority !== undefined) out.push(start.priority);
    out.push(Buffer.from(fragment));
    first = false;
  } while (at < block.length);
  return out;
}

/**
 * The client→server byte transform of one HTTP/2 connection. Feed it the bytes in order with
 * `push`; it returns the bytes to hand on, possibly holding some back until a header block is whole.
 */
export class AuthorityRewriter {
  /** Preface bytes still to pass through before the first frame header. */
  private prefaceRemaining = PREFACE_BYTES;
  /** The frame header being read (up to 9 bytes; they may arrive split). */
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** Payload bytes of the current frame still to pass through untouched. */
  private passRemaining = 0;
  /** Payload bytes of the current HEADERS/CONTINUATION frame still to collect. */
  private collectRemaining = 0;
  /** The current HEADERS/CONTINUATION frame being collected (header and payload). */
  private collecting: Buffer | undefined;
  private collectingFilled = 0;
  /** Complete frames of the open header block, as they arrived. */
  private blockFrames: Buffer[] = [];
  private blockBytes = 0;
  private blockStart: BlockStart | undefined;
  /** Header block fragments (without padding and priority) of the open block. */
  private blockFragments: Uint8Array[] = [];
  /** An oversized header block is passing through; cleared by the frame that has END_HEADERS. */
  private passingBlock = false;
  private passingBlockEnds = false;
  /** Set after anything unparsable: all bytes pass through from then on. */
  private gaveUp = false;
  /** How many header blocks were repaired (for tests and logs). */
  repairedBlocks = 0;

  /** Takes the next bytes from the client and returns what to hand to the server now. */
  push(chunk: Buffer): Buffer[] {
    if (this.gaveUp) return [chunk];
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length && !this.gaveUp) {
      if (this.prefaceRemaining > 0) {
        const n = Math.min(this.prefaceRemaining, chunk.length - at);
        out.push(chunk.subarray(at, at + n));
        this.prefaceRemaining -= n;
        at += n;
      } else if (this.passRemaining > 0) {
        const n = Math.min(this.passRemaining, chunk.length - at);
        out.push(chunk.subarray(at, at + n));
        this.passRemaining -= n;
        at += n;
        if (this.passRemaining === 0) this.maybeEndPassingBlock();
      } else if (this.collecting !== undefined) {
        const n = Math.min(this.collectRemaining, chunk.length - at);
        chunk.copy(this.collecting, this.collectingFilled, at, at + n);
        this.collectingFilled += n;
        this.collectRemaining -= n;
        at += n;
        if (this.collectRemaining === 0) this.finishCollectedFrame(out);
      } else {
        const n = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - at);
        chunk.copy(this.header, this.headerFilled, at, at + n);
        this.headerFilled += n;
        at += n;
        if (this.headerFilled === FRAME_HEADER_BYTES) {
          this.headerFilled = 0;
          this.startFrame(out);
        }
      }
    }
    if (this.gaveUp && at < chunk.length) out.push(chunk.subarray(at));
    return out;
  }

  /** Decides, from a complete frame header, whether the frame is collected or passed through. */
  private startFrame(out: Buffer[]): void {
    const length = this.header.readUIntBE(0, 3);
    const type = this.header[3] ?? 0;
    const flags = this.header[4] ?? 0;
    const isHeaderFrame = type === FRAME_HEADERS || type === FRAME_CONTINUATION;
    if (this.passingBlock) {
      this.passingBlockEnds = isHeaderFrame && (flags & FLAG_END_HEADERS) !== 0;
      this.passFrame(out, length);
      return;
    }
    const inBlock = this.blockStart !== undefined;
    if (inBlock !== (type === FRAME_CONTINUATION)) {
      // A CONTINUATION outside a block, or any other frame inside one: the server will reject the
      // connection; we just stop interpreting.
      this.giveUp(out, true);
      return;
    }
    if (!isHeaderFrame) {
      this.passFrame(out, length);
      return;
    }
    if (this.blockBytes + FRAME_HEADER_BYTES + length > MAX_HEADER_BLOCK_BYTES) {
      out.push(...this.blockFrames);
      this.resetBlock();
      this.passingBlock = true;
      this.passingBlockEnds = (flags & FLAG_END_HEADERS) !== 0;
      this.passFrame(out, length);
      return;
    }
    this.collecting = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
    this.header.copy(this.collecting, 0);
    this.collectingFilled = FRAME_HEADER_BYTES;
    this.collectRemaining = length;
    if (length === 0) this.finishCollectedFrame(out);
  }

  private passFrame(out: Buffer[], length: number): void {
    out.push(Buffer.from(this.header));
    this.passRemaining = length;
    if (length === 0) this.maybeEndPassingBlock();
  }

  private maybeEndPassingBlock(): void {
    if (this.passingBlock && this.passingBlockEnds) {
      this.passingBlock = false;
      this.passingBlockEnds = false;
    }
  }

  /** Adds a complete HEADERS/CONTINUATION frame to the open block; repairs the block when it ends. */
  private finishCollectedFrame(out: Buffer[]): void {
    const frame = this.collecting;
    this.collecting = undefined;
    if (frame === undefined) return;
    const type = frame[3] ?? 0;
    const flags = frame[4] ?? 0;
    let fragmentStart = FRAME_HEADER_BYTES;
    let fragmentEnd = frame.length;
    if (type === FRAME_HEADERS) {
      const padLength = flags & FLAG_PADDED ? (frame[fragmentStart++] ?? 0) : 0;
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        priority = Buffer.from(frame.subarray(fragmentStart, fragmentStart + PRIORITY_FIELD_BYTES));
        fragmentStart += PRIORITY_FIELD_BYTES;
      }
      fragmentEnd -= padLength;
      this.blockStart = {
        streamId: frame.readUInt32BE(5) & 0x7fffffff,
        flags: flags & ~(FLAG_PADDED | FLAG_END_HEADERS),
        priority,
      };
    }
    this.blockFrames.push(frame);
    this.blockBytes += frame.length;
    if (fragmentEnd < fragmentStart) {
      // Padding or priority longer than the frame: not HTTP/2 we can read.
      this.giveUp(out, false);
      return;
    }
    this.blockFragments.push(frame.subarray(fragmentStart, fragmentEnd));
    if ((flags & FLAG_END_HEADERS) !== 0) this.endBlock(out);
  }

  private endBlock(out: Buffer[]): void {
    const start = this.blockStart;
    const block = this.blockFragments.length === 1 ? this.blockFragments[0] : Buffer.concat(this.blockFragments);
    const repaired = block === undefined ? undefined : repairHeaderBlock(block);
    if (start === undefined || repaired === undefined) {
      this.giveUp(out, false);
      return;
    }
    if (repaired === block) {
      out.push(...this.blockFrames);
    } else {
      out.push(...frameHeaderBlock(start, repaired));
      this.repairedBlocks++;
    }
    this.resetBlock();
  }

  private resetBlock(): void {
    this.blockFrames = [];
    this.blockFragments = [];
    this.blockBytes = 0;
    this.blockStart = undefined;
  }

  /** Stops interpreting: what is held goes out unchanged, in order, and so does everything after. */
  private giveUp(out: Buffer[], headerPending: boolean): void {
    out.push(...this.blockFrames);
    if (this.collecting !== undefined) out.push(this.collecting.subarray(0, this.collectingFilled));
    else if (headerPending) out.push(Buffer.from(this.header));
    this.collecting = undefined;
    this.resetBlock();
    this.gaveUp = true;
  }
}

/**
 * Wraps an HTTP/2 client connection so that what the server reads from it passes through an
 * AuthorityRewriter; writes go straight to the socket. The wrapper is a plain Duplex, which Node's
 * HTTP/2 server accepts (it drives non-native streams through a JS stream wrap).
 */
export function rewriteAuthorityOnRead(socket: Duplex): Duplex {
  const rewriter = new AuthorityRewriter();
  const wrapper = new Duplex({
    allowHalfOpen: true,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    writev(chunks, callback) {
      socket.cork();
      const last = chunks.length - 1;
      // Completion of the last write means all earlier ones are flushed too (no extra empty write).
      for (let i = 0; i < last; i++) socket.write(chunks[i]!.chunk as Buffer);
      if (last >= 0) socket.write(chunks[last]!.chunk as Buffer, callback);
      socket.uncork();
      if (last < 0) callback();
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    const pieces = rewriter.push(chunk);
    let more = true;
    if (pieces.length === 1) more = wrapper.push(pieces[0]);
    else if (pieces.length > 1) {
      // One push per chunk: each push is a separate read for the HTTP/2 session (a JS-to-native
      // round trip through the JS stream socket), and a request usually arrives as one chunk that
      // the rewriter splits into several frame pieces.
      const bytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
      if (bytes <= COALESCE_MAX_BYTES) more = wrapper.push(Buffer.concat(pieces, bytes));
      else for (const piece of pieces) more = wrapper.push(piece) && more;
    }
    if (!more) socket.pause();
  });
  socket.on("end", () => wrapper.push(null));
  socket.on("error", (error) => wrapper.destroy(error));
  socket.on("close", () => wrapper.destroy());
  return wrapper;
}
