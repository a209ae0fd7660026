/**
 * The server side of etcd's Lease API over the lessor: what is proposed through Raft (grant,
 * revoke), what is applied from committed entries, what the leader answers locally (keep-alive,
 * time-to-live, list), and the leader's expiry loop, which revokes expired leases by proposing
 * LeaseRevoke like any client would (etcd's revokeExpiredLeases).
 */
import { create } from "@bufbuild/protobuf";
import { EtcdError, etcdError } from "../../api/errors.js";
import {
  LeaseGrantResponseSchema,
  LeaseLeasesResponseSchema,
  LeaseRevokeRequestSchema,
  LeaseRevokeResponseSchema,
  LeaseStatusSchema,
  LeaseTimeToLiveResponseSchema,
  ResponseHeaderSchema,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type ResponseHeader,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import type { KvStore } from "../kv.js";
import { RequestKind, type Request } from "../request.js";
import { LEASE_REVOKE_PER_SECOND, NO_LEASE, NotPrimaryError, type Lessor } from "./lessor.js";

/** How often the leader looks for expired leases, in ms (etcd's lessor runLoop). */
export const EXPIRY_SCAN_INTERVAL_MS = 500;

/** What the lease service needs from the server around it. */
export interface LeaseServiceDeps {
  lessor: Lessor;
  store: KvStore;
  clock: { every(intervalMs: number, fn: () => void): () => void };
  /** Proposes a request through Raft; resolves with its apply result. */
  propose: (request: Request) => Promise<unknown>;
  /** A fresh request ID (a lease ID is one with the top bit cleared, as etcd makes them). */
  nextId: () => bigint;
  /** Cluster, member, term, and the current revision unless set. */
  fillHeader: (header: ResponseHeader | undefined) => ResponseHeader;
  /** Election timeout in ms: the extra life leases get when a new leader takes over. */
  electionTimeoutMs: number;
}

export class LeaseService {
  private stopExpiryScan: (() => void) | undefined;
  /** Expired leases whose revocation is in flight, so the scan does not propose them twice. */
  private readonly revoking = new Set<bigint>();

  constructor(private readonly deps: LeaseServiceDeps) {}

  get lessor(): Lessor {
    return this.deps.lessor;
  }

  start(): void {
    this.stopExpiryScan = this.deps.clock.every(EXPIRY_SCAN_INTERVAL_MS, () => this.revokeExpired());
  }

  stop(): void {
    this.stopExpiryScan?.();
    this.stopExpiryScan = undefined;
  }

  /** The Raft role changed: the leader tracks expiry, everyone else holds leases forever. */
  onLeaderChange(isLeader: boolean): void {
    if (isLeader && !this.deps.lessor.isPrimary()) this.deps.lessor.promote(this.deps.electionTimeoutMs);
    else if (!isLeader && this.deps.lessor.isPrimary()) this.deps.lessor.demote();
  }

  // ---- RPCs ----

  /** LeaseGrant: picks a positive ID when none is given, then proposes. */
  async grant(request: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    const proposed = { ...request };
    while (proposed.ID === NO_LEASE) proposed.ID = BigInt.asIntN(64, this.deps.nextId() & ((1n << 63n) - 1n));
    const response = (await this.deps.propose({ kind: RequestKind.LeaseGrant, request: proposed as LeaseGrantRequest })) as LeaseGrantResponse;
    response.header = this.deps.fillHeader(response.header);
    return response;
  }

  async revoke(request: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    const response = (await this.deps.propose({ kind: RequestKind.LeaseRevoke, request })) as LeaseRevokeResponse;
    response.header = this.deps.fillHeader(response.header);
    return response;
  }

  /** LeaseTimeToLive as the leader answers it; an unknown lease has TTL -1 (not an error). */
  timeToLive(request: LeaseTimeToLiveRequest): LeaseTimeToLiveResponse {
    const lessor = this.deps.lessor;
    const lease = lessor.lookup(request.ID);
    const header = this.deps.fillHeader(undefined);
    if (lease === undefined) return create(LeaseTimeToLiveResponseSchema, { header, ID: request.ID, TTL: -1n });
    return create(LeaseTimeToLiveResponseSchema, {
      header,
      ID: request.ID,
      TTL: BigInt(lessor.remainingSeconds(lease)),
      grantedTTL: BigInt(lease.ttlSeconds),
      keys: request.keys ? lease.sortedKeys() : [],
    });
  }

  leases(): LeaseLeasesResponse {
    const leases = this.deps.lessor.list().map((l) => create(LeaseStatusSchema, { ID: l.id }));
    return create(LeaseLeasesResponseSchema, { header: this.deps.fillHeader(undefined), leases });
  }

  /**
   * One keep-alive: the renewed TTL, or 0 when the lease does not exist (also once an expired
   * lease has been revoked). Throws noLeader off the leader.
   */
  async keepAlive(id: bigint): Promise<bigint> {
    const lessor = this.deps.lessor;
    try {
      const renewed = lessor.renew(id);
      if ("ttlSeconds" in renewed) return BigInt(renewed.ttlSeconds);
      if (await lessor.waitRevoked(renewed.expired)) return 0n;
      throw etcdError("noLeader");
    } catch (err) {
      if (err instanceof EtcdError && err.is("leaseNotFound")) return 0n;
      if (err instanceof NotPrimaryError) throw etcdError("noLeader");
      throw err;
    }
  }

  /** A header for keep-alive responses. */
  header(): ResponseHeader {
    return this.deps.fillHeader(create(ResponseHeaderSchema, {}));
  }

  // ---- apply (from committed entries) ----

  /** Applies a LeaseGrant entry; the lease bucket write commits with the consistent index. */
  applyGrant(index: number, request: LeaseGrantRequest): LeaseGrantResponse {
    try {
      const lease = this.deps.lessor.grant(request.ID, Number(request.TTL));
      return create(LeaseGrantResponseSchema, {
        header: create(ResponseHeaderSchema, { revision: BigInt(this.deps.store.currentRevision()) }),
        ID: lease.id,
        TTL: BigInt(lease.ttlSeconds),
      });
    } finally {
      this.deps.store.setConsistentIndex(index);
    }
  }

  /** Applies a LeaseRevoke entry: the attached keys go in one revision, with the lease. */
  applyRevoke(index: number, request: LeaseRevokeRequest): LeaseRevokeResponse {
    try {
      this.deps.lessor.revoke(request.ID);
      return create(LeaseRevokeResponseSchema, { header: create(ResponseHeaderSchema, { revision: BigInt(this.deps.store.currentRevision()) }) });
    } finally {
      this.revoking.delete(request.ID);
      this.deps.store.setConsistentIndex(index);
    }
  }

  /** On the leader: proposes a LeaseRevoke for each expired lease (at most half the per-second rate per scan). */
  private revokeExpired(): void {
    for (const lease of this.deps.lessor.findExpired(LEASE_REVOKE_PER_SECOND / 2)) {
      if (this.revoking.has(lease.id)) continue;
      this.revoking.add(lease.id);
      const request = create(LeaseRevokeRequestSchema, { ID: lease.id });
      this.deps.propose({ kind: RequestKind.LeaseRevoke, request }).then(
        () => this.revoking.delete(lease.id),
        () => this.revoking.delete(lease.id), // retried after EXPIRED_LEASE_RETRY_MS by findExpired
      );
    }
  }
}
