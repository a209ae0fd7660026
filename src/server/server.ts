/**
 * EtcdServer: a member of a Raft group serving etcd's v3 KV, Cluster and Maintenance APIs.
 *
 * Writes are proposed to Raft as one entry each and answered when their entry is applied (a wait
 * map from request ID to the caller's promise). Linearizable reads take a ReadIndex and run once
 * the applied index reaches it; serializable reads run at once on local state. All requests are
 * validated before proposing, with etcd's errors.
 */
import { create } from "@bufbuild/protobuf";
import { EtcdError, etcdError } from "../api/errors.js";
import {
  AlarmRequest_AlarmAction,
  AlarmRequestSchema,
  AlarmType,
  DefragmentResponseSchema,
  HashKVResponseSchema,
  HashResponseSchema,
  MemberListResponseSchema,
  MemberSchema,
  MoveLeaderResponseSchema,
  ResponseHeaderSchema,
  StatusResponseSchema,
  type AlarmRequest,
  type AlarmResponse,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVResponse,
  type HashResponse,
  type MemberListResponse,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
} from "../api/gen/etcdserverpb/rpc_pb.js";
import { ProposalDroppedError, type Entry, type NodeId } from "../raft/index.js";
import type { Clock } from "../platform/clock.js";
import { AlarmStore, applyRange, applyReadOnlyTxn, BackendApplier, CappedApplier, isTxnReadOnly, QuotaApplier, type Applier } from "./apply.js";
import type { BackendReadView } from "../storage/backend/backend.js";
import type { KvStore } from "./kv.js";
import type { Member } from "./membership.js";
import { ServerMetrics } from "./metrics.js";
import { BackendQuota, type QuotaRequest } from "./quota.js";
import { RaftNode } from "./raftnode.js";
import { LeaseService } from "./lease/lease-service.js";
import type { Lessor } from "./lease/lessor.js";
import type { WatchableStore } from "../storage/watch/index.js";
import { decodeRequest, encodeRequest, RequestIdGenerator, RequestKind, type Request } from "./request.js";
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from "./txncheck.js";

/** The etcd version Cairn speaks, reported by /version, Status and metrics. */
export const SERVER_VERSION = "3.4.23";
/** The cluster version etcd 3.4 reports once a cluster has decided it. */
export const CLUSTER_VERSION = "3.4.0";

/** Settings the server runs with (the relevant subset of ServerConfig, already resolved). */
export interface ServerOptions {
  memberId: NodeId;
  clusterId: NodeId;
  members: Member[];
  walDir: string;
  walMetadata: Uint8Array;
  tickMs: number;
  electionTicks: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  quotaBackendBytes: number;
  /** Applied entries between WAL snapshots (--snapshot-count). */
  snapshotCount: number;
  /** WAL segments kept after a snapshot (--max-wals). */
  maxWals: number;
  /** How long a proposal or read may wait for Raft before "request timed out" (etcd: 5 s + 2 × election). */
  requestTimeoutMs: number;
  clock: Clock;
  store: KvStore;
  /** The lessor (lease API and leases on puts); none: only lease 0 is accepted. */
  lessor?: Lessor;
  /** The watchable store the KvStore writes through (Watch API). */
  watchable?: WatchableStore;
  /** Where the server reports timeouts and alarms (etcd logs the same events). */
  warn?: (message: string) => void;
}

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  cancelTimer: () => void;
}

/** Bytes above max-request-bytes that gRPC accepts, so that etcd's own check produces its error. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** Upper bound of uncommitted entry bytes on the leader. */
export const MAX_UNCOMMITTED_BYTES = 1 << 30;

export class EtcdServer {
  readonly metrics: ServerMetrics;
  private readonly raft: RaftNode;
  private readonly store: KvStore;
  private readonly alarms = new AlarmStore();
  private readonly applier: Applier;
  private readonly backend: BackendApplier;
  /** The Lease API, when the server has a lessor. */
  readonly leases: LeaseService | undefined;
  /** The watchable store, when the server serves Watch. */
  readonly watchable: WatchableStore | undefined;
  /** The space quota (etcd's backendQuota), checked before proposing and after applying writes. */
  private readonly quota: BackendQuota;
  /** Callers waiting for their entry to be applied, by request ID. */
  private readonly waiters = new Map<bigint, Waiter>();
  private readonly ids: RequestIdGenerator;
  /** Linearizable reads waiting for the next ReadIndex round. */
  private pendingReads: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  /** Reads of the ReadIndex round in flight, by its ctx. */
  private readonly readRounds = new Map<string, Array<{ resolve: () => void; reject: (e: unknown) => void }>>();
  /** Reads whose ReadIndex answered, waiting for the applied index to reach `index`. */
  private readyReads: Array<{ index: number; resolve: () => void }> = [];
  private readRoundInFlight = false;
  /** Proposals made while there was no leader, submitted when one appears. */
  private awaitingLeader: Array<{ id: bigint; data: Uint8Array }> = [];
  private readCounter = 0n;
  private leader: NodeId = 0n;
  private stopped = false;

