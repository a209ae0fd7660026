/**
 * Cairn's write-ahead log: the durability point of a member. Raft entries, hard states and
 * snapshot markers are appended as CRC-chained records to preallocated segment files; nothing is
 * acknowledged before the fdatasync that covers it returns.
 *
 * Usage by the raft driver, once per Ready:
 *   wal.save(ready.hardState, ready.entries); if (ready.snapshot) wal.saveSnapshot(meta); wal.sync();
 * or, when several callers in one event-loop turn should share one fdatasync (group commit):
 *   await wal.commit(hardState, entries);
 *
 * The byte layout is documented in ../schema.ts ("WAL"). Failure model: a failed write or sync
 * leaves the WAL failed; every later call throws and the process is expected to stop (as etcd
 * does), because the state of the file after a failed fdatasync is unknown.
 */
import type { Entry, HardState, SnapshotMetadata } from "../../raft/types.js";
import { EMPTY_HARD_STATE } from "../../raft/types.js";
import * as nodeFs from "node:fs";
import { nodeFileSystem, joinPath, type FileHandle, type FileSystem } from "../../platform/fs.js";
import { WAL_DEFAULT_SEGMENT_BYTES, WAL_MAX_RECORD_PAYLOAD_BYTES, WAL_RECORD_HEADER_BYTES } from "../schema.js";
import {
  WAL_RECORD_ENTRY, WAL_RECORD_HARD_STATE, WAL_RECORD_METADATA, WAL_RECORD_SEGMENT_HEADER, WAL_RECORD_SNAPSHOT,
  containsZeroSector, decodeEntry, decodeHardState, decodeSegmentHeader, decodeSnapshotMarker, encodeEntry,
  encodeHardState, encodeMetadata, encodeSegmentHeader, encodeSnapshotMarker, frameRecord, framedBytes, isZero, lastNonZero,
  readRecord, type RecordBody,
} from "./records.js";

/** Settings of a WAL. */
export interface WalOptions {
  /** Preallocated size of each segment file in bytes (default 64 MiB, as etcd). */
  segmentBytes?: number;
  /** File-system port (default: the real one). Tests pass one that injects faults. */
  fs?: FileSystem;
  /** Called with the duration of every fdatasync in seconds (for etcd_disk_wal_fsync_duration_seconds). */
  observeFsyncSeconds?: (seconds: number) => void;
  /**
   * Zero-fill the next segment in the background so that a cut only writes the opening block and
   * renames, as etcd's file pipeline does (default true). On the real file system the zeros are
   * written and synced by libuv's thread pool, off the event loop; on another FileSystem port (fault
   * injection) 1 MiB per event-loop turn. Turn off for deterministic simulation.
   */
  preallocateNextSegment?: boolean;
}

/** A zero-filled segment file being prepared for the next cut. */
interface SpareSegment {
  file: FileHandle;
  path: string;
  /** Bytes of zeros written so far. */
  filledBytes: number;
  /** Fully filled and synced. */
  ready: boolean;
}

/** A spare segment being written off the event loop. */
interface SpareJob {
  cancelled: boolean;
  path: string;
  /** The file exists (so cancelling removes it). */
  created: boolean;
}

/** Name of the spare segment; open() deletes leftovers (it ends in .wal.tmp). */
const SPARE_NAME = "spare.wal.tmp";
/**
 * Numbers the off-loop spares' file names across every Wal of the process (with the pid), so a
 * cancelled job's late removal never hits a successor, not even one of a WAL reopened in the same
 * directory by the same process.
 */
let spareSerial = 0;

/** What a WAL holds, as read on open. */
export interface WalState {
  /** The bytes given to `Wal.create`. */
  metadata: Uint8Array;
  /** The latest hard state written (EMPTY_HARD_STATE if none). */
  hardState: HardState;
  /** The latest snapshot marker written, or null. */
  snapshot: SnapshotMetadata | null;
  /** Entries after the snapshot marker's index, contiguous, with later writes of an index winning. */
  entries: Entry[];
  /** Where a torn tail was cut off on open, or null when the log ended cleanly. */
  repairedTornTail: { file: string; offset: number } | null;
}

/** The WAL refused to open because a record is damaged somewhere other than its tail. */
export class WalCorruptionError extends Error {
  readonly code = "WAL_CORRUPT";
  constructor(message: string, readonly file: string, readonly offset: number) {
    super(message);
    this.name = "WalCorruptionError";
  }
}

