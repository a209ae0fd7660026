/**
 * The in-process client the Lock and Election services use, as etcd's v3lock and v3election use
 * clientv3 over v3client: KV requests go through the server (so through Raft, with etcd's checks),
 * waits are watches on the watchable store. Plus the two recipes both services share
 * (clientv3/concurrency): the txn helpers and waitDeletes.
 */
import { create } from "@bufbuild/protobuf";
import {
  CompareSchema,
  Compare_CompareResult,
  Compare_CompareTarget,
  DeleteRangeRequestSchema,
  LeaseGrantRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RequestOpSchema,
  type Compare,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type TxnRequest,
  type TxnResponse,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { EventType, type WatchableStore, type WatchResponse } from "../../storage/watch/index.js";
import type { EtcdServer } from "../server.js";

/** Raised when the caller went away (its gRPC call was canceled) while a recipe waited. */
export class CanceledError extends Error {
  constructor() {
    super("context canceled");
    this.name = "CanceledError";
  }
}

/** A cancellation signal: `aborted` and a way to be told. */
export interface Abort {
  readonly aborted: boolean;
  onAbort(fn: () => void): () => void;
}

export class AbortSource implements Abort {
  aborted = false;
  private readonly listeners = new Set<() => void>();
  onAbort(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const fn of [...this.listeners]) fn();
  }
}

/** clientv3/concurrency's default session TTL, in seconds. */
export const SESSION_TTL_SECONDS = 60n;

export class LocalClient {
  constructor(
    readonly server: EtcdServer,
    private readonly watchable: WatchableStore,
  ) {}

  txn(request: TxnRequest): Promise<TxnResponse> {
    return this.server.txn(request);
  }

  range(request: RangeRequest): Promise<RangeResponse> {
    return this.server.range(request);
  }

  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.server.deleteRange(request);
  }

  /**
   * The lease of a concurrency session: `lease` itself, or for 0 a new lease of the default
   * session TTL (60 s) that nobody keeps alive, as etcd's servers do (they orphan the session).
   */
  async sessionLease(lease: bigint): Promise<bigint> {
    if (lease !== 0n) return lease;
    const leases = this.server.leases;
    if (leases === undefined) throw new Error("v3lock: the server has no lessor");
    const granted = await leases.grant(create(LeaseGrantRequestSchema, { TTL: SESSION_TTL_SECONDS }));
    return granted.ID;
  }

  /**
   * Watches [key, end) from `startRev`, calling `onResponse` for each response until it returns
   * true or `abort` fires; resolves then (rejects with CanceledError on abort).
   */
  watch(key: Uint8Array, end: Uint8Array | null, startRev: number, abort: Abort, onResponse: (r: WatchResponse) => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = this.watchable.newWatchStream();
      let finished = false;
      const finish = (error?: Error) => {
        if (finished) return;
        finished = true;
        removeAbort();
        stream.close();
        if (error === undefined) resolve();
        else reject(error);
      };
      const removeAbort = abort.onAbort(() => finish(new CanceledError()));
      stream.onReady = () => {
        for (let r = stream.next(); r !== undefined && !finished; r = stream.next()) {
          if (r.compactRevision !== 0) {
            finish(new Error("mvcc: required revision has been compacted"));
            return;
          }
          if (onResponse(r)) finish();
        }
      };
      stream.watch(0n, key, end, startRev);
      if (abort.aborted) finish(new CanceledError());
    });
  }

  /** Resolves once `key` is deleted at or after `rev` (concurrency's waitDelete). */
  waitDelete(key: Uint8Array, rev: number, abort: Abort): Promise<void> {
    return this.watch(key, null, rev, abort, (r) => r.events.some((e) => e.type === EventType.Delete));
  }

  /**
   * concurrency's waitDeletes: waits until no key under `prefix` with create revision ≤
   * `maxCreateRev` is left, always waiting on the newest of them. Returns the last Get's header.
   */
  async waitDeletes(prefix: Uint8Array, maxCreateRev: bigint, abort: Abort): Promise<ResponseHeader | undefined> {
    for (;;) {
      const response = await this.range(lastCreate(prefix, maxCreateRev));
      const last = response.kvs[0];
      if (last === undefined) return response.header;
      await this.waitDelete(last.key, Number(response.header?.revision ?? 0n), abort);
    }
  }
}

/** The range end of every key with `prefix` (clientv3.GetPrefixRangeEnd). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix); // a copy even when `prefix` is a Buffer (whose slice is a view)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

/** Get(prefix, WithFirstCreate()): the oldest key under `prefix`. */
export function firstCreate(prefix: Uint8Array): RangeRequest {
  return create(RangeRequestSchema, { key: prefix, rangeEnd: prefixEnd(prefix), limit: 1n, sortOrder: RangeRequest_SortOrder.ASCEND, sortTarget: RangeRequest_SortTarget.CREATE });
}

/** Get(prefix, WithLastCreate(), WithMaxCreateRev(rev)). */
export function lastCreate(prefix: Uint8Array, maxCreateRev: bigint): RangeRequest {
  return create(RangeRequestSchema, {
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    limit: 1n,
    sortOrder: RangeRequest_SortOrder.DESCEND,
    sortTarget: RangeRequest_SortTarget.CREATE,
    maxCreateRevision: maxCreateRev,
  });
}

/** Compare(CreateRevision(key), "=", rev). */
export function createRevisionIs(key: Uint8Array, rev: bigint): Compare {
  return create(CompareSchema, { key, target: Compare_CompareTarget.CREATE, result: Compare_CompareResult.EQUAL, targetUnion: { case: "createRevision", value: rev } });
}

export function opPut(key: Uint8Array, value: Uint8Array, options: { lease?: bigint; ignoreLease?: boolean } = {}): RequestOp {
  return create(RequestOpSchema, { request: { case: "requestPut", value: create(PutRequestSchema, { key, value, lease: options.lease ?? 0n, ignoreLease: options.ignoreLease ?? false }) } });
}

export function opGet(request: RangeRequest): RequestOp {
  return create(RequestOpSchema, { request: { case: "requestRange", value: request } });
}

export function opDelete(key: Uint8Array): RequestOp {
  return create(RequestOpSchema, { request: { case: "requestDeleteRange", value: create(DeleteRangeRequestSchema, { key }) } });
}

/** Lower-case hex of a lease ID as Go's %x prints an int64. */
export function leaseHex(lease: bigint): string {
  return lease < 0n ? `-${(-lease).toString(16)}` : lease.toString(16);
}
