/**
 * The on-disk layout of a bbolt database file (bbolt 1.3.x, format version 2), as etcd 3.4 writes
 * it for its backend and for snapshot files. Cairn reads and writes these files byte for byte, so
 * every offset used by the reader and the writer is defined here, next to its description.
 *
 * All integers are little-endian (bbolt writes its in-memory structs on amd64).
 *
 * File: a sequence of pages of `pageSize` bytes (4096 for every file Cairn writes; the reader takes
 * the size from the meta page). Page `n` starts at byte `n * pageSize`. Only pages below the meta's
 * high-water mark (`meta.pgid`) belong to the database; bytes after that are ignored.
 *
 * Page header (16 bytes, at the start of every page):
 * ```
 *   0  u64  id        page id; equals the page's position in the file
 *   8  u16  flags     0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist
 *  10  u16  count     number of elements (branch/leaf) or of free page ids (freelist)
 *  12  u32  overflow  number of extra pages that follow this one and belong to it
 * ```
 * A page whose elements do not fit in `pageSize` bytes spans `1 + overflow` consecutive pages;
 * the overflow pages have no header of their own.
 *
 * Meta page (pages 0 and 1; the header is followed at byte 16 by a 64-byte meta record):
 * ```
 *   0  u32  magic     0xED0CDAED
 *   4  u32  version   2
 *   8  u32  pageSize
 *  12  u32  flags     unused, 0
 *  16  u64  root.root      page id of the root bucket's root page
 *  24  u64  root.sequence  the root bucket's sequence (unused, 0)
 *  32  u64  freelist  page id of the freelist page, or 0xFFFF_FFFF_FFFF_FFFF when the freelist is
 *                     not persisted (etcd 3.4 opens bbolt with NoFreelistSync on Linux)
 *  40  u64  pgid      high-water mark: number of pages in use
 *  48  u64  txid      id of the transaction that wrote this meta; page id = txid % 2
 *  56  u64  checksum  FNV-1a 64 of bytes 0..55 of the meta record
 * ```
 * bbolt uses the valid meta (right magic, version and checksum) with the higher txid.
 *
 * Freelist page: `count` u64 page ids after the header. When there are 0xFFFF or more ids,
 * `count` is 0xFFFF and the first u64 holds the real count, followed by the ids.
 *
 * Branch page: `count` branch elements of 16 bytes each after the header, then the keys:
 * ```
 *   0  u32  pos    offset of the key, counted from the start of this element
 *   4  u32  ksize  key length
 *   8  u64  pgid   child page id; the child holds keys >= this key
 * ```
 *
 * Leaf page: `count` leaf elements of 16 bytes each after the header, then keys and values:
 * ```
 *   0  u32  flags  0x01 when the value is a nested bucket
 *   4  u32  pos    offset of the key, counted from the start of this element
 *   8  u32  ksize  key length
 *  12  u32  vsize  value length; the value follows the key directly
 * ```
 * Keys within a bucket are unique and sorted bytewise; a branch page's keys are sorted too.
 *
 * Bucket value (the value of a leaf element whose flags has 0x01): a 16-byte bucket header
 * ```
 *   0  u64  root      page id of the bucket's root page, or 0 for an inline bucket
 *   8  u64  sequence  the bucket's NextSequence counter
 * ```
 * For an inline bucket (root 0) the header is followed by a complete leaf page image (header with
 * id 0, elements, keys and values) holding the bucket's contents. bbolt inlines a bucket when it has
 * no nested buckets and its page image is at most `pageSize / 4` bytes.
 *
 * The top level of the database is the root bucket; every key in it names a bucket (etcd's "key",
 * "meta", "lease", "members", ...).
 */

/** Page size Cairn writes; the reader accepts the size stored in the meta page. */
export const DEFAULT_PAGE_SIZE_BYTES = 4096;
/** Smallest and largest page sizes the reader accepts (bbolt uses the OS page size). */
export const MIN_PAGE_SIZE_BYTES = 512;
export const MAX_PAGE_SIZE_BYTES = 65536;

