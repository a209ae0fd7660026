/**
 * The watchable store: etcd 3.4's watchableStore (mvcc/watchable_store.go) over Cairn's MVCC.
 *
 * Watchers live in one of three places:
 * - synced: caught up with the store; every write transaction's events go to them at once
 *   (`notify`), one response per transaction, so the events of one txn always arrive together;
 * - unsynced: behind (created with a start revision in the past, or demoted after being a victim);
 *   `sync` replays their history from the MVCC index in batches of at most `maxRevisionsPerBatch`
 *   revisions (never splitting a revision) for at most `maxWatchersPerSync` watchers per round, and
 *   cancels with `compactRevision` a watcher whose next revision was compacted away;
 * - victims: their stream's bounded buffer was full; each holds exactly the one batch that did not
 *   fit and receives nothing else until that batch is delivered, then catches up from history.
 * So a stalled consumer costs at most its stream buffer plus one batch per watcher: memory stays
 * bounded however far the store runs ahead.
 *
 * The change feed is this class's `write()`: a wrapper of the MVCC write transaction whose `end()`
 * turns the transaction's changes into events and notifies the synced watchers (as etcd's
 * watchableStoreTxnWrite does). Every writer of the keyspace must write through it.
 *
 * Synchronous and single-threaded like the MVCC store. Nothing here reads a clock: the server
 * drives `sync()` on a timer and whenever `onSyncNeeded` asks for it.
 */
import { keyString } from "../backend/backend.js";
import type { MvccStore, RangeOptions, RangeResult, TxnWrite } from "../mvcc/index.js";
import type { KeyValue, Revision } from "../schema.js";

/** mvccpb.Event.EventType numbers. */
export enum EventType {
  Put = 0,
  Delete = 1,
}

/** One change of one key. DELETE events carry only the key and the deleting revision. */
export interface WatchEvent {
  type: EventType;
  kv: KeyValue;
}

/** What a watch stream delivers (etcd's mvcc.WatchResponse). */
export interface WatchResponse {
  watchId: bigint;
  /** Events in revision order; empty for a progress notification or a compaction cancel. */
  events: WatchEvent[];
  /**
   * Store revision the response reflects: the txn's revision for live events, the store revision
   * at catch-up time for history, 0 for a compaction cancel.
   */
  revision: number;
  /** Non-zero: the watcher was canceled because this revision was compacted. */
  compactRevision: number;
}

/** Which events a watcher drops (WatchCreateRequest.FilterType). */
export interface WatchFilters {
  noPut?: boolean;
  noDelete?: boolean;
}

/** Limits of the watchable store. */
export interface WatchableStoreOptions {
  /** Responses a stream buffers before its watchers become victims (etcd's chanBufLen). */
  streamBufferResponses?: number;
  /** Unsynced watchers handled per sync round (etcd's maxWatchersPerSync). */
  maxWatchersPerSync?: number;
  /** Revisions per catch-up response (etcd's watchBatchMaxRevs). */
  maxRevisionsPerBatch?: number;
  /** Called when `sync()` has work (a new unsynced watcher, a drained stream with victims). */
  onSyncNeeded?: () => void;
}

export const DEFAULT_STREAM_BUFFER_RESPONSES = 128;
export const DEFAULT_MAX_WATCHERS_PER_SYNC = 512;
export const DEFAULT_MAX_REVISIONS_PER_BATCH = 1000;

/** Errors of WatchStream.watch, with etcd's messages (mvcc/watcher.go). */
export class WatchError extends Error {
  constructor(message: "mvcc: watcher range is empty" | "mvcc: duplicate watch ID provided on the WatchStream") {
    super(message);
    this.name = "WatchError";
  }
}

/** A watcher: a key or range, the next revision it needs, and where its responses go. */
class Watcher {
  /** Next revision this watcher has not seen. */
  minRev: number;
  /** Its pending batch did not fit the stream buffer; it gets nothing else until that is delivered. */
  victim = false;
  /** Canceled for compaction (the cancel response was delivered). */
  compacted = false;