/** A write or sync failed (e.g. ENOSPC); the WAL accepts nothing more. */
export class WalWriteError extends Error {
  readonly code = "WAL_WRITE_FAILED";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WalWriteError";
  }
}

/** One segment file known to the WAL. */
interface SegmentInfo {
  seq: number;
  firstIndex: number;
  name: string;
}

const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const ZERO_FILL_CHUNK_BYTES = 1024 * 1024;

function segmentName(seq: number, firstIndex: number): string {
  return `${seq.toString(16).padStart(16, "0")}-${firstIndex.toString(16).padStart(16, "0")}.wal`;
}

/** Whether `dir` holds at least one WAL segment. */
export function walExists(dir: string, fs: FileSystem = nodeFileSystem): boolean {
  return fs.exists(dir) && fs.list(dir).some((name) => SEGMENT_NAME.test(name));
}

/** An open, writable WAL. */
export class Wal {
  /** Segments on disk, oldest first; the last one is open for appending. */
  private readonly segments: SegmentInfo[];
  /** Handle of the last segment. */
  private file: FileHandle;
  /** Byte offset in the last segment where the next record goes. */
  private writeOffset: number;
  /** CRC of the last record written (the chain value for the next record). */
  private lastCrc: number;
  /** Index of the last entry framed, so a cut knows the next segment's firstIndex. */
  private lastIndex: number;
  /** Latest hard state and snapshot marker framed; repeated at the start of each new segment. */
  private latestHardState: HardState;
  private latestSnapshot: SnapshotMetadata | null;
  /** Offset where the current segment's opening block ends (0 when unknown, after open). */
  private openingEnd: number;
  /** Records saved but not yet written and synced. */
  private pending: RecordBody[] = [];
  /** Segments with seq below this may be purged (set by releaseTo). */
  private releasedBeforeSeq = 0;
  /** The first write or sync error; once set, the WAL is failed. */
  private failure: unknown = null;
  /** Callers waiting for the group-commit sync scheduled for this event-loop turn. */
  private syncWaiters: { resolve: () => void; reject: (e: unknown) => void }[] | null = null;
  private readonly fs: FileSystem;
  private readonly segmentBytes: number;
  private readonly observeFsyncSeconds: ((seconds: number) => void) | undefined;
  private readonly preallocateNext: boolean;
  /** The next segment, prepared in the background; null when none is under way. */
  private spare: SpareSegment | null = null;
  /** A background preparation step is scheduled. */
  private spareStepScheduled = false;
  /** The spare being prepared off the event loop (real file system only); null when none. */
  private spareJob: SpareJob | null = null;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly metadata: Uint8Array,
    options: WalOptions,
    init: { segments: SegmentInfo[]; file: FileHandle; writeOffset: number; lastCrc: number; lastIndex: number; hardState: HardState; snapshot: SnapshotMetadata | null; openingEnd: number },
  ) {
    this.fs = options.fs ?? nodeFileSystem;
    this.segmentBytes = options.segmentBytes ?? WAL_DEFAULT_SEGMENT_BYTES;
    this.observeFsyncSeconds = options.observeFsyncSeconds;
    this.preallocateNext = options.preallocateNextSegment ?? true;
    this.segments = init.segments;
    this.file = init.file;
    this.writeOffset = init.writeOffset;
    this.lastCrc = init.lastCrc;
    this.lastIndex = init.lastIndex;
    this.latestHardState = init.hardState;
    this.latestSnapshot = init.snapshot;
    this.openingEnd = init.openingEnd;
    this.scheduleSpare();
  }

  /** Creates a new WAL in `dir` (created if missing; must not already hold a WAL) holding `metadata`. */
  static create(dir: string, metadata: Uint8Array, options: WalOptions = {}): Wal {
    const fs = options.fs ?? nodeFileSystem;
    if (walExists(dir, fs)) throw new Error(`wal: ${dir} already holds a WAL`);
    fs.mkdirp(dir);
    const segmentBytes = options.segmentBytes ?? WAL_DEFAULT_SEGMENT_BYTES;
    const first = writeSegment(fs, dir, segmentBytes, { seq: 0, firstIndex: 1, chainCrc: 0 }, metadata, EMPTY_HARD_STATE, null);
    return new Wal(dir, metadata, options, {
      segments: [{ seq: 0, firstIndex: 1, name: segmentName(0, 1) }],
      file: first.file, writeOffset: first.end, lastCrc: first.crc, lastIndex: 0, hardState: EMPTY_HARD_STATE, snapshot: null, openingEnd: first.end,
    });
  }

  /**
   * Opens the WAL in `dir`, reads everything, cuts off a torn tail, and returns the WAL ready for
   * appending after the last good record. Throws WalCorruptionError on damage elsewhere.
   */
  static open(dir: string, options: WalOptions = {}): { wal: Wal; state: WalState } {
    const fs = options.fs ?? nodeFileSystem;
    for (const name of fs.list(dir)) if (name.endsWith(".wal.tmp")) fs.remove(joinPath(dir, name));
    const segments = listSegments(fs, dir);
    if (segments.length > 1 && isUnfinishedSegment(fs, joinPath(dir, segments[segments.length - 1]!.name))) {
      // Never completed, so nothing in it was acknowledged; appending continues in its predecessor.
      fs.remove(joinPath(dir, segments.pop()!.name));
    }
    const reader = new WalReader(fs, dir);
    let tail: { file: FileHandle; end: number; crc: number } | null = null;
    for (let i = 0; i < segments.length; i++) {
      const isLast = i === segments.length - 1;
      const outcome = reader.readSegment(segments[i]!, isLast);
      if (isLast) tail = outcome;
      else outcome.file.close();
    }
    if (tail === null) throw new WalCorruptionError(`wal: no readable segment in ${dir}`, dir, 0);
    const state = reader.finish();
    const wal = new Wal(dir, state.metadata, options, {
      segments, file: tail.file, writeOffset: tail.end, lastCrc: tail.crc, lastIndex: reader.lastIndexWritten,
      hardState: state.hardState, snapshot: state.snapshot, openingEnd: 0,
    });
    return { wal, state };
  }

  /**
   * The metadata given to `Wal.create`, from the opening block of the oldest segment alone: no
   * replay and no repair (a restart reads its identity first and opens the WAL afterwards).
   */
  static readMetadata(dir: string, options: { fs?: FileSystem } = {}): Uint8Array {
    const fs = options.fs ?? nodeFileSystem;
    const path = joinPath(dir, listSegments(fs, dir)[0]!.name);
    const file = fs.openReadWrite(path);
    try {
      const image = new SegmentImage(file);
      const head = image.readRecordAt(0, 0);
      if (head.kind !== "record" || head.body.type !== WAL_RECORD_SEGMENT_HEADER) throw new WalCorruptionError(`wal: ${path} does not start with a segment header`, path, 0);
      const meta = image.readRecordAt(head.next, head.crc);
      if (meta.kind !== "record" || meta.body.type !== WAL_RECORD_METADATA) throw new WalCorruptionError(`wal: no metadata record after the segment header of ${path}`, path, head.next);
      return meta.body.payload.slice();
    } finally {
      file.close();
    }
  }

  /** Queues a hard state (skipped when null or empty) and entries; durable only after sync(). */
  save(hardState: HardState | null, entries: readonly Entry[]): void {
    this.assertUsable();
    for (const entry of entries) this.pending.push(encodeEntry(entry));
    if (hardState !== null && !(hardState.term === 0 && hardState.vote === 0n && hardState.commit === 0)) {
      this.pending.push(encodeHardState(hardState));
    }
  }

  /** Queues a snapshot marker: entries up to `meta.index` are in the backend's snapshot. */
  saveSnapshot(meta: SnapshotMetadata): void {
    this.assertUsable();
    this.pending.push(encodeSnapshotMarker(meta));
  }

  /** Writes every queued record and fdatasyncs once; returns when they are durable. */
  sync(): void {
    this.assertUsable();
    if (this.pending.length === 0) return;
    const records = this.pending;
    this.pending = [];
    try {
      this.writeRecords(records);
    } catch (error) {
      this.failure = error;
      throw new WalWriteError(`wal: write to ${joinPath(this.dir, this.currentSegment().name)} failed: ${describe(error)}`, { cause: error });
    }
  }

  /**
   * Group commit: queues the records and resolves once they are durable. All calls made in the
   * same event-loop turn share one write and one fdatasync.
   */
  commit(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    this.save(hardState, entries);
    return new Promise((resolve, reject) => {
      if (this.syncWaiters === null) {
        this.syncWaiters = [];
        setImmediate(() => this.runGroupSync());
      }
      this.syncWaiters.push({ resolve, reject });
    });
  }

  /**
   * Allows segments that hold only entries at or below `index` to be purged. Call it only after a
   * snapshot marker with index ≥ `index` is synced and the backend holding that state is durable.
   * The segment containing `index` itself is kept.
   */
  releaseTo(index: number): void {
    let keepFrom = 0;
    for (let i = 0; i < this.segments.length; i++) if (this.segments[i]!.firstIndex <= index) keepFrom = i;
    this.releasedBeforeSeq = Math.max(this.releasedBeforeSeq, this.segments[keepFrom]!.seq);
  }

  /**
   * Deletes released segments, oldest first, until at most `maxSegments` remain (etcd's
   * --max-wals; 0 means keep all). Returns the names of the deleted files.
   */
  purge(maxSegments: number): string[] {
    const removed: string[] = [];
    if (maxSegments <= 0) return removed;
    while (this.segments.length > maxSegments && this.segments.length > 1 && this.segments[0]!.seq < this.releasedBeforeSeq) {
      const oldest = this.segments.shift()!;
      this.fs.remove(joinPath(this.dir, oldest.name));
      removed.push(oldest.name);
    }
    if (removed.length > 0) this.fs.syncDir(this.dir);
    return removed;
  }

  /** File names of the current segments, oldest first. */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name);
  }

  /** Closes the WAL; unsynced records are dropped. */
  close(): void {
    this.pending = [];
    this.closed = true;
    this.cancelSpareJob();
    this.dropSpare();
    this.file.close();
    this.failure ??= new Error("wal: closed");
  }

  /** Whether a fully zero-filled, synced spare segment is waiting for the next cut (for tests). */
  spareReady(): boolean {
    return this.spare?.ready === true;
  }

  private scheduleSpare(): void {
    if (!this.preallocateNext || this.spareStepScheduled || this.closed || this.spare?.ready === true) return;
    if (this.fs === nodeFileSystem) {
      if (this.spareJob === null && this.spare === null) this.prepareSpareOffLoop();
      return;
    }
    this.spareStepScheduled = true;
    setImmediate(() => {
      this.spareStepScheduled = false;
      this.spareStep();
    });
  }

  /**
   * Prepares the spare with asynchronous node:fs calls (thread pool): zeros in 1 MiB writes, a
   * sync every 8 MiB and at the end, then the file is handed to the WAL as a ready spare. A cut or
   * close in the meantime cancels it; the job then closes and removes its own file. Failures only
   * cost the optimisation: the next cut creates its segment in line and reports any error.
   */
  private prepareSpareOffLoop(): void {
    const job: SpareJob = { cancelled: false, path: joinPath(this.dir, `spare-${process.pid}-${++spareSerial}.wal.tmp`), created: false };
    this.spareJob = job;
    const path = job.path;
    const size = this.segmentBytes;
    const zeros = new Uint8Array(Math.min(ZERO_FILL_CHUNK_BYTES, size));
    let fd = -1;
    const abandon = (): void => {
      if (this.spareJob === job) this.spareJob = null;
      const remove = (): void => nodeFs.rm(path, { force: true }, () => undefined);
      if (fd < 0) return remove();
      const open = fd;
      fd = -1;
      nodeFs.close(open, remove);
    };
    const finish = (): void => {
      nodeFs.fdatasync(fd, (syncError) => {
        if (syncError !== null || job.cancelled) return abandon();
        const open = fd;
        fd = -1;
        nodeFs.close(open, (closeError) => {
          if (closeError !== null || job.cancelled) return abandon();
          this.spareJob = null;
          try {
            this.spare = { file: this.fs.openReadWrite(path), path, filledBytes: size, ready: true };
          } catch {
            abandon();
          }
        });
      });
    };
    const fill = (at: number): void => {
      if (job.cancelled) return abandon();
      if (at >= size) return finish();
      nodeFs.write(fd, zeros, 0, Math.min(zeros.length, size - at), at, (error, written) => {
        if (error !== null || written <= 0 || job.cancelled) return abandon();
        const next = at + written;
        if (next < size && next % (8 * ZERO_FILL_CHUNK_BYTES) === 0) nodeFs.fdatasync(fd, (e) => (e === null ? fill(next) : abandon()));
        else fill(next);
      });
    };
    // Started in a later turn, like the in-loop steps; the file is created synchronously (cheap)
    // so that cancelling can remove it at once, and only the zeros and syncs go to the pool.
    setImmediate(() => {
      if (job.cancelled) return;
      try {
        fd = nodeFs.openSync(path, "w+");
        job.created = true;
      } catch {
        return abandon();
      }
      fill(0);
    });
  }

  /** Stops the spare under way; its file goes now, its descriptor when the pending call returns. */
  private cancelSpareJob(): void {
    const job = this.spareJob;
    if (job === null) return;
    job.cancelled = true;
    this.spareJob = null;
    if (!job.created) return;
    try {
      nodeFs.rmSync(job.path, { force: true });
    } catch {
      // Leftovers are removed by the next open.
    }
  }

  /** One background step: zero-fill the next chunk of the spare segment, then sync it. */
  private spareStep(): void {
    if (this.closed || this.failure !== null) return;
    try {
      if (this.spare === null) {
        const path = joinPath(this.dir, SPARE_NAME);
        this.spare = { file: this.fs.create(path), path, filledBytes: 0, ready: false };
      }
      const spare = this.spare;
      const n = Math.min(ZERO_FILL_CHUNK_BYTES, this.segmentBytes - spare.filledBytes);
      if (n > 0) {
        writeAll(spare.file, new Uint8Array(n), spare.filledBytes);
        spare.filledBytes += n;
        // Sync as we go so the final sync (and the kernel's writeback) never has 64 MiB to flush at once.
        if (spare.filledBytes % (8 * ZERO_FILL_CHUNK_BYTES) === 0) spare.file.datasync();
      }
      if (spare.filledBytes >= this.segmentBytes) {
        spare.file.datasync();
        spare.ready = true;
        return;
      }
    } catch {
      // Only an optimisation: the next cut creates its segment in line and reports any error.
      this.dropSpare();
      return;
    }
    this.scheduleSpare();
  }

  private dropSpare(): void {
    const spare = this.spare;
    this.spare = null;
    if (spare === null) return;
    try {
      spare.file.close();
      this.fs.remove(spare.path);
    } catch {
      // Leftovers are removed by the next open.
    }
  }

  private runGroupSync(): void {
    const waiters = this.syncWaiters ?? [];
    this.syncWaiters = null;
    try {
      this.sync();
    } catch (error) {
      for (const w of waiters) w.reject(error);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  private assertUsable(): void {
    if (this.failure !== null) throw new WalWriteError(`wal: unusable after an earlier failure: ${describe(this.failure)}`, { cause: this.failure });
  }

  private currentSegment(): SegmentInfo {
    return this.segments[this.segments.length - 1]!;
  }

  /** Frames records into the current segment, cutting new segments when one is full. */
  private writeRecords(records: RecordBody[]): void {
    let chunk = new Uint8Array(records.reduce((sum, r) => sum + framedBytes(r.payload.length), 0));
    let chunkBytes = 0;
    for (const record of records) {
      const size = framedBytes(record.payload.length);
      if (this.writeOffset + chunkBytes + size > this.segmentBytes && (chunkBytes > 0 || this.segmentHasRecords())) {
        this.writeFully(chunk.subarray(0, chunkBytes), this.writeOffset);
        this.writeOffset += chunkBytes;
        this.timedDatasync(this.file);
        this.cut();
        chunk = chunk.subarray(chunkBytes);
        chunkBytes = 0;
      }
      this.lastCrc = frameRecord(chunk, chunkBytes, record, this.lastCrc);
      chunkBytes += size;
      this.noteFramed(record);
    }
    this.writeFully(chunk.subarray(0, chunkBytes), this.writeOffset);
    this.writeOffset += chunkBytes;
    this.timedDatasync(this.file);
  }

  /** Whether the current segment holds anything beyond its opening block. */
  private segmentHasRecords(): boolean {
    return this.writeOffset > this.openingEnd;
  }

  private noteFramed(record: RecordBody): void {
    if (record.type === WAL_RECORD_ENTRY) this.lastIndex = entryIndexOf(record.payload);
    else if (record.type === WAL_RECORD_HARD_STATE) this.latestHardState = decodeHardState(record.payload);
    else if (record.type === WAL_RECORD_SNAPSHOT) this.latestSnapshot = decodeSnapshotMarker(record.payload);
  }

  /** Starts the next segment; the previous one must already be synced. */
  private cut(): void {
    const seq = this.currentSegment().seq + 1;
    const firstIndex = this.lastIndex + 1;
    const header = { seq, firstIndex, chainCrc: this.lastCrc };
    let next: { file: FileHandle; end: number; crc: number };
    const spare = this.spare;
    if (spare !== null && spare.ready) {
      this.spare = null;
      next = finishSegment(this.fs, this.dir, spare.file, spare.path, header, this.metadata, this.latestHardState, this.latestSnapshot);
    } else {
      this.cancelSpareJob();
      this.dropSpare();
      next = writeSegment(this.fs, this.dir, this.segmentBytes, header, this.metadata, this.latestHardState, this.latestSnapshot);
    }
    this.file.close();
    this.file = next.file;
    this.writeOffset = next.end;
    this.lastCrc = next.crc;
    this.openingEnd = next.end;
    this.segments.push({ seq, firstIndex, name: segmentName(seq, firstIndex) });
    this.scheduleSpare();
  }

  private writeFully(data: Uint8Array, position: number): void {
    writeAll(this.file, data, position);
  }

  private timedDatasync(file: FileHandle): void {
    const started = this.observeFsyncSeconds === undefined ? 0 : performance.now();
    file.datasync();
    if (this.observeFsyncSeconds !== undefined) this.observeFsyncSeconds((performance.now() - started) / 1000);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The index field of an entry payload, without copying the data. */
function entryIndexOf(payload: Uint8Array): number {
  return Number(new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getBigUint64(8, true));
}

/** Writes all of `data` at `position`, retrying short writes. */
function writeAll(file: FileHandle, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    const n = file.write(data.subarray(done), position + done);
    if (n <= 0) throw new Error(`short write: wrote ${done} of ${data.length} bytes`);
    done += n;
  }
}

/** Records every segment starts with. */
function openingBlock(header: { seq: number; firstIndex: number; chainCrc: number }, metadata: Uint8Array, hardState: HardState, snapshot: SnapshotMetadata | null): RecordBody[] {
  const block = [encodeSegmentHeader(header), encodeMetadata(metadata), encodeHardState(hardState)];
  if (snapshot !== null) block.push(encodeSnapshotMarker(snapshot));
  return block;
}

/**
 * Creates a segment in line: zero-filled to its full size under a temporary name, then finished
 * by finishSegment. Returns the open handle, the offset after the opening block and the chain CRC.
 */
function writeSegment(
  fs: FileSystem, dir: string, segmentBytes: number, header: { seq: number; firstIndex: number; chainCrc: number },
  metadata: Uint8Array, hardState: HardState, snapshot: SnapshotMetadata | null,
): { file: FileHandle; end: number; crc: number } {
  const tmpPath = joinPath(dir, segmentName(header.seq, header.firstIndex) + ".tmp");
  const file = fs.create(tmpPath);
  try {
    const zeros = new Uint8Array(Math.min(ZERO_FILL_CHUNK_BYTES, segmentBytes));
    for (let at = 0; at < segmentBytes; at += zeros.length) writeAll(file, zeros.subarray(0, Math.min(zeros.length, segmentBytes - at)), at);
  } catch (error) {
    file.close();
    fs.remove(tmpPath);
    throw error;
  }
  return finishSegment(fs, dir, file, tmpPath, header, metadata, hardState, snapshot);
}

/**
 * Turns a zero-filled temporary file into the segment named by `header`: writes the opening
 * block, fdatasyncs, renames it into place and syncs the directory. Removes the file on failure.
 */
function finishSegment(
  fs: FileSystem, dir: string, file: FileHandle, tmpPath: string, header: { seq: number; firstIndex: number; chainCrc: number },
  metadata: Uint8Array, hardState: HardState, snapshot: SnapshotMetadata | null,
): { file: FileHandle; end: number; crc: number } {
  try {
    const block = openingBlock(header, metadata, hardState, snapshot);
    const image = new Uint8Array(block.reduce((sum, r) => sum + framedBytes(r.payload.length), 0));
    let crc = 0;
    let at = 0;
    for (const record of block) {
      crc = frameRecord(image, at, record, crc);
      at += framedBytes(record.payload.length);
    }
    writeAll(file, image, 0);
    file.datasync();
    fs.rename(tmpPath, joinPath(dir, segmentName(header.seq, header.firstIndex)));
    fs.syncDir(dir);
    return { file, end: image.length, crc };
  } catch (error) {
    file.close();
    fs.remove(tmpPath);
    throw error;
  }
}

function listSegments(fs: FileSystem, dir: string): SegmentInfo[] {
  const segments: SegmentInfo[] = [];
  for (const name of fs.list(dir)) {
    const match = SEGMENT_NAME.exec(name);
    if (match === null) continue;
    segments.push({ seq: parseInt(match[1]!, 16), firstIndex: parseInt(match[2]!, 16), name });
  }
  segments.sort((a, b) => a.seq - b.seq);
  if (segments.length === 0) throw new Error(`wal: no segment files in ${dir}`);
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
      throw new WalCorruptionError(`wal: segment ${segments[i - 1]!.name} is followed by ${segments[i]!.name}; a segment is missing`, joinPath(dir, segments[i]!.name), 0);
    }
  }
  return segments;
}

