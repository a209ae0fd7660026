/**
 * Writes a compact bbolt database file in one pass (layout in `layout.ts`).
 *
 * Input is pushed bucket by bucket, keys in strictly increasing order. Leaf pages are filled as
 * full as a page allows and written as soon as they are full, so memory holds one leaf page plus
 * the first key of every leaf (for the branch levels), never the whole bucket. Each bucket's
 * branch pages follow its leaves; the root bucket's pages, an empty freelist and finally the two
 * meta pages (reserved at the start of the file and overwritten last) complete the file. Every
 * page below the high-water mark is reachable, so bbolt's `tx.Check` finds nothing to report.
 *
 * Only top-level buckets holding plain keys are written; that is all etcd's schema uses. Buckets
 * whose page image fits in a quarter page are stored inline, as bbolt itself would store them.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import {
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE_BYTES,
  FREELIST_PAGE_FLAG,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE_FLAG,
  MAX_ELEMENTS_PER_PAGE,
  MAX_KEY_SIZE_BYTES,
  MAX_VALUE_SIZE_BYTES,
  PAGE_HEADER_SIZE,
  encodeMetaPage,
  encodePageHeader,
  maxInlineBucketBytes,
} from "./layout.js";
import { compareBytes } from "./reader.js";

/** Where the writer puts the file: appended in order, plus an overwrite of the reserved meta pages. */
export interface ByteSink {
  append(bytes: Uint8Array): void;
  /** Overwrites bytes previously appended at `offset`. */
  writeAt(offset: number, bytes: Uint8Array): void;
}

/** Collects the file in memory (tests, small databases). */
export class MemorySink implements ByteSink {
  private chunks: Uint8Array[] = [];
  private lengthBytes = 0;
  append(bytes: Uint8Array): void {
    this.chunks.push(new Uint8Array(bytes));
    this.lengthBytes += bytes.length;
  }
  writeAt(offset: number, bytes: Uint8Array): void {
    const all = this.bytes();
    all.set(bytes, offset);
    this.chunks = [all];
  }
  /** The file written so far. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.lengthBytes);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    this.chunks = [out];
    return out;
  }
}

/** Writes into a file with positional writes; `close()` releases the descriptor. */
export class FileSink implements ByteSink {
  private fd: number | undefined;
  private positionBytes = 0;
  /** @param path created exclusively: an existing file is an error, never overwritten */
  constructor(path: string) {
    this.fd = openSync(path, "wx", 0o600);
  }
  append(bytes: Uint8Array): void {
    this.writeFully(bytes, this.positionBytes);
    this.positionBytes += bytes.length;
  }
  writeAt(offset: number, bytes: Uint8Array): void {
    this.writeFully(bytes, offset);
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
  private writeFully(bytes: Uint8Array, offset: number): void {
    if (this.fd === undefined) throw new Error("FileSink: write after close");
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
  }
}

/** A bad call sequence or input the format cannot hold (unsorted keys, oversized key...). */
export class BboltWriteError extends Error {
  override name = "BboltWriteError";
}

interface LeafItem {
  flags: number;
  key: Uint8Array;
  value: Uint8Array;
}

interface BranchItem {
  key: Uint8Array;
  pgid: bigint;
}

/** Summary of a finished file. */
export interface WrittenDatabase {
  pageCount: number;
  sizeBytes: number;
  pageSize: number;
}

/** Builds one bucket's tree bottom-up as its keys arrive. */
class TreeBuilder {
  /** Items of the leaf page being filled. */
  items: LeafItem[] = [];
  /** Bytes the pending leaf page occupies (header, elements, keys, values). */
  sizeBytes = PAGE_HEADER_SIZE;
  /** First key and page id of every leaf page written so far. */
  leaves: BranchItem[] = [];
  lastKey: Uint8Array | undefined;
}

export class BboltWriter {
  readonly pageSize: number;
  /** Next free page id; pages 0 and 1 are reserved for the meta pages. */
  private nextPgid = 2n;
  /** The root bucket: one item per finished bucket. */
  private readonly root = new TreeBuilder();
  /** The bucket being filled, with its name and sequence. */
  private current: { name: Uint8Array; sequence: bigint; tree: TreeBuilder } | undefined;
  private finished = false;