  constructor(
    readonly id: bigint,
    readonly key: Uint8Array,
    /** null: the single key; empty: every key ≥ key; else [key, end). */
    readonly end: Uint8Array | null,
    startRev: number,
    readonly filters: WatchFilters,
    readonly stream: WatchStream,
  ) {
    this.minRev = startRev;
  }

  contains(key: Uint8Array): boolean {
    if (this.end === null) return Buffer.compare(key, this.key) === 0;
    if (Buffer.compare(key, this.key) < 0) return false;
    return this.end.length === 0 || Buffer.compare(key, this.end) < 0;
  }

  /**
   * Filters and enqueues. A response whose events were all filtered out counts as delivered;
   * false means the stream buffer is full.
   */
  send(response: WatchResponse): boolean {
    const progress = response.events.length === 0;
    if (this.filters.noPut === true || this.filters.noDelete === true) {
      response = { ...response, events: response.events.filter((e) => !this.filtered(e)) };
      if (!progress && response.events.length === 0) return true;
    }
    return this.stream.enqueue(response);
  }

  private filtered(event: WatchEvent): boolean {
    return event.type === EventType.Put ? this.filters.noPut === true : this.filters.noDelete === true;
  }
}

/** A set of watchers: single-key ones by key, range ones in a list. */
class WatcherGroup {
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly ranges = new Set<Watcher>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(w: Watcher): void {
    if (w.end === null) {
      const k = keyString(w.key);
      let set = this.byKey.get(k);
      if (set === undefined) this.byKey.set(k, (set = new Set()));
      if (set.has(w)) return;
      set.add(w);
    } else {
      if (this.ranges.has(w)) return;
      this.ranges.add(w);
    }
    this.count++;
  }

  delete(w: Watcher): boolean {
    let removed: boolean;
    if (w.end === null) {
      const k = keyString(w.key);
      const set = this.byKey.get(k);
      removed = set?.delete(w) ?? false;
      if (set !== undefined && set.size === 0) this.byKey.delete(k);
    } else {
      removed = this.ranges.delete(w);
    }
    if (removed) this.count--;
    return removed;
  }

  has(w: Watcher): boolean {
    return w.end === null ? (this.byKey.get(keyString(w.key))?.has(w) ?? false) : this.ranges.has(w);
  }

  /** Watchers interested in `key`. */
  matching(key: Uint8Array): Watcher[] {
    const out = [...(this.byKey.get(keyString(key)) ?? [])];
    for (const w of this.ranges) if (w.contains(key)) out.push(w);
    return out;
  }

  /** Up to `limit` watchers, in insertion order. */
  take(limit: number): Watcher[] {
    const out: Watcher[] = [];
    for (const set of this.byKey.values()) {
      for (const w of set) {
        if (out.length >= limit) return out;
        out.push(w);
      }
    }
    for (const w of this.ranges) {
      if (out.length >= limit) return out;
      out.push(w);
    }
    return out;
  }
}

/** The store plus its watchers. */
export class WatchableStore {
  readonly mvcc: MvccStore;
  private readonly synced = new WatcherGroup();
  private readonly unsynced = new WatcherGroup();
  /** Victims with the batch each still has to deliver, and the revision to resume from after it. */
  private readonly victims = new Map<Watcher, { response: WatchResponse; nextRev: number }>();
  readonly streamBufferResponses: number;
  private readonly maxWatchersPerSync: number;
  private readonly maxRevisionsPerBatch: number;
  /** Asks the driver for a `sync()` soon (set by startSyncLoop or the options). */
  private onSyncNeeded: () => void;