  constructor(private readonly options: ServerOptions) {
    this.store = options.store;
    this.ids = new RequestIdGenerator(options.memberId, options.clock.nowMs());
    this.backend = new BackendApplier(this.store, this.alarms);
    this.watchable = options.watchable;
    if (options.lessor !== undefined) {
      const lessor = options.lessor;
      this.backend.leaseExists = (id) => lessor.lookup(id) !== undefined;
      this.leases = new LeaseService({
        lessor,
        store: this.store,
        clock: options.clock,
        propose: (request) => this.propose(request),
        nextId: () => this.ids.generate(),
        fillHeader: (header) => this.fillHeader(header),
        electionTimeoutMs: options.tickMs * options.electionTicks,
      });
    }
    const capped = new CappedApplier(this.backend, this.alarms);
    this.quota = new BackendQuota(options.quotaBackendBytes, () => this.store.totalSizeBytes());
    this.applier = new QuotaApplier(capped, (request) => this.quota.available(request), () => this.raiseNoSpace());
    this.metrics = new ServerMetrics({
      hasLeader: () => this.leader !== 0n,
      isLeader: () => this.leader === options.memberId,
      committedIndex: () => this.raft.committedIndex(),
      appliedIndex: () => this.raft.appliedIndex(),
      dbTotalSizeBytes: () => this.store.totalSizeBytes(),
      dbInUseBytes: () => this.store.size().inUseBytes,
      keysTotal: () => this.store.keyCount(),
      currentRevision: () => this.store.currentRevision(),
      compactRevision: () => this.store.compactRevision(),
      quotaBytes: options.quotaBackendBytes,
      version: SERVER_VERSION,
      memberIdHex: options.memberId.toString(16),
    });
    this.store.observeCommits((seconds) => this.metrics.backendCommitSeconds.observe(seconds));
    // Before the WAL replay (RaftNode), as etcd restores its AlarmStore before applying.
    this.alarms.load(this.store.alarmKeys());
    this.raft = new RaftNode({
      id: options.memberId,
      peers: options.members.map((m) => m.id),
      walDir: options.walDir,
      walMetadata: options.walMetadata,
      tickMs: options.tickMs,
      electionTicks: options.electionTicks,
      appliedIndex: this.store.consistentIndex(),
      maxUncommittedBytes: MAX_UNCOMMITTED_BYTES,
      clock: options.clock,
      applyEntry: (entry) => this.applyEntry(entry),
      onSoftState: (leader) => this.onLeader(leader),
      onReadState: (index, ctx) => this.onReadState(index, ctx),
      onApplied: (applied) => this.onApplied(applied),
      observeFsyncSeconds: (s) => this.metrics.walFsyncSeconds.observe(s),
      snapshotCount: options.snapshotCount,
      maxWals: options.maxWals,
      persistStateMachine: () => this.store.checkpoint(),
    });
  }

  start(): void {
    this.raft.start();
    this.leases?.start();
  }

  /** Stops Raft, fails every waiting caller with "server stopped", and closes the store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.raft.stop();
    this.leases?.stop();
    for (const waiter of this.waiters.values()) {
      waiter.cancelTimer();
      waiter.reject(etcdError("stopped"));
    }
    this.waiters.clear();
    for (const read of this.pendingReads) read.reject(etcdError("stopped"));
    for (const round of this.readRounds.values()) for (const read of round) read.reject(etcdError("stopped"));
    this.pendingReads = [];
    this.readRounds.clear();
    await this.store.close();
  }

  // ---- identity and status ----

  memberId(): NodeId {
    return this.options.memberId;
  }
  clusterId(): NodeId {
    return this.options.clusterId;
  }
  hasLeader(): boolean {
    return this.leader !== 0n;
  }
  term(): number {
    return this.raft.term();
  }
  /** Index of the latest WAL snapshot marker (0: none). */
  latestSnapshotIndex(): number {
    return this.raft.latestSnapshotIndex();
  }
  raisedAlarms(): AlarmType[] {
    return this.alarms.get(AlarmType.NONE).map((a) => a.alarm);
  }