  constructor(
    private readonly sink: ByteSink,
    options: { pageSize?: number } = {},
  ) {
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE_BYTES;
    this.sink.append(new Uint8Array(2 * this.pageSize));
  }

  /** Starts a top-level bucket; names must arrive in strictly increasing order. */
  beginBucket(name: Uint8Array | string, sequence = 0n): void {
    if (this.current !== undefined || this.finished) throw new BboltWriteError("beginBucket: previous bucket not ended");
    const bytes = typeof name === "string" ? new TextEncoder().encode(name) : new Uint8Array(name);
    this.checkKey(this.root, bytes);
    this.current = { name: bytes, sequence, tree: new TreeBuilder() };
  }

  /** Adds a key to the current bucket; keys must arrive in strictly increasing order. */
  put(key: Uint8Array, value: Uint8Array): void {
    const current = this.current;
    if (current === undefined) throw new BboltWriteError("put: no bucket begun");
    // Copy (a Buffer's slice() would not): callers may reuse their buffers between calls.
    const ownKey = new Uint8Array(key);
    this.checkKey(current.tree, ownKey);
    if (value.length > MAX_VALUE_SIZE_BYTES) throw new BboltWriteError(`value of ${value.length} bytes is too large`);
    this.addLeafItem(current.tree, { flags: 0, key: ownKey, value: new Uint8Array(value) });
  }

  /** Ends the current bucket: writes its remaining pages and records it in the root bucket. */
  endBucket(): void {
    const current = this.current;
    if (current === undefined) throw new BboltWriteError("endBucket: no bucket begun");
    this.current = undefined;
    const { tree } = current;
    const header = new Uint8Array(BUCKET_HEADER_SIZE);
    const view = new DataView(header.buffer);
    view.setBigUint64(8, current.sequence, true);
    let value: Uint8Array;
    if (tree.leaves.length === 0 && tree.sizeBytes <= maxInlineBucketBytes(this.pageSize)) {
      value = new Uint8Array(BUCKET_HEADER_SIZE + tree.sizeBytes);
      value.set(header);
      encodeLeaf(value.subarray(BUCKET_HEADER_SIZE), 0n, 0, tree.items);
    } else {
      view.setBigUint64(0, this.finishTree(tree), true);
      value = header;
    }
    this.addLeafItem(this.root, { flags: BUCKET_LEAF_FLAG, key: current.name, value });
  }

  /** Writes the root bucket, freelist and meta pages. The sink then holds a complete database. */
  finish(): WrittenDatabase {
    if (this.current !== undefined) throw new BboltWriteError("finish: bucket not ended");
    if (this.finished) throw new BboltWriteError("finish: called twice");
    this.finished = true;
    const rootPgid = this.finishTree(this.root);
    const freelistPgid = this.nextPgid++;
    const freelist = new Uint8Array(this.pageSize);
    encodePageHeader(freelist, { id: freelistPgid, flags: FREELIST_PAGE_FLAG, count: 0, overflow: 0 });
    this.sink.append(freelist);
    const metas = new Uint8Array(2 * this.pageSize);
    for (const txid of [0n, 1n]) {
      encodeMetaPage(metas.subarray(Number(txid) * this.pageSize), {
        pageSize: this.pageSize,
        rootPgid,
        rootSequence: 0n,
        freelistPgid,
        pgid: this.nextPgid,
        txid,
      });
    }
    this.sink.writeAt(0, metas);
    const pageCount = Number(this.nextPgid);
    return { pageCount, sizeBytes: pageCount * this.pageSize, pageSize: this.pageSize };
  }

  /** Checks order and size; `key` must be the writer's own copy, kept as the tree's last key. */
  private checkKey(tree: TreeBuilder, key: Uint8Array): void {
    if (key.length === 0) throw new BboltWriteError("key required");
    if (key.length > MAX_KEY_SIZE_BYTES) throw new BboltWriteError(`key of ${key.length} bytes is too large`);
    if (tree.lastKey !== undefined && compareBytes(tree.lastKey, key) >= 0) {
      throw new BboltWriteError("keys must be added in strictly increasing order");
    }
    tree.lastKey = key;
  }

  private addLeafItem(tree: TreeBuilder, item: LeafItem): void {
    const itemBytes = LEAF_ELEMENT_SIZE + item.key.length + item.value.length;
    if (tree.items.length > 0 && (tree.sizeBytes + itemBytes > this.pageSize || tree.items.length >= MAX_ELEMENTS_PER_PAGE)) {
      this.flushLeaf(tree);
    }
    tree.items.push(item);
    tree.sizeBytes += itemBytes;
  }