  constructor(mvcc: MvccStore, options: WatchableStoreOptions = {}) {
    this.mvcc = mvcc;
    this.streamBufferResponses = options.streamBufferResponses ?? DEFAULT_STREAM_BUFFER_RESPONSES;
    this.maxWatchersPerSync = options.maxWatchersPerSync ?? DEFAULT_MAX_WATCHERS_PER_SYNC;
    this.maxRevisionsPerBatch = options.maxRevisionsPerBatch ?? DEFAULT_MAX_REVISIONS_PER_BATCH;
    this.onSyncNeeded = options.onSyncNeeded ?? (() => {});
  }

  /** Current store revision. */
  rev(): number {
    return this.mvcc.revision;
  }

  /** A write transaction whose `end()` notifies watchers of its changes. */
  write(): TxnWrite {
    return new WatchableTxnWrite(this, this.mvcc.write());
  }

  /** A single put in its own revision, notifying watchers. */
  put(key: Uint8Array, value: Uint8Array, lease = 0n): number {
    const txn = this.write();
    try {
      return txn.put(key, value, lease);
    } finally {
      txn.end();
    }
  }

  /** A single delete-range in its own revision, notifying watchers. */
  deleteRange(key: Uint8Array, end: Uint8Array | null): { deleted: number; rev: number } {
    const txn = this.write();
    try {
      return txn.deleteRange(key, end);
    } finally {
      txn.end();
    }
  }

  /** Compacts the MVCC store; unsynced watchers behind `rev` are canceled at their next sync. */
  compact(rev: number): void {
    this.mvcc.compact(rev);
    if (this.unsynced.size > 0) this.onSyncNeeded();
  }

  /** A new stream of watchers sharing one bounded response buffer. */
  newWatchStream(): WatchStream {
    return new WatchStream(this);
  }

  /** Numbers for metrics and tests. */
  stats(): { synced: number; unsynced: number; victims: number } {
    return { synced: this.synced.size, unsynced: this.unsynced.size, victims: this.victims.size };
  }

  /**
   * Drives `sync()`: every `intervalMs` while there is work (etcd syncs every 100 ms), and on the
   * next turn of the event loop when a watcher falls behind or a stalled stream drains. Returns a
   * function that stops it.
   */
  startSyncLoop(scheduler: { every(intervalMs: number, fn: () => void): () => void; soon(fn: () => void): void }, intervalMs = 100): () => void {
    let scheduled = false;
    const run = () => {
      scheduled = false;
      if (this.needsSync()) this.sync();
    };
    this.onSyncNeeded = () => {
      if (scheduled) return;
      scheduled = true;
      scheduler.soon(run);
    };
    const stop = scheduler.every(intervalMs, run);
    return () => {
      stop();
      this.onSyncNeeded = () => {};
    };
  }

  /** Whether `sync()` has anything to do. */
  needsSync(): boolean {
    return this.unsynced.size > 0 || this.victims.size > 0;
  }

  /**
   * One round of background work: retry victims, then catch up to `maxWatchersPerSync` unsynced
   * watchers by one batch each. Returns how many watchers are still unsynced or victims.
   */
  sync(): number {
    this.moveVictims();
    this.syncWatchers();
    return this.unsynced.size + this.victims.size;
  }

  // ---- used by WatchStream and the txn wrapper ----

  /** @internal */ addWatcher(w: Watcher, startRev: number): void {
    const current = this.mvcc.revision;
    if (startRev === 0 || startRev > current) {
      w.minRev = Math.max(current + 1, startRev);
      this.synced.add(w);
    } else {
      this.unsynced.add(w);
      this.onSyncNeeded();
    }
  }

  /** @internal */ removeWatcher(w: Watcher): void {
    this.synced.delete(w);
    this.unsynced.delete(w);
    this.victims.delete(w);
  }

  /** @internal Progress notification for a synced watcher. */
  progress(w: Watcher): void {
    if (this.synced.has(w)) w.send({ watchId: w.id, events: [], revision: this.mvcc.revision, compactRevision: 0 });
  }

  /** @internal A stream's buffer has room again. */
  streamDrained(): void {
    if (this.victims.size > 0) this.onSyncNeeded();
  }

