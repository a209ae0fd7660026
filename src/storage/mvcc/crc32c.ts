/**
 * CRC-32C (Castagnoli), the checksum etcd's Hash and HashKV use (Go's crc32.MakeTable(crc32.Castagnoli)).
 * Incremental: `update(crc, bytes)` continues a running value; start from 0 and use the result as is.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Continues a CRC-32C over `bytes` from the running value `crc` (0 for a new checksum). */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