/** Whether the file at `path` holds no segment header at all (zeros or shorter than a header). */
function isUnfinishedSegment(fs: FileSystem, path: string): boolean {
  const file = fs.openReadWrite(path);
  try {
    const image = readWhole(file);
    return readRecord(image, 0, 0).kind !== "record" && isZero(image, Math.min(image.length, framedBytes(0)), image.length);
  } finally {
    file.close();
  }
}

function readWhole(file: FileHandle): Uint8Array {
  const image = new SegmentImage(file);
  image.ensure(Infinity);
  return image.bytes;
}

/**
 * The bytes of a segment file, read on demand from the start: reading stops where the records
 * end, so opening a WAL does not read the preallocated zeros of every full segment.
 */
class SegmentImage {
  /** The loaded prefix of the file. */
  bytes: Uint8Array = new Uint8Array(0);
  private readonly fileBytes: number;

  constructor(private readonly file: FileHandle) {
    this.fileBytes = file.size();
  }

  /** Loads at least the first `end` bytes (or the whole file when shorter), growing geometrically. */
  ensure(end: number): void {
    if (end <= this.bytes.length || this.bytes.length >= this.fileBytes) return;
    const target = Math.min(this.fileBytes, Math.max(end, this.bytes.length * 2, 1 << 20));
    const grown = new Uint8Array(target);
    grown.set(this.bytes);
    let done = this.bytes.length;
    while (done < target) {
      const n = this.file.read(grown.subarray(done), done);
      if (n <= 0) break;
      done += n;
    }
    this.bytes = grown.subarray(0, done);
  }

