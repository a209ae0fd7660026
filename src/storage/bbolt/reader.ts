/**
 * A read-only, validating reader for bbolt database files (layout in `layout.ts`).
 *
 * Every page is checked before use: its id is below the high-water mark, its header agrees with its
 * position, its type is the expected one, every element lies inside the page, and keys are strictly
 * increasing within a bucket. Each traversal visits a page at most once and descends at most
 * MAX_TREE_DEPTH levels, so a corrupt file ends in a BboltFormatError, never a crash or a loop.
 */
import {
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE_BYTES,
  FORMAT_VERSION,
  FREELIST_COUNT_OVERFLOW,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE_FLAG,
  MAGIC,
  MAX_PAGE_SIZE_BYTES,
  META_SIZE,
  MIN_PAGE_SIZE_BYTES,
  NO_FREELIST_PGID,
  PAGE_HEADER_SIZE,
  decodeMeta,
  decodePageHeader,
  metaChecksum,
  pageTypeName,
  type Meta,
  type PageHeader,
} from "./layout.js";
import { BboltFormatError } from "./errors.js";
import type { ByteSource } from "./source.js";

export { BboltFormatError, type BboltErrorCode } from "./errors.js";

/** bbolt reads this many bytes to find the page size, and calls a shorter file invalid. */
const FIRST_READ_BYTES = 0x1000;

/** Deepest B+tree (root to leaf, nested buckets included) the reader follows. */
export const MAX_TREE_DEPTH = 64;
/** Deepest bucket nesting the reader follows. */
export const MAX_BUCKET_NESTING = 16;

/** Where a bucket's contents live: a root page, or an inline page image inside the parent value. */
export interface BucketRef {
  /** Root page id, 0n for an inline bucket. */
  readonly root: bigint;
  readonly sequence: bigint;
  /** The inline leaf page image when root is 0n. */
  readonly inlinePage?: Uint8Array;
}

/** One key of a bucket. For a nested bucket, `value` is the raw bucket value (header + inline page). */
export interface BucketEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly isBucket: boolean;
}

/** Receives what `check()` walks; `path` holds the names of the enclosing buckets (empty for the root). */
export interface CheckVisitor {
  enterBucket?(path: readonly Uint8Array[]): void;
  entry?(path: readonly Uint8Array[], entry: BucketEntry): void;
}

/** Page bytes and decoded header of one (possibly multi-page) node. */
interface LoadedPage {
  readonly id: bigint;
  readonly header: PageHeader;
  readonly bytes: Uint8Array;
}

function corrupt(message: string): BboltFormatError {
  return new BboltFormatError("CORRUPT", message);
}

/** Bytewise comparison of two keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Decodes a nested-bucket value into a BucketRef. */
export function decodeBucketValue(value: Uint8Array): BucketRef {
  if (value.length < BUCKET_HEADER_SIZE) {
    throw corrupt(`bucket value of ${value.length} bytes is shorter than the ${BUCKET_HEADER_SIZE}-byte bucket header`);
  }
  const view = new DataView(value.buffer, value.byteOffset, BUCKET_HEADER_SIZE);
  const root = view.getBigUint64(0, true);
  const sequence = view.getBigUint64(8, true);
  if (root !== 0n) return { root, sequence };
  return { root, sequence, inlinePage: value.subarray(BUCKET_HEADER_SIZE) };
}

export class BboltReader {
  /** The meta record in use (the valid one with the higher txid). */
  readonly meta: Meta;
  readonly pageSize: number;
  /** Pages in use; every page id a tree references must be below this. */
  readonly pageCount: number;

  private constructor(
    private readonly source: ByteSource,
    meta: Meta,
  ) {
    this.meta = meta;
    this.pageSize = meta.pageSize;
    this.pageCount = Number(meta.pgid);
  }

