/**
 * CRC-32C (Castagnoli), the checksum etcdctl reports as a snapshot's "hash". Table-driven,
 * slicing by 8 bytes at a time.
 */

const CASTAGNOLI_REFLECTED = 0x82f63b78;

/** TABLES[k][b]: CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const tables: Uint32Array[] = [];
  const base = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let crc = b;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REFLECTED : crc >>> 1;
    base[b] = crc >>> 0;
  }
  tables.push(base);
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1]!;
    const table = new Uint32Array(256);
    for (let b = 0; b < 256; b++) table[b] = (previous[b]! >>> 8) ^ base[previous[b]! & 0xff]!;
    tables.push(table);
  }
  return tables;
})();

/** An incremental CRC-32C, like Go's `crc32.New(crc32.MakeTable(crc32.Castagnoli))`. */
export class Crc32c {
  /** The running CRC, kept inverted as the algorithm requires. */
  private state = 0xffffffff;

  update(bytes: Uint8Array): this {
    const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
    let crc = this.state;
    let i = 0;
    const n = bytes.length;
    for (; i + 8 <= n; i += 8) {
      const lo = (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
      crc =
        t7[lo & 0xff]! ^
        t6[(lo >>> 8) & 0xff]! ^
        t5[(lo >>> 16) & 0xff]! ^
        t4[lo >>> 24]! ^
        t3[bytes[i + 4]!]! ^
        t2[bytes[i + 5]!]! ^
        t1[bytes[i + 6]!]! ^
        t0[bytes[i + 7]!]!;
    }
    for (; i < n; i++) crc = t0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
    this.state = crc >>> 0;
    return this;
  }

  /** The CRC of everything written so far, as an unsigned 32-bit number. */
  digest(): number {
    return (this.state ^ 0xffffffff) >>> 0;
  }
}

/** CRC-32C of one buffer. */
export function crc32c(bytes: Uint8Array): number {
  return new Crc32c().update(bytes).digest();
}
