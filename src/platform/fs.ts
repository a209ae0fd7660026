/**
 * The file-system port used by storage code that manages its own files (the WAL). Synchronous on
 * purpose: a WAL append is one positioned write plus one fdatasync, and the research numbers
 * (node-deps.md, WAL section) show the synchronous calls cost about half of the libuv round trip.
 * Tests substitute an implementation that injects faults (ENOSPC, short writes, failed syncs).
 */
import * as nodeFs from "node:fs";
import { join } from "node:path";

/** An open file. Positions and lengths are byte counts. */
export interface FileHandle {
  /** Writes from `data` at `position`; may write fewer bytes than asked (returns how many). */
  write(data: Uint8Array, position: number): number;
  /** Reads into `into` from `position`; returns bytes read (0 at end of file). */
  read(into: Uint8Array, position: number): number;
  /** Flushes the file's data (and the metadata needed to read it) to stable storage. */
  datasync(): void;
  /** Current length in bytes. */
  size(): number;
  close(): void;
}

/** The directory and file operations the WAL needs. Paths are plain strings. */
export interface FileSystem {
  /** Opens an existing file for reading and writing. */
  openReadWrite(path: string): FileHandle;
  /** Creates (or truncates) a file for reading and writing. */
  create(path: string): FileHandle;
  /** Names (not paths) of the entries of a directory. */
  list(dir: string): string[];
  /** Creates a directory and its parents if missing. */
  mkdirp(dir: string): void;
  exists(path: string): boolean;
  rename(from: string, to: string): void;
  remove(path: string): void;
  /** fsyncs a directory so that creations, renames and removals in it are durable. */
  syncDir(dir: string): void;
}

class NodeFileHandle implements FileHandle {
  constructor(private readonly fd: number) {}
  write(data: Uint8Array, position: number): number {
    return nodeFs.writeSync(this.fd, data, 0, data.length, position);
  }
  read(into: Uint8Array, position: number): number {
    return nodeFs.readSync(this.fd, into, 0, into.length, position);
  }
  datasync(): void {
    nodeFs.fdatasyncSync(this.fd);
  }
  size(): number {
    return nodeFs.fstatSync(this.fd).size;
  }
  close(): void {
    nodeFs.closeSync(this.fd);
  }
}

/** The real file system, through node:fs synchronous calls. */
export const nodeFileSystem: FileSystem = {
  openReadWrite: (path) => new NodeFileHandle(nodeFs.openSync(path, "r+")),
  create: (path) => new NodeFileHandle(nodeFs.openSync(path, "w+")),
  list: (dir) => nodeFs.readdirSync(dir),
  mkdirp: (dir) => void nodeFs.mkdirSync(dir, { recursive: true }),
  exists: (path) => nodeFs.existsSync(path),
  rename: (from, to) => nodeFs.renameSync(from, to),
  remove: (path) => nodeFs.rmSync(path, { force: true }),
  syncDir: (dir) => {
    const fd = nodeFs.openSync(dir, "r");
    try {
      nodeFs.fsyncSync(fd);
    } finally {
      nodeFs.closeSync(fd);
    }
  },
};

/** Joins path segments (re-exported so callers need not import node:path for the port). */
export { join as joinPath };