  /** Validates the meta pages and returns a reader; throws BboltFormatError when the file is unusable. */
  static open(source: ByteSource): BboltReader {
    // The same checks, in the same order and with the same messages, as bbolt's Open and mmap.
    if (source.sizeBytes === 0) throw new BboltFormatError("TOO_SMALL", "file size too small (0 bytes)");
    if (source.sizeBytes < FIRST_READ_BYTES) throw new BboltFormatError("INVALID", "invalid database");
    const first = checkMeta(source.read(0, PAGE_HEADER_SIZE + META_SIZE));
    // Like bbolt, trust meta 0's page size when meta 0 is valid; otherwise assume 4096.
    const pageSize = first.error === undefined ? first.meta.pageSize : DEFAULT_PAGE_SIZE_BYTES;
    if (source.sizeBytes < 2 * pageSize) throw new BboltFormatError("TOO_SMALL", "file size too small");
    const second = checkMeta(source.read(pageSize, PAGE_HEADER_SIZE + META_SIZE));
    const candidates = [first, second].filter((m) => m !== undefined && m.error === undefined).map((m) => m!.meta);
    candidates.sort((a, b) => (a.txid > b.txid ? -1 : a.txid < b.txid ? 1 : 0));
    const meta = candidates[0];
    if (meta === undefined) {
      throw first.error ?? second.error ?? new BboltFormatError("INVALID", "invalid database");
    }
    if (meta.pgid < 2n || meta.pgid * BigInt(meta.pageSize) > BigInt(source.sizeBytes)) {
      throw new BboltFormatError(
        "TRUNCATED",
        `truncated database: file is ${source.sizeBytes} bytes but the database claims ${meta.pgid} pages of ${meta.pageSize} bytes`,
      );
    }
    if (meta.rootPgid < 2n || meta.rootPgid >= meta.pgid) {
      throw corrupt(`root bucket page ${meta.rootPgid} is outside 2..${meta.pgid - 1n}`);
    }
    if (meta.freelistPgid !== NO_FREELIST_PGID && (meta.freelistPgid < 2n || meta.freelistPgid >= meta.pgid)) {
      throw corrupt(`freelist page ${meta.freelistPgid} is outside 2..${meta.pgid - 1n}`);
    }
    return new BboltReader(source, meta);
  }

  /** Size of the database as bbolt reports it (`tx.Size()`): pages in use times page size. */
  get sizeBytes(): number {
    return this.pageCount * this.pageSize;
  }

  /** The root bucket, whose keys name the top-level buckets. */
  rootBucket(): BucketRef {
    return { root: this.meta.rootPgid, sequence: this.meta.rootSequence };
  }

  /** The top-level bucket called `name`, or undefined when absent. Throws if `name` is a plain key. */
  bucket(name: Uint8Array | string): BucketRef | undefined {
    const want = typeof name === "string" ? new TextEncoder().encode(name) : name;
    for (const entry of this.entries(this.rootBucket())) {
      const order = compareBytes(entry.key, want);
      if (order > 0) return undefined;
      if (order === 0) {
        if (!entry.isBucket) throw corrupt(`root key ${JSON.stringify(new TextDecoder().decode(want))} is not a bucket`);
        return decodeBucketValue(entry.value);
      }
    }
    return undefined;
  }

  /** Every key of a bucket in order; nested buckets appear as entries with isBucket set. */
  *entries(bucket: BucketRef): Generator<BucketEntry> {
    if (bucket.root === 0n) {
      const page = bucket.inlinePage ?? new Uint8Array(0);
      if (page.length < PAGE_HEADER_SIZE) throw corrupt(`inline bucket page of ${page.length} bytes is too short`);
      const header = decodePageHeader(page);
      if ((header.flags & LEAF_PAGE_FLAG) === 0) {
        throw corrupt(`inline bucket page has type ${pageTypeName(header.flags)}, want leaf`);
      }
      yield* this.leafEntries({ id: 0n, header, bytes: page }, { last: undefined });
      return;
    }
    yield* this.walk(bucket.root, 0, new Set<bigint>(), { last: undefined });
  }

  /**
   * Checks the whole file the way bbolt's `tx.Check` does: every tree is well formed, no page is
   * referenced twice, and (when a freelist is stored) every page below the high-water mark is
   * either reachable or free. Throws BboltFormatError on the first problem. A visitor sees every
   * bucket and entry on the way (a bucket's entries, then its nested buckets, depth first), so a
   * caller can check and read a file in one pass.
   */
  check(visitor?: CheckVisitor): void {
    const reachable = new Set<bigint>([0n, 1n]);
    const freed = new Set<bigint>();
    if (this.meta.freelistPgid !== NO_FREELIST_PGID) {
      const freelist = this.loadPage(this.meta.freelistPgid);
      if ((freelist.header.flags & FREELIST_PAGE_FLAG) === 0) {
        throw corrupt(`page ${freelist.id}: invalid freelist page type ${pageTypeName(freelist.header.flags)}`);
      }
      for (let i = 0; i <= freelist.header.overflow; i++) reachable.add(freelist.id + BigInt(i));
      for (const id of this.freelistIds(freelist)) {
        if (freed.has(id)) throw corrupt(`page ${id}: already freed`);
        freed.add(id);
      }
    }
    this.checkBucket(this.rootBucket(), [], reachable, freed, visitor);
    if (this.meta.freelistPgid !== NO_FREELIST_PGID) {
      for (let id = 0n; id < this.meta.pgid; id++) {
        if (!reachable.has(id) && !freed.has(id)) throw corrupt(`page ${id}: unreachable unfreed`);
      }
    }
  }