export const MAGIC = 0xed0cdaed;
export const FORMAT_VERSION = 2;

export const PAGE_HEADER_SIZE = 16;
export const PAGE_ID_OFFSET = 0;
export const PAGE_FLAGS_OFFSET = 8;
export const PAGE_COUNT_OFFSET = 10;
export const PAGE_OVERFLOW_OFFSET = 12;

export const BRANCH_PAGE_FLAG = 0x01;
export const LEAF_PAGE_FLAG = 0x02;
export const META_PAGE_FLAG = 0x04;
export const FREELIST_PAGE_FLAG = 0x10;

/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

export const META_OFFSET = PAGE_HEADER_SIZE;
export const META_SIZE = 64;
export const META_MAGIC_OFFSET = 0;
export const META_VERSION_OFFSET = 4;
export const META_PAGE_SIZE_OFFSET = 8;
export const META_FLAGS_OFFSET = 12;
export const META_ROOT_OFFSET = 16;
export const META_ROOT_SEQUENCE_OFFSET = 24;
export const META_FREELIST_OFFSET = 32;
export const META_PGID_OFFSET = 40;
export const META_TXID_OFFSET = 48;
export const META_CHECKSUM_OFFSET = 56;

/** meta.freelist when the freelist is not stored in the file. */
export const NO_FREELIST_PGID = 0xffff_ffff_ffff_ffffn;

/** page.count value meaning "the real freelist count is in the first u64". */
export const FREELIST_COUNT_OVERFLOW = 0xffff;

export const BRANCH_ELEMENT_SIZE = 16;
export const LEAF_ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;

/** bbolt refuses keys longer than this. */
export const MAX_KEY_SIZE_BYTES = 32768;
/** bbolt refuses values longer than this. */
export const MAX_VALUE_SIZE_BYTES = 2 ** 31 - 2;
/** A page holds fewer than 0xFFFF elements (bbolt's node.write asserts it). */
export const MAX_ELEMENTS_PER_PAGE = 0xfffe;

/** Largest page image bbolt stores inline in its parent (a quarter page). */
export function maxInlineBucketBytes(pageSize: number): number {
  return Math.floor(pageSize / 4);
}

const FNV64_OFFSET_BASIS = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const UINT64_MASK = 0xffff_ffff_ffff_ffffn;

/** FNV-1a 64-bit hash, the checksum bbolt stores in its meta pages. */
export function fnv64a(bytes: Uint8Array): bigint {
  let hash = FNV64_OFFSET_BASIS;
  for (const byte of bytes) {
    hash ^= BigInt(byte);
    hash = (hash * FNV64_PRIME) & UINT64_MASK;
  }
  return hash;
}

/** Decoded meta record. Page ids are bigint because the no-freelist marker uses all 64 bits. */
export interface Meta {
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  /** Page id of the root bucket's root page. */
  rootPgid: bigint;
  rootSequence: bigint;
  /** Page id of the freelist, or NO_FREELIST_PGID. */
  freelistPgid: bigint;
  /** High-water mark: number of pages in use. */
  pgid: bigint;
  txid: bigint;
  checksum: bigint;
}

/** Reads the meta record of a meta page (`page` starts at the page header). */
export function decodeMeta(page: Uint8Array): Meta {
  const view = new DataView(page.buffer, page.byteOffset + META_OFFSET, META_SIZE);
  return {
    magic: view.getUint32(META_MAGIC_OFFSET, true),
    version: view.getUint32(META_VERSION_OFFSET, true),
    pageSize: view.getUint32(META_PAGE_SIZE_OFFSET, true),
    flags: view.getUint32(META_FLAGS_OFFSET, true),
    rootPgid: view.getBigUint64(META_ROOT_OFFSET, true),
    rootSequence: view.getBigUint64(META_ROOT_SEQUENCE_OFFSET, true),
    freelistPgid: view.getBigUint64(META_FREELIST_OFFSET, true),
    pgid: view.getBigUint64(META_PGID_OFFSET, true),
    txid: view.getBigUint64(META_TXID_OFFSET, true),
    checksum: view.getBigUint64(META_CHECKSUM_OFFSET, true),
  };
}

