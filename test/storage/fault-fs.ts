/**
 * A FileSystem for tests: the real file system plus injected faults (a byte budget that ends in
 * ENOSPC, short writes, failing fdatasync) and counters.
 */
import { nodeFileSystem, type FileHandle, type FileSystem } from "../../src/platform/fs.js";

export class FaultFileSystem implements FileSystem {
  /** Bytes that may still be written before writes fail with ENOSPC (Infinity: no limit). */
  bytesLeft = Infinity;
  /** When true, each write writes at most half of what it is given (at least 1 byte). */
  shortWrites = false;
  /** When true, the next fdatasync throws EIO. */
  failNextDatasync = false;
  datasyncs = 0;
  writes = 0;
  creates = 0;

  openReadWrite(path: string): FileHandle {
    return this.wrap(nodeFileSystem.openReadWrite(path));
  }
  create(path: string): FileHandle {
    this.creates++;
    return this.wrap(nodeFileSystem.create(path));
  }
  list(dir: string): string[] {
    return nodeFileSystem.list(dir);
  }
  mkdirp(dir: string): void {
    nodeFileSystem.mkdirp(dir);
  }
  exists(path: string): boolean {
    return nodeFileSystem.exists(path);
  }
  rename(from: string, to: string): void {
    nodeFileSystem.rename(from, to);
  }
  remove(path: string): void {
    nodeFileSystem.remove(path);
  }
  syncDir(dir: string): void {
    nodeFileSystem.syncDir(dir);
  }

  private wrap(inner: FileHandle): FileHandle {
    const faults = this;
    return {
      write(data: Uint8Array, position: number): number {
        faults.writes++;
        let length = data.length;
        if (faults.shortWrites && length > 1) length = Math.ceil(length / 2);
        if (length > faults.bytesLeft) {
          // Write what fits, as a real full disk does, then fail.
          if (faults.bytesLeft > 0) {
            const fit = faults.bytesLeft;
            faults.bytesLeft = 0;
            return inner.write(data.subarray(0, fit), position);
          }
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        }
        faults.bytesLeft -= length;
        return inner.write(data.subarray(0, length), position);
      },
      read: (into, position) => inner.read(into, position),
      datasync(): void {
        if (faults.failNextDatasync) {
          faults.failNextDatasync = false;
          throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
        }
        faults.datasyncs++;
        inner.datasync();
      },
      size: () => inner.size(),
      close: () => inner.close(),
    };
  }
}
