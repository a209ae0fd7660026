/**
 * etcdserverpb.Watch: one bidirectional stream multiplexing many watchers, as etcd 3.4's
 * serverWatchStream (etcdserver/api/v3rpc/watch.go) serves it.
 *
 * Control responses (created, canceled, progress on request) are written as their requests are
 * handled, so a watcher's "created" always precedes its events. Event responses are pulled from
 * the watch stream's bounded buffer only while the gRPC stream accepts writes (HTTP/2 flow
 * control): a client that stops reading leaves them in that buffer, its watchers become victims
 * in the watchable store, and server memory stays bounded. While grpc-js is backed up the stream
 * also stops reading requests, which bounds the control responses too.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ResponseHeaderSchema,
  WatchCreateRequest_FilterType,
  WatchResponseSchema,
  type ResponseHeader,
  type WatchRequest,
  type WatchResponse,
} from "../api/gen/etcdserverpb/rpc_pb.js";
import { EventSchema, Event_EventType, type Event } from "../api/gen/mvccpb/kv_pb.js";
import { toWire } from "../server/store.js";
import type { WatchHandlers } from "../api/grpc.js";
import { realClock } from "../platform/clock.js";
import { GRPC_OVERHEAD_BYTES, type EtcdServer } from "../server/server.js";
import type { KeyValue as StoredKeyValue } from "../storage/schema.js";
import { EventType, WatchError, type WatchableStore, type WatchResponse as StoreWatchResponse, type WatchStream } from "../storage/watch/index.js";

/** etcd's clientv3.InvalidWatchID: the ID of responses that belong to no watcher. */
export const INVALID_WATCH_ID = -1n;
/** etcd's default progress report interval (v3rpc progressReportInterval), in ms. */
export const DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS = 10 * 60 * 1000;

/**
 * The options the server runs watch streams with. CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS shortens
 * etcd's 10-minute progress interval (for tests, as etcd's own tests shorten it).
 */
export function defaultWatchOptions(maxRequestBytes: number): WatchServiceOptions {
  const progressNotifyIntervalMs = Number(process.env["CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS"] ?? DEFAULT_PROGRESS_NOTIFY_INTERVAL_MS);
  // etcd fragments at max-request-bytes plus the gRPC overhead allowance, not at the bare limit.
  return { maxRequestBytes: maxRequestBytes + GRPC_OVERHEAD_BYTES, progressNotifyIntervalMs, clock: realClock, random: Math.random };
}

export interface WatchServiceOptions {
  /** Fragmented responses are split below this size (etcd: --max-request-bytes + 512 KiB). */
  maxRequestBytes: number;
  /** Interval of progress notifications for watchers created with progress_notify (plus up to 10% jitter). */
  progressNotifyIntervalMs: number;
  clock: { every(intervalMs: number, fn: () => void): () => void };
  /** Jitter source in [0, 1) for the progress interval. */
  random: () => number;
}

/**
 * What the watch stream needs of its transport: a grpc-js ServerDuplexStream, or the HTTP
 * gateway's JSON stream. `write` returns false when the transport wants no more for now ("drain"
 * follows).
 */
export interface WatchCall {
  write(response: WatchResponse): boolean;
  pause(): void;
  resume(): void;
  on(event: "data", listener: (request: WatchRequest) => void): unknown;
  on(event: "drain" | "cancelled" | "close" | "error", listener: () => void): unknown;
}

export function watchHandlers(server: EtcdServer, watchable: WatchableStore, options: WatchServiceOptions): WatchHandlers {
  return { watch: (call) => serveWatch(server, watchable, options, call) };
}

/** Serves one watch stream over `call` until it closes. */
export function serveWatch(server: EtcdServer, watchable: WatchableStore, options: WatchServiceOptions, call: WatchCall): void {
  void new ServerWatchStream(server, watchable, options, call);
}

class ServerWatchStream {
  private readonly stream: WatchStream;
  /** Watchers created with progress_notify → whether the next tick should report progress. */
  private readonly progress = new Map<bigint, boolean>();
  private readonly prevKv = new Set<bigint>();
  private readonly fragment = new Set<bigint>();
  /** False while grpc-js holds more than its high-water mark of our writes. */
  private writable = true;
  private closed = false;
  private readonly stopTicker: () => void;

  constructor(
    private readonly server: EtcdServer,
    private readonly watchable: WatchableStore,
    private readonly options: WatchServiceOptions,
    private readonly call: WatchCall,
  ) {
    this.stream = watchable.newWatchStream();
    this.stream.onReady = () => this.pump();
    const interval = options.progressNotifyIntervalMs + Math.floor(options.random() * (options.progressNotifyIntervalMs / 10));
    this.stopTicker = options.clock.every(interval, () => this.progressTick());
    call.on("data", (request: WatchRequest) => this.handle(request));
    call.on("drain", () => {
      this.writable = true;
      call.resume();
      this.pump();
    });
    // etcd keeps serving after the client half-closes; the stream ends when the call does.
    call.on("cancelled", () => this.close());
    call.on("close", () => this.close());
    call.on("error", () => this.close());
  }