  /** etcd's header fill: cluster, member, term, and the current revision unless one is set. */
  fillHeader(header: ResponseHeader | undefined): ResponseHeader {
    const h = header ?? create(ResponseHeaderSchema, {});
    h.clusterId = this.options.clusterId;
    h.memberId = this.options.memberId;
    h.raftTerm = BigInt(this.raft.term());
    if (h.revision === 0n) h.revision = BigInt(this.store.currentRevision());
    return h;
  }

  // ---- KV ----

  async range(request: RangeRequest): Promise<RangeResponse> {
    checkRangeRequest(request);
    if (!request.serializable) await this.linearizableReadBarrier();
    this.metrics.rangeTotal.inc();
    const response = this.store.read((view) => applyRange(view, request));
    response.header = this.fillHeader(response.header);
    return response;
  }

  async put(request: PutRequest): Promise<PutResponse> {
    checkPutRequest(request);
    this.checkQuota({ kind: "put", request });
    const response = (await this.propose({ kind: RequestKind.Put, request })) as PutResponse;
    response.header = this.fillHeader(response.header);
    return response;
  }

  async deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    checkDeleteRequest(request);
    const response = (await this.propose({ kind: RequestKind.DeleteRange, request })) as DeleteRangeResponse;
    response.header = this.fillHeader(response.header);
    return response;
  }

  async txn(request: TxnRequest): Promise<TxnResponse> {
    checkTxnRequest(request, this.options.maxTxnOps);
    let response: TxnResponse;
    if (isTxnReadOnly(request)) {
      await this.linearizableReadBarrier();
      response = this.store.read((view) => applyReadOnlyTxn(view, request));
    } else {
      this.checkQuota({ kind: "txn", request });
      response = (await this.propose({ kind: RequestKind.Txn, request })) as TxnResponse;
    }
    response.header = this.fillHeader(response.header);
    return response;
  }

  async compact(request: CompactionRequest): Promise<CompactionResponse> {
    const response = (await this.propose({ kind: RequestKind.Compaction, request })) as CompactionResponse;
    response.header = this.fillHeader(response.header);
    return response;
  }

  // ---- Cluster and Maintenance ----

  memberList(): MemberListResponse {
    const header = create(ResponseHeaderSchema, { clusterId: this.options.clusterId, memberId: this.options.memberId, raftTerm: BigInt(this.raft.term()) });
    const members = this.options.members.map((m) =>
      create(MemberSchema, { ID: m.id, name: m.name, peerURLs: m.peerUrls, clientURLs: m.clientUrls, isLearner: m.isLearner }),
    );
    return create(MemberListResponseSchema, { header, members });
  }

  /**
   * Maintenance.MoveLeader. Only the leader moves leadership, and only to a voting member; this
   * member runs alone (Cairn has no peers yet), so the one transfer that can succeed is to itself,
   * which, as in etcd, returns at once because the leader already is the transferee.
   */
  moveLeader(targetId: bigint): MoveLeaderResponse {
    if (this.leader !== this.options.memberId) throw etcdError("notLeader");
    const target = this.options.members.find((m) => m.id === targetId);
    if (target === undefined || target.isLearner) throw etcdError("badLeaderTransferee");
    if (targetId !== this.leader) throw etcdError("badLeaderTransferee");
    return create(MoveLeaderResponseSchema);
  }

  status(): StatusResponse {
    const errors: string[] = [];
    if (this.leader === 0n) errors.push(etcdError("noLeader").message);
    for (const alarm of this.alarms.get(AlarmType.NONE)) errors.push(`memberID:${alarm.memberID} alarm:${AlarmType[alarm.alarm]} `);
    const size = this.store.size();
    return create(StatusResponseSchema, {
      header: this.fillHeader(undefined),
      version: SERVER_VERSION,
      dbSize: BigInt(size.totalBytes),
      leader: this.leader,
      raftIndex: BigInt(this.raft.committedIndex()),
      raftTerm: BigInt(this.raft.term()),
      raftAppliedIndex: BigInt(this.raft.appliedIndex()),
      errors,
      dbSizeInUse: BigInt(size.inUseBytes),
      isLearner: false,
    });
  }

  hash(): HashResponse {
    const revision = this.store.currentRevision();
    const hash = this.store.hash();
    return create(HashResponseSchema, { header: this.fillHeader(create(ResponseHeaderSchema, { revision: BigInt(revision) })), hash });
  }

  hashKV(revision: number): HashKVResponse {
    const result = this.store.hashKV(revision);
    return create(HashKVResponseSchema, {
      header: this.fillHeader(create(ResponseHeaderSchema, { revision: BigInt(result.revision) })),
      hash: result.hash,
      compactRevision: BigInt(result.compactRevision),
    });
  }

  async alarm(request: AlarmRequest): Promise<AlarmResponse> {
    return (await this.propose({ kind: RequestKind.Alarm, request })) as AlarmResponse;
  }

  async defragment(): Promise<DefragmentResponse> {
    await this.store.defragment();
    return create(DefragmentResponseSchema, {});
  }

  /** A consistent view of the whole backend for Maintenance.Snapshot; the caller releases it. */
  snapshotView(): BackendReadView {
    return this.store.snapshotView();
  }

  /** etcd's /health: no alarm outside `excluded`, a leader, and a linearizable read that completes. */
  async health(excluded: ReadonlySet<string>): Promise<boolean> {
    const alarmed = this.alarms.get(AlarmType.NONE).some((a) => !excluded.has(AlarmType[a.alarm]));
    let ok = !alarmed && this.leader !== 0n;
    if (ok) {
      try {
        await this.linearizableReadBarrier();
      } catch {
        ok = false;
      }
    }
    if (ok) this.metrics.healthSuccess.inc();
    else this.metrics.healthFailures.inc();
    return ok;
  }

  // ---- proposing and applying ----

  private propose(request: Request): Promise<unknown> {
    if (this.stopped) return Promise.reject(etcdError("stopped"));
    const id = this.ids.generate();
    const data = encodeRequest(id, request);
    if (data.length > this.options.maxRequestBytes) return Promise.reject(etcdError("requestTooLarge"));
    return new Promise((resolve, reject) => {
      const cancelTimer = this.options.clock.after(this.options.requestTimeoutMs, () => {
        if (this.waiters.delete(id)) {
          this.options.warn?.(`request ${id.toString(16)} (${RequestKind[request.kind]}) timed out after ${this.options.requestTimeoutMs} ms (leader ${this.leader.toString(16)}, applied ${this.raft.appliedIndex()}, committed ${this.raft.committedIndex()})`);
          this.metrics.proposalsPending.dec();
          this.metrics.proposalsFailed.inc();
          reject(etcdError("timeout"));
        }
      });
      this.waiters.set(id, { resolve, reject, cancelTimer });
      this.metrics.proposalsPending.inc();
      // Like etcd, a proposal made while there is no leader waits for one (up to the timeout).
      if (this.leader === 0n) this.awaitingLeader.push({ id, data });
      else this.submit(id, data);
    });
  }

  private submit(id: bigint, data: Uint8Array): void {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return; // timed out while waiting for a leader
    try {
      this.raft.propose(data);
    } catch (err) {
      this.waiters.delete(id);
      waiter.cancelTimer();
      this.metrics.proposalsPending.dec();
      this.metrics.proposalsFailed.inc();
      waiter.reject(err instanceof ProposalDroppedError ? etcdError(this.leader === 0n ? "noLeader" : "stopped") : err);
    }
  }

  /** Applies one committed entry; answers its proposer if it is waiting in this process. */
  private applyEntry(entry: Entry): void {
    const { id, request } = decodeRequest(entry.data);
    this.backend.index = entry.index;
    let result: unknown;
    let error: unknown;
    try {
      result = this.applyRequest(request);
    } catch (err) {
      if (!(err instanceof EtcdError)) throw err; // a programmer error: stop the process
      error = err;
      // The entry changed nothing, but it is applied: record that, so a restart skips it.
      this.store.setConsistentIndex(entry.index);
    }
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return;
    this.waiters.delete(id);
    waiter.cancelTimer();
    this.metrics.proposalsPending.dec();
    if (error !== undefined) {
      this.metrics.proposalsFailed.inc();
      waiter.reject(error);
    } else {
      waiter.resolve(result);
    }
  }

  private applyRequest(request: Request): unknown {
    switch (request.kind) {
      case RequestKind.Put:
        this.metrics.putTotal.inc();
        return this.applier.put(request.request);
      case RequestKind.DeleteRange:
        this.metrics.deleteTotal.inc();
        return this.applier.deleteRange(request.request);
      case RequestKind.Txn:
        this.metrics.txnTotal.inc();
        return this.applier.txn(request.request);
      case RequestKind.Compaction:
        return this.applier.compaction(request.request);
      case RequestKind.Alarm:
        return this.applier.alarm(request.request);
      case RequestKind.LeaseGrant:
        return this.leaseService().applyGrant(this.backend.index, request.request);
      case RequestKind.LeaseRevoke:
        return this.leaseService().applyRevoke(this.backend.index, request.request);
    }
  }

  private leaseService(): LeaseService {
    if (this.leases === undefined) throw new Error("server: a lease entry was committed but this server has no lessor");
    return this.leases;
  }

  /** etcd checks the quota before proposing too; over quota, it raises NOSPACE and refuses. */
  private checkQuota(request: QuotaRequest): void {
    if (this.quota.available(request)) return;
    this.raiseNoSpace();
    throw etcdError("noSpace");
  }

  private raiseNoSpace(): void {
    if (this.alarms.has(AlarmType.NOSPACE)) return;
    this.options.warn?.(`backend is over its quota of ${this.options.quotaBackendBytes} bytes: raising the NOSPACE alarm`);
    const request = create(AlarmRequestSchema, { action: AlarmRequest_AlarmAction.ACTIVATE, memberID: this.options.memberId, alarm: AlarmType.NOSPACE });
    this.propose({ kind: RequestKind.Alarm, request }).catch(() => undefined);
  }

  private onLeader(leader: NodeId): void {
    if (leader !== this.leader && leader !== 0n) this.metrics.leaderChanges.inc();
    this.leader = leader;
    this.leases?.onLeaderChange(leader !== 0n && leader === this.options.memberId);
    if (leader === 0n) return;
    const queued = this.awaitingLeader;
    this.awaitingLeader = [];
    for (const { id, data } of queued) this.submit(id, data);
    this.maybeStartReadRound();
  }

  // ---- linearizable reads (ReadIndex, batched) ----

  /** Resolves once local state reflects every write acknowledged before the call. */
  linearizableReadBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(etcdError("stopped"));
    return new Promise((resolve, reject) => {
      const cancel = this.options.clock.after(this.options.requestTimeoutMs, () => {
        const i = this.pendingReads.findIndex((r) => r.resolve === done);
        if (i >= 0) this.pendingReads.splice(i, 1);
        for (const round of this.readRounds.values()) {
          const j = round.findIndex((r) => r.resolve === done);
          if (j >= 0) round.splice(j, 1);
        }
        this.metrics.slowReadIndex.inc();
        this.options.warn?.(`linearizable read timed out after ${this.options.requestTimeoutMs} ms (leader ${this.leader.toString(16)}, read round in flight: ${this.readRoundInFlight})`);
        reject(etcdError(this.leader === 0n ? "noLeader" : "timeout"));
      });
      const done = (): void => {
        cancel();
        resolve();
      };
      this.pendingReads.push({ resolve: done, reject: (e) => (cancel(), reject(e)) });
      this.maybeStartReadRound();
    });
  }

  /** One ReadIndex round at a time serves every read that arrived before it started. */
  private maybeStartReadRound(): void {
    if (this.readRoundInFlight || this.pendingReads.length === 0 || this.leader === 0n || this.stopped) return;
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setBigUint64(0, ++this.readCounter);
    const key = Buffer.from(ctx).toString("hex");
    this.readRounds.set(key, this.pendingReads);
    this.pendingReads = [];
    this.readRoundInFlight = true;
    // A ReadIndex request can be lost (leader change); retry its reads in a new round.
    this.options.clock.after(this.options.tickMs * this.options.electionTicks * 2, () => {
      const lost = this.readRounds.get(key);
      if (lost === undefined) return;
      this.readRounds.delete(key);
      this.readRoundInFlight = false;
      this.pendingReads.unshift(...lost);
      this.maybeStartReadRound();
    });
    try {
      this.raft.readIndex(ctx);
    } catch (err) {
      this.readRoundInFlight = false;
      const round = this.readRounds.get(key) ?? [];
      this.readRounds.delete(key);
      this.metrics.readIndexFailed.inc();
      for (const read of round) read.reject(etcdError("stopped"));
      void err;
    }
  }

  private onReadState(index: number, ctx: Uint8Array): void {
    const key = Buffer.from(ctx).toString("hex");
    const round = this.readRounds.get(key);
    if (round === undefined) return;
    this.readRounds.delete(key);
    this.readRoundInFlight = false;
    for (const read of round) this.readyReads.push({ index, resolve: read.resolve });
  }

  private onApplied(applied: number): void {
    if (this.readyReads.length > 0) {
      const waiting: typeof this.readyReads = [];
      for (const read of this.readyReads) {
        if (read.index <= applied) read.resolve();
        else waiting.push(read);
      }
      this.readyReads = waiting;
    }
    this.maybeStartReadRound();
  }
}