  private flushLeaf(tree: TreeBuilder): void {
    const first = tree.items[0];
    const pgid = this.allocate(tree.sizeBytes, (page, id, overflow) => encodeLeaf(page, id, overflow, tree.items));
    tree.leaves.push({ key: first === undefined ? new Uint8Array(0) : first.key, pgid });
    tree.items = [];
    tree.sizeBytes = PAGE_HEADER_SIZE;
  }

  /** Writes the pending leaf and every branch level above the leaves; returns the root page id. */
  private finishTree(tree: TreeBuilder): bigint {
    if (tree.items.length > 0 || tree.leaves.length === 0) this.flushLeaf(tree);
    let level = tree.leaves;
    // Each branch page takes at least two children, so every pass shrinks the level.
    while (level.length > 1) {
      const next: BranchItem[] = [];
      let start = 0;
      while (start < level.length) {
        let end = start;
        let size = PAGE_HEADER_SIZE;
        while (end < level.length) {
          const itemBytes = BRANCH_ELEMENT_SIZE + level[end]!.key.length;
          const taken = end - start;
          if (taken >= 2 && (size + itemBytes > this.pageSize || taken >= MAX_ELEMENTS_PER_PAGE)) break;
          size += itemBytes;
          end++;
        }
        // Never leave a single child for the last page of a level: hand it one of ours when we
        // have three or more, otherwise take it in (this page then spans overflow pages).
        if (level.length - end === 1) {
          if (end - start > 2) {
            end--;
            size -= BRANCH_ELEMENT_SIZE + level[end]!.key.length;
          } else {
            size += BRANCH_ELEMENT_SIZE + level[end]!.key.length;
            end++;
          }
        }
        const children = level.slice(start, end);
        const pgid = this.allocate(size, (page, id, overflow) => encodeBranch(page, id, overflow, children));
        next.push({ key: children[0]!.key, pgid });
        start = end;
      }
      level = next;
    }
    return level[0]!.pgid;
  }

  /** Reserves enough pages for `sizeBytes`, lets `encode` fill them, and appends them to the sink. */
  private allocate(sizeBytes: number, encode: (page: Uint8Array, id: bigint, overflow: number) => void): bigint {
    const pages = Math.max(1, Math.ceil(sizeBytes / this.pageSize));
    const id = this.nextPgid;
    this.nextPgid += BigInt(pages);
    const buffer = new Uint8Array(pages * this.pageSize);
    encode(buffer, id, pages - 1);
    this.sink.append(buffer);
    return id;
  }
}

/** Encodes a leaf page image (header, elements, then keys and values) into `page`. */
function encodeLeaf(page: Uint8Array, id: bigint, overflow: number, items: LeafItem[]): void {
  encodePageHeader(page, { id, flags: LEAF_PAGE_FLAG, count: items.length, overflow });
  const view = new DataView(page.buffer, page.byteOffset, page.length);
  let data = PAGE_HEADER_SIZE + items.length * LEAF_ELEMENT_SIZE;
  items.forEach((item, i) => {
    const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
    view.setUint32(at, item.flags, true);
    view.setUint32(at + 4, data - at, true);
    view.setUint32(at + 8, item.key.length, true);
    view.setUint32(at + 12, item.value.length, true);
    page.set(item.key, data);
    page.set(item.value, data + item.key.length);
    data += item.key.length + item.value.length;
  });
}

/** Encodes a branch page image (header, elements, then keys) into `page`. */
function encodeBranch(page: Uint8Array, id: bigint, overflow: number, children: BranchItem[]): void {
  encodePageHeader(page, { id, flags: BRANCH_PAGE_FLAG, count: children.length, overflow });
  const view = new DataView(page.buffer, page.byteOffset, page.length);
  let data = PAGE_HEADER_SIZE + children.length * BRANCH_ELEMENT_SIZE;
  children.forEach((child, i) => {
    const at = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
    view.setUint32(at, data - at, true);
    view.setUint32(at + 4, child.key.length, true);
    view.setBigUint64(at + 8, child.pgid, true);
    page.set(child.key, data);
    data += child.key.length;
  });
}
