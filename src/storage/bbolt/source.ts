/**
 * Byte sources the bbolt reader reads pages from: a file read on demand (so large snapshot files are
 * never loaded whole) or a buffer already in memory.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { BboltFormatError } from "./errors.js";

/** Random-access, read-only bytes. */
export interface ByteSource {
  /** Total number of bytes available. */
  readonly sizeBytes: number;
  /** Returns exactly `length` bytes starting at `offset`; the caller checks bounds first. */
  read(offset: number, length: number): Uint8Array;
}

/** A source over bytes already in memory. */
export class BufferSource implements ByteSource {
  readonly sizeBytes: number;
  constructor(private readonly bytes: Uint8Array) {
    this.sizeBytes = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }
}

/** A source over an open file, read with positional reads. `close()` releases the descriptor. */
export class FileSource implements ByteSource {
  readonly sizeBytes: number;
  private fd: number | undefined;

  /**
   * @param path file to read
   * @param limitBytes treat the file as this long (e.g. to leave out a snapshot's sha256 trailer)
   */
  constructor(path: string, limitBytes?: number) {
    this.fd = openSync(path, "r");
    const fileSize = fstatSync(this.fd).size;
    this.sizeBytes = limitBytes === undefined ? fileSize : Math.min(limitBytes, fileSize);
  }

  read(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new Error("FileSource: read after close");
    const out = Buffer.alloc(length);
    let done = 0;
    // Each successful read makes progress; a zero-byte read means the file shrank under us.
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, offset + done);
      if (n === 0) throw new BboltFormatError("TRUNCATED", `unexpected end of file at byte ${offset + done} (did the file shrink?)`);
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