  private checkBucket(bucket: BucketRef, path: Uint8Array[], reachable: Set<bigint>, freed: Set<bigint>, visitor: CheckVisitor | undefined): void {
    if (path.length > MAX_BUCKET_NESTING) throw corrupt(`buckets nested deeper than ${MAX_BUCKET_NESTING}`);
    visitor?.enterBucket?.(path);
    const pages = new Set<bigint>();
    const children: { name: Uint8Array; ref: BucketRef }[] = [];
    const walk = bucket.root === 0n ? this.entries(bucket) : this.walk(bucket.root, 0, pages, { last: undefined });
    for (const entry of walk) {
      visitor?.entry?.(path, entry);
      if (entry.isBucket) children.push({ name: entry.key, ref: decodeBucketValue(entry.value) });
    }
    for (const id of pages) {
      if (reachable.has(id)) throw corrupt(`page ${id}: multiple references`);
      if (freed.has(id)) throw corrupt(`page ${id}: reachable freed`);
      reachable.add(id);
    }
    for (const child of children) this.checkBucket(child.ref, [...path, child.name], reachable, freed, visitor);
  }

  private freelistIds(page: LoadedPage): bigint[] {
    let count = page.header.count;
    let index = 0;
    const view = new DataView(page.bytes.buffer, page.bytes.byteOffset, page.bytes.length);
    if (count === FREELIST_COUNT_OVERFLOW) {
      if (page.bytes.length < PAGE_HEADER_SIZE + 8) throw corrupt(`page ${page.id}: freelist too short`);
      const real = view.getBigUint64(PAGE_HEADER_SIZE, true);
      if (real > BigInt(page.bytes.length)) throw corrupt(`page ${page.id}: freelist count ${real} overflows the page`);
      count = Number(real);
      index = 1;
    }
    if (PAGE_HEADER_SIZE + (index + count) * 8 > page.bytes.length) {
      throw corrupt(`page ${page.id}: freelist of ${count} ids overflows the page`);
    }
    const ids: bigint[] = [];
    for (let i = 0; i < count; i++) {
      const id = view.getBigUint64(PAGE_HEADER_SIZE + (index + i) * 8, true);
      if (id < 2n || id >= this.meta.pgid) throw corrupt(`page ${page.id}: free page id ${id} out of range`);
      ids.push(id);
    }
    return ids;
  }

  /** Depth-first walk of a bucket's B+tree; records every page (with overflow) in `seen`. */
  private *walk(id: bigint, depth: number, seen: Set<bigint>, order: { last: Uint8Array | undefined }): Generator<BucketEntry> {
    if (depth > MAX_TREE_DEPTH) throw corrupt(`page ${id}: tree deeper than ${MAX_TREE_DEPTH} levels`);
    const page = this.loadPage(id);
    for (let i = 0; i <= page.header.overflow; i++) {
      const member = id + BigInt(i);
      if (seen.has(member)) throw corrupt(`page ${member}: multiple references`);
      seen.add(member);
    }
    if (page.header.flags & LEAF_PAGE_FLAG) {
      yield* this.leafEntries(page, order);
      return;
    }
    if ((page.header.flags & BRANCH_PAGE_FLAG) === 0) {
      throw corrupt(`page ${id}: invalid type: ${pageTypeName(page.header.flags)}`);
    }
    if (page.header.count === 0) throw corrupt(`page ${id}: empty branch page`);
    const children = this.branchChildren(page);
    for (const child of children) yield* this.walk(child.pgid, depth + 1, seen, order);
  }