  /** @internal Delivers one transaction's events (all of revision `rev`) to the synced watchers. */
  notify(rev: number, events: WatchEvent[]): void {
    const batches = new Map<Watcher, WatchEvent[]>();
    for (const event of events) {
      for (const w of this.synced.matching(event.kv.key)) {
        if (event.kv.modRevision < w.minRev) continue; // a start revision in the future
        let batch = batches.get(w);
        if (batch === undefined) batches.set(w, (batch = []));
        batch.push(event);
      }
    }
    let victimAdded = false;
    for (const [w, batch] of batches) {
      const response: WatchResponse = { watchId: w.id, events: batch, revision: rev, compactRevision: 0 };
      if (w.send(response)) continue;
      w.victim = true;
      w.minRev = rev + 1;
      this.synced.delete(w);
      this.victims.set(w, { response, nextRev: rev + 1 });
      victimAdded = true;
    }
    if (victimAdded) this.onSyncNeeded();
  }

  private moveVictims(): void {
    const current = this.mvcc.revision;
    for (const [w, pending] of [...this.victims]) {
      if (!w.send(pending.response)) continue;
      this.victims.delete(w);
      w.victim = false;
      w.minRev = pending.nextRev;
      if (w.minRev <= current) this.unsynced.add(w);
      else this.synced.add(w);
    }
  }

  private syncWatchers(): void {
    if (this.unsynced.size === 0) return;
    const current = this.mvcc.revision;
    const compactRev = this.mvcc.compactRevision;
    for (const w of this.unsynced.take(this.maxWatchersPerSync)) {
      if (compactRev > 0 && w.minRev < compactRev) {
        if (w.send({ watchId: w.id, events: [], revision: 0, compactRevision: compactRev })) {
          w.compacted = true;
          this.unsynced.delete(w);
        }
        continue;
      }
      const { events, nextRev } = this.history(w, current);
      w.minRev = nextRev;
      if (events.length === 0) {
        this.unsynced.delete(w);
        this.synced.add(w);
        continue;
      }
      const response: WatchResponse = { watchId: w.id, events, revision: current, compactRevision: 0 };
      this.unsynced.delete(w);
      if (!w.send(response)) {
        w.victim = true;
        this.victims.set(w, { response, nextRev });
      } else if (nextRev <= current) {
        this.unsynced.add(w);
      } else {
        this.synced.add(w);
      }
    }
  }

  /**
   * Events for `w` from its minRev, at most maxRevisionsPerBatch revisions (whole revisions only),
   * and the revision to continue from (current + 1 when caught up).
   */
  private history(w: Watcher, current: number): { events: WatchEvent[]; nextRev: number } {
    const revisions = this.mvcc.revisionsSince(w.key, w.end, w.minRev).filter((r) => r.main <= current);
    const events: WatchEvent[] = [];
    let mains = 0;
    let lastMain = 0;
    for (const r of revisions) {
      if (r.main !== lastMain) {
        if (mains === this.maxRevisionsPerBatch) return { events, nextRev: r.main };
        mains++;
        lastMain = r.main;
      }
      const event = this.eventAt(r);
      if (event !== undefined) events.push(event);
    }
    return { events, nextRev: current + 1 };
  }

  private eventAt(r: Revision): WatchEvent | undefined {
    const stored = this.mvcc.kvAt(r);
    if (stored === undefined) return undefined;
    if (!stored.tombstone) return { type: EventType.Put, kv: stored.kv };
    return { type: EventType.Delete, kv: { ...stored.kv, modRevision: r.main } };
  }
}

/**
 * Watchers created over one client stream, sharing one bounded buffer of responses. The consumer
 * (the gRPC Watch handler) takes responses with `next()` when its transport can take more and is
 * told by `onReady` when the buffer stops being empty.
 */