  /** readRecord on the loaded prefix, after loading whatever the record at `offset` needs. */
  readRecordAt(offset: number, previousCrc: number): ReturnType<typeof readRecord> {
    this.ensure(offset + WAL_RECORD_HEADER_BYTES);
    if (offset + WAL_RECORD_HEADER_BYTES <= this.bytes.length) {
      const length = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).getUint32(offset, true);
      this.ensure(offset + framedBytes(Math.min(length, WAL_MAX_RECORD_PAYLOAD_BYTES)));
    }
    return readRecord(this.bytes, offset, previousCrc);
  }
}

/** Accumulates the WAL's state while its segments are read in order. */
class WalReader {
  private metadata: Uint8Array | null = null;
  private hardState: HardState = EMPTY_HARD_STATE;
  private snapshot: SnapshotMetadata | null = null;
  private entries: Entry[] = [];
  private previousCrc: number | null = null;
  private repaired: { file: string; offset: number } | null = null;
  /** Index of the last entry record read (before truncation by snapshots). */
  lastIndexWritten = 0;

  constructor(private readonly fs: FileSystem, private readonly dir: string) {}

  /**
   * Reads one segment. Returns the open handle, the append position and the chain CRC there.
   */
  readSegment(segment: SegmentInfo, isLast: boolean): { file: FileHandle; end: number; crc: number } {
    const path = joinPath(this.dir, segment.name);
    const file = this.fs.openReadWrite(path);
    const segmentImage = new SegmentImage(file);
    const corrupt = (offset: number, why: string): never => {
      file.close();
      throw new WalCorruptionError(`wal: corrupt WAL segment ${path} at offset ${offset}: ${why}; refusing to start (repair or restore the member from a snapshot)`, path, offset);
    };

    const head = segmentImage.readRecordAt(0, 0);
    if (head.kind !== "record" || head.body.type !== WAL_RECORD_SEGMENT_HEADER) {
      return corrupt(0, head.kind === "bad" ? `segment header: ${head.problem}` : "missing segment header");
    }
    const header = decodeSegmentHeader(head.body.payload);
    if (header.seq !== segment.seq || header.firstIndex !== segment.firstIndex) corrupt(0, "segment header does not match the file name");
    if (this.previousCrc !== null && header.chainCrc !== this.previousCrc) {
      corrupt(0, "the previous segment ends early (its last record is not the one this segment chains from)");
    }

    let offset = head.next;
    let crc = head.crc;
    for (;;) {
      const outcome = segmentImage.readRecordAt(offset, crc);
      if (outcome.kind === "end") break;
      if (outcome.kind === "bad") {
        // Deciding "torn or corrupt" looks at everything after the record.
        segmentImage.ensure(Infinity);
        const image = segmentImage.bytes;
        const torn = isLast && (isZero(image, outcome.extentEnd, image.length) ||
          (containsZeroSector(image, offset, outcome.extentEnd) && !followedByChainedRecord(image, offset)));
        if (!torn) corrupt(offset, outcome.problem);
        this.repaired = { file: path, offset };
        break;
      }
      this.apply(outcome.body, () => corrupt(offset, "record payload does not decode"));
      crc = outcome.crc;
      offset = outcome.next;
    }
    if (isLast) {
      segmentImage.ensure(Infinity);
      zeroTail(file, segmentImage.bytes, offset);
    }
    this.previousCrc = crc;
    return { file, end: offset, crc };
  }

