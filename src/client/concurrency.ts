/**
 * Sessions, mutexes and elections built from leases, transactions and watches, with the same key
 * layout and protocol as etcd's clientv3/concurrency (so Cairn and Go clients interoperate):
 * a session is a lease kept alive; a waiter's key is `<prefix>/<lease id in hex>`; ownership goes
 * to the lowest create revision, and each waiter watches only the key just before its own.
 */
import { create } from "@bufbuild/protobuf";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  CompareSchema,
  DeleteRangeRequestSchema,
  LeaseGrantRequestSchema,
  LeaseRevokeRequestSchema,
  PutRequestSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeRequestSchema,
  RequestOpSchema,
  TxnRequestSchema,
  type RangeResponse,
  type ResponseHeader,
  type WatchResponse,
} from "../api/gen/etcdserverpb/rpc_pb.js";
import { Event_EventType, type KeyValue } from "../api/gen/mvccpb/kv_pb.js";
import { kvService, leaseService } from "../api/grpc.js";
import type { EtcdClient } from "./client.js";
import { firstKeepAliveTimeoutMs, LeaseKeepAlive } from "./keepalive.js";
import { watchUntil } from "./watch.js";

const enc = (text: string) => new TextEncoder().encode(text);

/** The smallest key after every key with this prefix. */
function prefixEnd(prefix: Uint8Array): Uint8Array<ArrayBuffer> {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

/**
 * A lease kept alive in the background (clientv3's concurrency.Session); `done` resolves when it is
 * lost: expired, revoked, or not renewed before its TTL ran out (a reconnect within the TTL keeps it).
 */
export class Session {
  private readonly keeper: LeaseKeepAlive;
  /** Resolves when keep-alives stop (lease expired, revoked, or not renewed in time). */
  readonly done: Promise<void>;

  private constructor(
    readonly client: EtcdClient,
    /** The session's lease; keys created under it vanish with it. */
    readonly lease: bigint,
  ) {
    this.keeper = new LeaseKeepAlive(client, lease, { firstTimeoutMs: firstKeepAliveTimeoutMs(client) });
    this.done = this.keeper.done;
  }

  /** Grants a lease of ttlSeconds and keeps it alive until close(). */
  static async open(client: EtcdClient, ttlSeconds: number): Promise<Session> {
    const granted = await client.unary(leaseService.leaseGrant, create(LeaseGrantRequestSchema, { TTL: BigInt(ttlSeconds) }));
    return new Session(client, granted.ID);
  }

  /** Stops keep-alives and revokes the lease, releasing every key held under it. */
  async close(): Promise<void> {
    this.keeper.stop();
    await this.client.unary(leaseService.leaseRevoke, create(LeaseRevokeRequestSchema, { ID: this.lease }));
  }
}

function rangeOp(key: Uint8Array<ArrayBuffer>, options: Partial<{ rangeEnd: Uint8Array<ArrayBuffer>; limit: bigint; order: RangeRequest_SortOrder; maxCreate: bigint }> = {}) {
  return create(RangeRequestSchema, {
    key,
    rangeEnd: options.rangeEnd ?? new Uint8Array(),
    limit: options.limit ?? 0n,
    sortTarget: options.order === undefined ? RangeRequest_SortTarget.KEY : RangeRequest_SortTarget.CREATE,
    sortOrder: options.order ?? RangeRequest_SortOrder.NONE,
    maxCreateRevision: options.maxCreate ?? 0n,
  });
}

/** The first-created key under prefix (clientv3's WithFirstCreate). */
function firstCreated(prefix: Uint8Array<ArrayBuffer>) {
  return rangeOp(prefix, { rangeEnd: prefixEnd(prefix), limit: 1n, order: RangeRequest_SortOrder.ASCEND });
}

/** Resolves when key is deleted at or after revision (the watch resumes across reconnects). */
function waitDelete(client: EtcdClient, key: Uint8Array<ArrayBuffer>, revision: bigint): Promise<void> {
  return watchUntil(client, { key, startRevision: revision }, (response) => response.events.some((e) => e.type === Event_EventType.DELETE));
}

/** Waits until no key under prefix has a create revision <= maxCreateRevision (clientv3's waitDeletes). */
async function waitDeletes(client: EtcdClient, prefix: Uint8Array<ArrayBuffer>, maxCreateRevision: bigint): Promise<ResponseHeader | undefined> {
  for (;;) {
    const response = await client.unary(
      kvService.range,
      rangeOp(prefix, { rangeEnd: prefixEnd(prefix), limit: 1n, order: RangeRequest_SortOrder.DESCEND, maxCreate: maxCreateRevision }),
    );
    const last = response.kvs[0];
    if (last === undefined) return response.header;
    await waitDelete(client, Uint8Array.from(last.key), response.header!.revision);
  }
}

/** Runs If(key not created) Then(put, extra) Else(get, extra) and returns the response. */
async function createOrGet(client: EtcdClient, key: Uint8Array<ArrayBuffer>, value: Uint8Array<ArrayBuffer>, lease: bigint, extra?: ReturnType<typeof rangeOp>) {
  const cmp = create(CompareSchema, {
    result: Compare_CompareResult.EQUAL,
    target: Compare_CompareTarget.CREATE,
    key,
    targetUnion: { case: "createRevision", value: 0n },
  });
  const extraOps = extra === undefined ? [] : [create(RequestOpSchema, { request: { case: "requestRange", value: extra } })];
  return client.unary(
    kvService.txn,
    create(TxnRequestSchema, {
      compare: [cmp],
      success: [create(RequestOpSchema, { request: { case: "requestPut", value: create(PutRequestSchema, { key, value, lease }) } }), ...extraOps],
      failure: [create(RequestOpSchema, { request: { case: "requestRange", value: rangeOp(key) } }), ...extraOps],
    }),
  );
}

function rangeOf(op: { response: { case: string | undefined; value?: unknown } } | undefined): RangeResponse | undefined {
  return op?.response.case === "responseRange" ? (op.response.value as RangeResponse) : undefined;
}

/** A distributed mutex (clientv3/concurrency.Mutex). */
export class Mutex {
  /** This waiter's key, `<name>/<lease hex>`. */
  readonly key: string;
  /** Header of the response that made us owner. */
  header: ResponseHeader | undefined;

  constructor(
    readonly session: Session,
    name: string,
  ) {
    this.prefix = `${name}/`;
    this.key = `${this.prefix}${session.lease.toString(16)}`;
  }

  private readonly prefix: string;

  /** Waits until this session owns the lock. */
  async lock(): Promise<void> {
    const client = this.session.client;
    const response = await createOrGet(client, enc(this.key), new Uint8Array(), this.session.lease, firstCreated(enc(this.prefix)));
    let myRevision = response.header!.revision;
    if (!response.succeeded) myRevision = rangeOf(response.responses[0])?.kvs[0]?.createRevision ?? myRevision;
    const owner = rangeOf(response.responses[1])?.kvs[0];
    if (owner === undefined || owner.createRevision === myRevision) {
      this.header = response.header;
      return;
    }
    this.header = (await waitDeletes(client, enc(this.prefix), myRevision - 1n)) ?? response.header;
  }

  /** Releases the lock by deleting our key. */
  async unlock(): Promise<void> {
    await this.session.client.unary(kvService.deleteRange, create(DeleteRangeRequestSchema, { key: enc(this.key) }));
  }
}

/** Leader election (clientv3/concurrency.Election). */
export class Election {
  private readonly prefix: string;
  /** Our candidate key once campaigning. */
  leaderKey: string | undefined;

  constructor(
    readonly session: Session,
    name: string,
  ) {
    this.prefix = `${name}/`;
  }

  /** Waits until we are leader, announcing value. */
  async campaign(value: string): Promise<void> {
    const client = this.session.client;
    const key = `${this.prefix}${this.session.lease.toString(16)}`;
    const response = await createOrGet(client, enc(key), enc(value), this.session.lease);
    let leaderRevision = response.header!.revision;
    if (!response.succeeded) {
      const kv = rangeOf(response.responses[0])?.kvs[0];
      if (kv !== undefined) {
        leaderRevision = kv.createRevision;
        if (new TextDecoder().decode(kv.value) !== value) {
          await client.unary(kvService.put, create(PutRequestSchema, { key: enc(key), value: enc(value), lease: this.session.lease }));
        }
      }
    }
    this.leaderKey = key;
    await waitDeletes(client, enc(this.prefix), leaderRevision - 1n);
  }

  /** Gives up leadership. */
  async resign(): Promise<void> {
    if (this.leaderKey === undefined) return;
    await this.session.client.unary(kvService.deleteRange, create(DeleteRangeRequestSchema, { key: enc(this.leaderKey) }));
    this.leaderKey = undefined;
  }

  /**
   * Calls onLeader with the current leader's key/value and then with each change, until the
   * returned stop function is called or the connection fails.
   */
  async observe(onLeader: (header: ResponseHeader, kv: KeyValue) => void, signal: AbortSignal): Promise<void> {
    const client = this.session.client;
    while (!signal.aborted) {
      const first = await client.unary(kvService.range, firstCreated(enc(this.prefix)));
      const leader = first.kvs[0];
      if (leader === undefined) {
        await this.waitForChange(enc(this.prefix), prefixEnd(enc(this.prefix)), first.header!.revision + 1n, signal, () => true);
        continue;
      }
      onLeader(first.header!, leader);
      let current = leader;
      // Follow the leader key until it is deleted, reporting value changes.
      await this.waitForChange(Uint8Array.from(current.key), new Uint8Array(), first.header!.revision + 1n, signal, (response) => {
        for (const event of response.events) {
          if (event.type === Event_EventType.DELETE) return true;
          if (event.kv !== undefined && Buffer.compare(Buffer.from(event.kv.value), Buffer.from(current.value)) !== 0) {
            current = event.kv;
            onLeader(response.header!, event.kv);
          }
        }
        return false;
      });
    }
  }

  private waitForChange(
    key: Uint8Array<ArrayBuffer>,
    rangeEnd: Uint8Array<ArrayBuffer>,
    revision: bigint,
    signal: AbortSignal,
    isDone: (response: WatchResponse) => boolean,
  ): Promise<void> {
    return watchUntil(this.session.client, { key, rangeEnd, startRevision: revision, signal }, (response) => response.events.length > 0 && isDone(response));
  }
}