/** The checksum a meta record should carry: FNV-1a 64 over every field before `checksum`. */
export function metaChecksum(page: Uint8Array): bigint {
  return fnv64a(page.subarray(META_OFFSET, META_OFFSET + META_CHECKSUM_OFFSET));
}

/**
 * Writes a complete meta page (header and record, checksum computed) into `page`, which must be
 * zeroed and at least PAGE_HEADER_SIZE + META_SIZE bytes long.
 */
export function encodeMetaPage(page: Uint8Array, meta: Omit<Meta, "magic" | "version" | "flags" | "checksum">): void {
  const header = new DataView(page.buffer, page.byteOffset, PAGE_HEADER_SIZE);
  header.setBigUint64(PAGE_ID_OFFSET, meta.txid % 2n, true);
  header.setUint16(PAGE_FLAGS_OFFSET, META_PAGE_FLAG, true);
  const view = new DataView(page.buffer, page.byteOffset + META_OFFSET, META_SIZE);
  view.setUint32(META_MAGIC_OFFSET, MAGIC, true);
  view.setUint32(META_VERSION_OFFSET, FORMAT_VERSION, true);
  view.setUint32(META_PAGE_SIZE_OFFSET, meta.pageSize, true);
  view.setUint32(META_FLAGS_OFFSET, 0, true);
  view.setBigUint64(META_ROOT_OFFSET, meta.rootPgid, true);
  view.setBigUint64(META_ROOT_SEQUENCE_OFFSET, meta.rootSequence, true);
  view.setBigUint64(META_FREELIST_OFFSET, meta.freelistPgid, true);
  view.setBigUint64(META_PGID_OFFSET, meta.pgid, true);
  view.setBigUint64(META_TXID_OFFSET, meta.txid, true);
  view.setBigUint64(META_CHECKSUM_OFFSET, metaChecksum(page), true);
}

/** Decoded page header. */
export interface PageHeader {
  id: bigint;
  flags: number;
  count: number;
  overflow: number;
}

export function decodePageHeader(page: Uint8Array): PageHeader {
  const view = new DataView(page.buffer, page.byteOffset, PAGE_HEADER_SIZE);
  return {
    id: view.getBigUint64(PAGE_ID_OFFSET, true),
    flags: view.getUint16(PAGE_FLAGS_OFFSET, true),
    count: view.getUint16(PAGE_COUNT_OFFSET, true),
    overflow: view.getUint32(PAGE_OVERFLOW_OFFSET, true),
  };
}

export function encodePageHeader(page: Uint8Array, header: PageHeader): void {
  const view = new DataView(page.buffer, page.byteOffset, PAGE_HEADER_SIZE);
  view.setBigUint64(PAGE_ID_OFFSET, header.id, true);
  view.setUint16(PAGE_FLAGS_OFFSET, header.flags, true);
  view.setUint16(PAGE_COUNT_OFFSET, header.count, true);
  view.setUint32(PAGE_OVERFLOW_OFFSET, header.overflow, true);
}

/** Human-readable page type, as bbolt names them in its errors. */
export function pageTypeName(flags: number): string {
  if (flags & BRANCH_PAGE_FLAG) return "branch";
  if (flags & LEAF_PAGE_FLAG) return "leaf";
  if (flags & META_PAGE_FLAG) return "meta";
  if (flags & FREELIST_PAGE_FLAG) return "freelist";
  return `unknown<${flags.toString(16).padStart(2, "0")}>`;
}