  private apply(body: RecordBody, onBadPayload: () => never): void {
    try {
      switch (body.type) {
        case WAL_RECORD_METADATA:
          this.metadata ??= body.payload.slice();
          break;
        case WAL_RECORD_HARD_STATE:
          this.hardState = decodeHardState(body.payload);
          break;
        case WAL_RECORD_SNAPSHOT:
          this.snapshot = decodeSnapshotMarker(body.payload);
          break;
        case WAL_RECORD_ENTRY:
          this.appendEntry(decodeEntry(body.payload));
          break;
        default:
          onBadPayload();
      }
    } catch (error) {
      if (error instanceof WalCorruptionError) throw error;
      onBadPayload();
    }
  }

  /** Appends an entry, replacing any entries at its index or later (a Raft log truncation). */
  private appendEntry(entry: Entry): void {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && entry.index <= last.index) {
      let keep = this.entries.length;
      while (keep > 0 && this.entries[keep - 1]!.index >= entry.index) keep--;
      this.entries.length = keep;
    }
    this.entries.push(entry);
    this.lastIndexWritten = entry.index;
  }

  finish(): WalState {
    const snapshotIndex = this.snapshot?.index ?? 0;
    const entries = this.entries.filter((e) => e.index > snapshotIndex);
    for (let i = 0; i < entries.length; i++) {
      const expected = i === 0 ? snapshotIndex + 1 : entries[i - 1]!.index + 1;
      if (entries[i]!.index !== expected) {
        throw new WalCorruptionError(`wal: entries in ${this.dir} are not contiguous: expected index ${expected}, found ${entries[i]!.index}`, this.dir, 0);
      }
    }
    return { metadata: this.metadata ?? new Uint8Array(0), hardState: this.hardState, snapshot: this.snapshot, entries, repairedTornTail: this.repaired };
  }
}

/**
 * Whether the record after the (bad) record at `offset` is valid when chained from the bad
 * record's stored CRC: then only the bad record's payload was damaged and the log goes on past
 * it, which is corruption, not a torn write (a payload may legitimately hold zeroed sectors).
 */
function followedByChainedRecord(image: Uint8Array, offset: number): boolean {
  if (offset + WAL_RECORD_HEADER_BYTES > image.length) return false;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const length = view.getUint32(offset, true);
  const storedCrc = view.getUint32(offset + 4, true);
  if (length > WAL_MAX_RECORD_PAYLOAD_BYTES) return false;
  const next = offset + framedBytes(length);
  return next < image.length && readRecord(image, next, storedCrc).kind === "record";
}

/** Zeroes any bytes after `offset` (leftovers of a torn write) so later appends read back cleanly. */
function zeroTail(file: FileHandle, image: Uint8Array, offset: number): void {
  const last = lastNonZero(image, offset);
  if (last < offset) return;
  writeAll(file, new Uint8Array(last + 1 - offset), offset);
  file.datasync();
}