  private branchChildren(page: LoadedPage): { key: Uint8Array; pgid: bigint }[] {
    const { count } = page.header;
    const bytes = page.bytes;
    const elementsEnd = PAGE_HEADER_SIZE + count * BRANCH_ELEMENT_SIZE;
    if (elementsEnd > bytes.length) throw corrupt(`page ${page.id}: ${count} branch elements overflow the page`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const children: { key: Uint8Array; pgid: bigint }[] = [];
    for (let i = 0; i < count; i++) {
      const at = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
      const pos = view.getUint32(at, true);
      const ksize = view.getUint32(at + 4, true);
      const pgid = view.getBigUint64(at + 8, true);
      const start = at + pos;
      if (ksize === 0 || start < elementsEnd || start + ksize > bytes.length) {
        throw corrupt(`page ${page.id}: branch element ${i} points outside the page`);
      }
      const key = bytes.subarray(start, start + ksize);
      const previous = children[children.length - 1];
      if (previous !== undefined && compareBytes(previous.key, key) >= 0) {
        throw corrupt(`page ${page.id}: branch keys out of order at element ${i}`);
      }
      if (pgid === page.id) throw corrupt(`page ${page.id}: branch element ${i} points to itself`);
      children.push({ key, pgid });
    }
    return children;
  }

  private *leafEntries(page: LoadedPage, order: { last: Uint8Array | undefined }): Generator<BucketEntry> {
    const { count } = page.header;
    const bytes = page.bytes;
    const elementsEnd = PAGE_HEADER_SIZE + count * LEAF_ELEMENT_SIZE;
    if (elementsEnd > bytes.length) throw corrupt(`page ${page.id}: ${count} leaf elements overflow the page`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < count; i++) {
      const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
      const flags = view.getUint32(at, true);
      const pos = view.getUint32(at + 4, true);
      const ksize = view.getUint32(at + 8, true);
      const vsize = view.getUint32(at + 12, true);
      const start = at + pos;
      if (ksize === 0 || start < elementsEnd || start + ksize + vsize > bytes.length) {
        throw corrupt(`page ${page.id}: leaf element ${i} points outside the page`);
      }
      const key = bytes.subarray(start, start + ksize);
      if (order.last !== undefined && compareBytes(order.last, key) >= 0) {
        throw corrupt(`page ${page.id}: keys out of order at leaf element ${i}`);
      }
      order.last = key;
      yield { key, value: bytes.subarray(start + ksize, start + ksize + vsize), isBucket: (flags & BUCKET_LEAF_FLAG) !== 0 };
    }
  }

  /** Reads and validates the header of page `id`, then reads the whole node (with overflow pages). */
  private loadPage(id: bigint): LoadedPage {
    if (id < 2n || id >= this.meta.pgid) {
      throw corrupt(`page ${id}: out of bounds: ${this.meta.pgid}`);
    }
    const offset = Number(id) * this.pageSize;
    const first = this.source.read(offset, this.pageSize);
    const header = decodePageHeader(first);
    if (header.id !== id) throw corrupt(`page ${id}: header says page ${header.id}`);
    if (id + BigInt(header.overflow) >= this.meta.pgid) {
      throw corrupt(`page ${id}: ${header.overflow} overflow pages run past the high-water mark ${this.meta.pgid}`);
    }
    const bytes = header.overflow === 0 ? first : this.source.read(offset, (header.overflow + 1) * this.pageSize);
    return { id, header, bytes };
  }
}

function checkMeta(page: Uint8Array): { meta: Meta; error?: BboltFormatError } {
  const meta = decodeMeta(page);
  if (meta.magic !== MAGIC) return { meta, error: new BboltFormatError("INVALID", "invalid database") };
  if (meta.version !== FORMAT_VERSION) {
    return { meta, error: new BboltFormatError("VERSION_MISMATCH", "version mismatch") };
  }
  if (meta.checksum !== 0n && meta.checksum !== metaChecksum(page)) {
    return { meta, error: new BboltFormatError("CHECKSUM", "checksum error") };
  }
  if (meta.pageSize < MIN_PAGE_SIZE_BYTES || meta.pageSize > MAX_PAGE_SIZE_BYTES || (meta.pageSize & (meta.pageSize - 1)) !== 0) {
    return { meta, error: new BboltFormatError("INVALID", `invalid page size ${meta.pageSize}`) };
  }
  return { meta };
}