export class WatchStream {
  private readonly watchers = new Map<bigint, Watcher>();
  private readonly buffer: WatchResponse[] = [];
  private nextId = 0n;
  private closed = false;
  /** Called when a response is buffered into an empty buffer. */
  onReady: () => void = () => {};

  constructor(private readonly store: WatchableStore) {}

  /**
   * Creates a watcher on `key` (end null: the key only; empty: every key ≥ key; else [key, end))
   * from `startRev` (0: the next revision). `id` 0 asks for the lowest free ID, as etcd's
   * AutoWatchID. Throws WatchError with etcd's message.
   */
  watch(id: bigint, key: Uint8Array, end: Uint8Array | null, startRev: number, filters: WatchFilters = {}): bigint {
    if (end !== null && end.length > 0 && Buffer.compare(key, end) >= 0) throw new WatchError("mvcc: watcher range is empty");
    if (this.closed) throw new WatchError("mvcc: watcher range is empty");
    if (id === 0n) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      throw new WatchError("mvcc: duplicate watch ID provided on the WatchStream");
    }
    const w = new Watcher(id, Uint8Array.from(key), end === null ? null : Uint8Array.from(end), startRev, filters, this);
    this.watchers.set(id, w);
    this.store.addWatcher(w, startRev);
    return id;
  }

  /**
   * Cancels a watcher; false when there is no such watcher. A watcher canceled by compaction is
   * still known here until then, as in etcd (its cancel is answered).
   */
  cancel(id: bigint): boolean {
    const w = this.watchers.get(id);
    if (w === undefined || this.closed) return false;
    this.store.removeWatcher(w);
    this.watchers.delete(id);
    return true;
  }

  /** Asks for a progress notification of `id` (sent only when it is synced). */
  requestProgress(id: bigint): void {
    const w = this.watchers.get(id);
    if (w !== undefined) this.store.progress(w);
  }

  /** Current store revision. */
  rev(): number {
    return this.store.rev();
  }

  /** Takes the oldest buffered response. */
  next(): WatchResponse | undefined {
    const response = this.buffer.shift();
    if (response !== undefined && this.buffer.length === this.store.streamBufferResponses - 1) this.store.streamDrained();
    return response;
  }

  /** Buffered responses. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Number of live watchers. */
  get size(): number {
    return this.watchers.size;
  }

  /** Cancels every watcher and drops the buffer. */
  close(): void {
    for (const w of this.watchers.values()) this.store.removeWatcher(w);
    this.watchers.clear();
    this.buffer.length = 0;
    this.closed = true;
  }

  /** @internal */ enqueue(response: WatchResponse): boolean {
    if (this.closed) return true;
    if (this.buffer.length >= this.store.streamBufferResponses) return false;
    this.buffer.push(response);
    if (this.buffer.length === 1) this.onReady();
    return true;
  }
}

/** The MVCC write transaction plus the change feed on `end()`. */
class WatchableTxnWrite implements TxnWrite {
  constructor(private readonly store: WatchableStore, private readonly txn: TxnWrite) {}

  get rev(): number {
    return this.txn.rev;
  }
  get firstRev(): number {
    return this.txn.firstRev;
  }
  range(key: Uint8Array, end: Uint8Array | null, options?: RangeOptions): RangeResult {
    return this.txn.range(key, end, options);
  }
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    return this.txn.put(key, value, lease);
  }
  deleteRange(key: Uint8Array, end: Uint8Array | null): { deleted: number; rev: number } {
    return this.txn.deleteRange(key, end);
  }
  changes(): readonly KeyValue[] {
    return this.txn.changes();
  }
  end(): void {
    const changes = this.txn.changes();
    const rev = this.txn.rev + 1;
    this.txn.end();
    if (changes.length === 0) return;
    const events = changes.map((kv): WatchEvent =>
      kv.createRevision === 0 ? { type: EventType.Delete, kv: { ...kv, modRevision: rev } } : { type: EventType.Put, kv },
    );
    this.store.notify(rev, events);
  }
}