  private handle(request: WatchRequest): void {
    if (this.closed) return;
    const union = request.requestUnion;
    switch (union.case) {
      case "createRequest": {
        const creq = union.value;
        const key = creq.key.length === 0 ? new Uint8Array([0]) : creq.key;
        let end: Uint8Array | null = creq.rangeEnd.length === 0 ? null : creq.rangeEnd;
        if (creq.rangeEnd.length === 1 && creq.rangeEnd[0] === 0) end = new Uint8Array(0);
        const wsrev = this.stream.rev();
        const startRev = creq.startRevision === 0n ? wsrev + 1 : Number(creq.startRevision);
        const filters = {
          noPut: creq.filters.includes(WatchCreateRequest_FilterType.NOPUT),
          noDelete: creq.filters.includes(WatchCreateRequest_FilterType.NODELETE),
        };
        let id = INVALID_WATCH_ID;
        let cancelReason = "";
        try {
          id = this.stream.watch(creq.watchId, key, end, startRev, filters);
          if (creq.progressNotify) this.progress.set(id, true);
          if (creq.prevKv) this.prevKv.add(id);
          if (creq.fragment) this.fragment.add(id);
        } catch (err) {
          if (!(err instanceof WatchError)) throw err;
          cancelReason = err.message;
        }
        this.write(create(WatchResponseSchema, { header: this.header(wsrev), watchId: id, created: true, canceled: cancelReason !== "", cancelReason }));
        break;
      }
      case "cancelRequest": {
        const id = union.value.watchId;
        if (this.stream.cancel(id)) {
          this.write(create(WatchResponseSchema, { header: this.header(this.stream.rev()), watchId: id, canceled: true }));
          this.progress.delete(id);
          this.prevKv.delete(id);
          this.fragment.delete(id);
        }
        break;
      }
      case "progressRequest":
        this.write(create(WatchResponseSchema, { header: this.header(this.stream.rev()), watchId: INVALID_WATCH_ID }));
        break;
      default:
        break; // etcd ignores requests it does not know
    }
  }

  /** Moves event responses from the bounded buffer to gRPC while gRPC accepts them. */
  private pump(): void {
    while (this.writable && !this.closed) {
      const response = this.stream.next();
      if (response === undefined) return;
      this.sendEvents(response);
    }
  }

  private sendEvents(response: StoreWatchResponse): void {
    const withPrev = this.prevKv.has(response.watchId);
    const events = response.events.map((e) => this.toWireEvent(e.type, e.kv, withPrev));
    const wr = create(WatchResponseSchema, {
      header: this.header(response.revision),
      watchId: response.watchId,
      events,
      compactRevision: BigInt(response.compactRevision),
      canceled: response.compactRevision !== 0,
    });
    if (this.fragment.has(response.watchId)) {
      for (const part of fragments(wr, this.options.maxRequestBytes)) this.write(part);
    } else {
      this.write(wr);
    }
    if (events.length > 0 && this.progress.get(response.watchId) === true) this.progress.set(response.watchId, false);
  }

  private toWireEvent(type: EventType, kv: StoredKeyValue, withPrev: boolean): Event {
    const event = create(EventSchema, { type: type === EventType.Put ? Event_EventType.PUT : Event_EventType.DELETE, kv: toWire(kv) });
    const isCreate = type === EventType.Put && kv.createRevision === kv.modRevision;
    if (withPrev && !isCreate) {
      try {
        const previous = this.watchable.mvcc.range(kv.key, null, { rev: kv.modRevision - 1 }).kvs[0];
        if (previous !== undefined) event.prevKv = toWire(previous);
      } catch {
        // compacted: etcd sends the event without prev_kv
      }
    }
    return event;
  }

  private progressTick(): void {
    for (const [id, due] of this.progress) {
      if (due) this.stream.requestProgress(id);
      this.progress.set(id, true);
    }
  }

  private write(response: WatchResponse): void {
    if (this.closed) return;
    if (!this.call.write(response)) {
      this.writable = false;
      this.call.pause();
    }
  }

  private header(revision: number): ResponseHeader {
    return create(ResponseHeaderSchema, {
      clusterId: this.server.clusterId(),
      memberId: this.server.memberId(),
      revision: BigInt(revision),
      raftTerm: BigInt(this.server.term()),
    });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTicker();
    this.stream.close();
  }
}


function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

/**
 * etcd's sendFragments: a response of at least `maxRequestBytes` with two or more events is split
 * into parts each under the limit (or holding one event); all but the last have fragment=true.
 */
export function fragments(wr: WatchResponse, maxRequestBytes: number): WatchResponse[] {
  const events = wr.events;
  const bare = create(WatchResponseSchema, { ...wr, events: [] });
  const bareBytes = toBinary(WatchResponseSchema, bare).length;
  // Field 11 (events) has a one-byte tag; each event adds tag + length varint + body.
  const eventBytes = events.map((e) => {
    const n = toBinary(EventSchema, e).length;
    return 1 + varintBytes(n) + n;
  });
  const total = bareBytes + eventBytes.reduce((a, n) => a + n, 0);
  if (total < maxRequestBytes || events.length < 2) return [wr];
  // With fragment=true the bare message grows by 2 bytes (tag + bool).
  const fragmentBare = bareBytes + (wr.fragment ? 0 : 2);
  const out: WatchResponse[] = [];
  let i = 0;
  while (i < events.length) {
    const part: Event[] = [];
    let size = fragmentBare;
    for (; i < events.length; i++) {
      const next = size + eventBytes[i]!;
      if (part.length >= 1 && next >= maxRequestBytes) break;
      part.push(events[i]!);
      size = next;
    }
    out.push(create(WatchResponseSchema, { ...wr, events: part, fragment: i < events.length }));
  }
  return out;
}
