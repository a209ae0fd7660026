/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical: codes are handed out
 * in order of (bit length, symbol), each one the previous plus one, shifted left when the length
 * grows. So the table below holds only each symbol's bit length; the codes follow from it. Symbol
 * 256 is EOS, which never appears inside a string; its code's leading ones pad the last byte.
 */

/** Bit length of the code for each symbol 0..255, then EOS (256). */
const CODE_BIT_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;
const MAX_CODE_BITS = 30;

/** The canonical code tables: per symbol its code, and per bit length what a decoder needs. */
interface CanonicalCode {
  /** codes[symbol] is the symbol's code, right-aligned in `CODE_BIT_LENGTHS[symbol]` bits. */
  codes: Uint32Array;
  /** firstCode[len] is the smallest code of that bit length. */
  firstCode: Uint32Array;
  /** countByLength[len] is how many symbols have codes of that bit length. */
  countByLength: Uint32Array;
  /** firstSymbolIndex[len] is where that bit length's symbols start in `symbolsInCodeOrder`. */
  firstSymbolIndex: Uint32Array;
  /** Symbols sorted by (bit length, symbol), i.e. by code. */
  symbolsInCodeOrder: Uint16Array;
}

function buildCanonicalCode(): CanonicalCode {
  const symbolCount = CODE_BIT_LENGTHS.length;
  const order = Array.from({ length: symbolCount }, (_, symbol) => symbol).sort(
    (a, b) => bitLength(a) - bitLength(b) || a - b,
  );
  const codes = new Uint32Array(symbolCount);
  const firstCode = new Uint32Array(MAX_CODE_BITS + 1);
  const countByLength = new Uint32Array(MAX_CODE_BITS + 1);
  const firstSymbolIndex = new Uint32Array(MAX_CODE_BITS + 1);
  let code = 0;
  let previousLength = 0;
  order.forEach((symbol, position) => {
    const length = bitLength(symbol);
    if (position > 0) code = (code + 1) * 2 ** (length - previousLength);
    if (countByLength[length] === 0) {
      firstCode[length] = code;
      firstSymbolIndex[length] = position;
    }
    countByLength[length] = (countByLength[length] ?? 0) + 1;
    codes[symbol] = code;
    previousLength = length;
  });
  return { codes, firstCode, countByLength, firstSymbolIndex, symbolsInCodeOrder: Uint16Array.from(order) };
}

function bitLength(symbol: number): number {
  const length = CODE_BIT_LENGTHS[symbol];
  if (length === undefined) throw new Error(`hpack-huffman: no symbol ${symbol}`);
  return length;
}

const CODE = buildCanonicalCode();

/** The code of `symbol` and its bit length (exported for tests against RFC 7541 Appendix B). */
export function huffmanCodeOf(symbol: number): { code: number; bits: number } {
  return { code: CODE.codes[symbol] ?? 0, bits: bitLength(symbol) };
}

/** How many bytes `huffmanEncode(bytes)` produces. */
export function huffmanEncodedLength(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) bits += bitLength(byte);
  return Math.ceil(bits / 8);
}

/** Huffman-encodes octets, padding the last byte with the high bits of EOS (all ones). */
export function huffmanEncode(bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(bytes));
  let accumulator = 0; // pending bits, right-aligned; never more than 7 + 30 bits before flushing
  let pendingBits = 0;
  let at = 0;
  for (const byte of bytes) {
    const bits = bitLength(byte);
    // Codes are up to 30 bits; keep the accumulator within 53 safe integer bits by flushing whole bytes.
    accumulator = accumulator * 2 ** bits + (CODE.codes[byte] ?? 0);
    pendingBits += bits;
    while (pendingBits >= 8) {
      pendingBits -= 8;
      const divisor = 2 ** pendingBits;
      out[at++] = Math.floor(accumulator / divisor) & 0xff;
      accumulator %= divisor;
    }
  }
  if (pendingBits > 0) out[at++] = ((accumulator << (8 - pendingBits)) | (0xff >> pendingBits)) & 0xff;
  return out;
}

/**
 * Decodes a Huffman-coded string, or returns undefined when it is not valid HPACK: a code that is
 * EOS, padding longer than 7 bits, or padding that is not a prefix of EOS (not all ones).
 */
export function huffmanDecode(encoded: Uint8Array): Buffer | undefined {
  // Each symbol takes at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((encoded.length * 8) / 5));
  let produced = 0;
  let code = 0;
  let codeBits = 0;
  let allOnes = true; // whether the bits of the unfinished code are all ones (a valid padding)
  for (const byte of encoded) {
    for (let shift = 7; shift >= 0; shift--) {
      const bit = (byte >> shift) & 1;
      code = code * 2 + bit;
      codeBits++;
      allOnes &&= bit === 1;
      const count = CODE.countByLength[codeBits] ?? 0;
      const offset = code - (CODE.firstCode[codeBits] ?? 0);
      if (count > 0 && offset >= 0 && offset < count) {
        const symbol = CODE.symbolsInCodeOrder[(CODE.firstSymbolIndex[codeBits] ?? 0) + offset] ?? EOS;
        if (symbol === EOS) return undefined;
        out[produced++] = symbol;
        code = 0;
        codeBits = 0;
        allOnes = true;
      } else if (codeBits >= MAX_CODE_BITS) {
        return undefined;
      }
    }
  }
  if (codeBits > 7 || !allOnes) return undefined;
  return out.subarray(0, produced);
}
