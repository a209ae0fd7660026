/**
 * The lessor: etcd 3.4's lease manager (lease/lessor.go), in Cairn's shape.
 *
 * Every state change that must agree across members (grant, revoke) is applied from a committed
 * Raft entry, so it is deterministic: the lessor never reads the clock while applying. Only the
 * leader ("primary") keeps real expiry times; it renews leases on keep-alive and finds the expired
 * ones, which the server then revokes by proposing a LeaseRevoke through Raft. Followers hold
 * every lease "forever" until they are promoted.
 *
 * Persistence: each lease is a leasepb.Lease in the "lease" bucket (schema.ts), written through
 * the MVCC store's backend so it commits with the Raft entry that granted it. Expiry times are not
 * persisted: as in etcd 3.4 (lease checkpoints off), a restarted or newly elected leader renews
 * every lease to its full TTL plus the election timeout (`promote`). Keys are attached by the MVCC
 * store's lease hooks, also when it rebuilds its index on restart.
 */
import { etcdError } from "../../api/errors.js";
import type { Backend } from "../../storage/backend/backend.js";
import { keyString } from "../../storage/backend/backend.js";
import type { LeaseHooks, TxnWrite } from "../../storage/mvcc/index.js";
import { LEASE_BUCKET, decodeLease, encodeLease, encodeLeaseKey } from "../../storage/schema.js";

/** Lease ID 0: no lease. */
export const NO_LEASE = 0n;
/** etcd's MaxLeaseTTL: the largest TTL a grant may ask for, in seconds. */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000;
/** Leases revoked per second at most, as etcd's leaseRevokeRate; the expiry scan takes half per 500 ms. */
export const LEASE_REVOKE_PER_SECOND = 1000;
/** How long an expired lease waits before it is offered for revocation again, in ms (etcd: 3 s). */
export const EXPIRED_LEASE_RETRY_MS = 3000;

/** Remaining seconds of a lease held forever: Go's time.Duration(math.MaxInt64) in seconds. */
export const FOREVER_SECONDS = 9_223_372_036;

/** The time source of the primary: milliseconds, monotonic enough for expiry. */
export interface LeaseClock {
  nowMs(): number;
}

/** Opens a write transaction in which revocation deletes a lease's keys (the watchable store's). */
export type RangeDeleter = () => TxnWrite;

/**
 * etcd's minimum lease TTL: a lease must outlive a leader election, so TTLs below
 * ceil(⌊3 × electionTicks / 2⌋ × heartbeat) seconds are raised to it.
 */
export function minLeaseTtlSeconds(electionTicks: number, heartbeatMs: number): number {
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

/** One lease. */
export class Lease {
  /** Attached keys, by their latin1 key string (see keyString). */
  readonly keys = new Map<string, Uint8Array>();
  /** Wall time at which the lease expires on the primary; Infinity while held "forever". */
  expiryMs = Infinity;
  /** When the expiry scan may offer this lease again (retry after a revocation that did not land). */
  nextOfferMs = 0;
  /** Callers waiting for this lease's revocation (a keep-alive of an expired lease). */
  readonly revokeWaiters: Array<(revoked: boolean) => void> = [];

  constructor(
    /** The lease ID, never 0. */
    readonly id: bigint,
    /** Granted TTL in seconds, after the minimum rule. */
    readonly ttlSeconds: number,
  ) {}

  /** Milliseconds until expiry (Infinity while held forever; negative once expired). */
  remainingMs(nowMs: number): number {
    return this.expiryMs - nowMs;
  }

  /** Attached keys in byte order. */
  sortedKeys(): Uint8Array[] {
    return [...this.keys.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, key]) => key);
  }
}

/** Answer of `renew`. */
export type RenewResult = { ttlSeconds: number } | { expired: Lease };

export interface LessorOptions {
  /** The engine holding the lease bucket (the MVCC store's backend). */
  backend: Backend;
  clock: LeaseClock;
  /** Minimum TTL in seconds (minLeaseTtlSeconds of the server's timing). */
  minTtlSeconds: number;
}

/** The lease manager. Attach it to the MVCC store as its LeaseHooks. */
export class Lessor implements LeaseHooks {
  private readonly leases = new Map<bigint, Lease>();
  private readonly backend: Backend;
  private readonly clock: LeaseClock;
  readonly minTtlSeconds: number;
  /** True while this member is the leader: expiry is tracked and renewals are allowed. */
  private primary = false;
  private rangeDeleter: RangeDeleter | undefined;

  constructor(options: LessorOptions) {
    this.backend = options.backend;
    this.clock = options.clock;
    this.minTtlSeconds = options.minTtlSeconds;
  }

  /**
   * Loads the persisted leases (all held forever until promotion). Call before the MVCC store
   * opens, so its restore can attach keys to them.
   */
  recover(): void {
    this.leases.clear();
    this.backend.createBucket(LEASE_BUCKET);
    this.backend.commit();
    this.backend.forEach(LEASE_BUCKET, (_key, value) => {
      const record = decodeLease(value.slice());
      const ttl = Math.max(record.ttlSeconds, this.minTtlSeconds);
      this.leases.set(record.id, new Lease(record.id, ttl));
    });
  }

  /** Sets how revocation opens its delete transaction (the watchable store's `write`). */
  setRangeDeleter(rangeDeleter: RangeDeleter): void {
    this.rangeDeleter = rangeDeleter;
  }

  isPrimary(): boolean {
    return this.primary;
  }

  /**
   * Applies a LeaseGrant. Throws leaseNotFound for ID 0 (etcd's answer), leaseTTLTooLarge, or
   * leaseExist. The TTL is raised to the minimum.
   */
  grant(id: bigint, ttlSeconds: number): Lease {
    if (id === NO_LEASE) throw etcdError("leaseNotFound");
    if (ttlSeconds > MAX_LEASE_TTL_SECONDS) throw etcdError("leaseTTLTooLarge");
    if (this.leases.has(id)) throw etcdError("leaseExist");
    const lease = new Lease(id, Math.max(ttlSeconds, this.minTtlSeconds));
    if (this.primary) this.refresh(lease, 0);
    this.leases.set(id, lease);
    this.backend.put(LEASE_BUCKET, encodeLeaseKey(id), encodeLease({ id, ttlSeconds: lease.ttlSeconds, remainingTtlSeconds: 0 }));
    return lease;
  }

  /**
   * Applies a LeaseRevoke: deletes the attached keys (in byte order) in one write transaction, so
   * they share one revision, and removes the lease. Throws leaseNotFound.
   */
  revoke(id: bigint): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw etcdError("leaseNotFound");
    const txn = this.rangeDeleter?.();
    try {
      if (txn !== undefined) for (const key of lease.sortedKeys()) txn.deleteRange(key, null);
      this.leases.delete(id);
      this.backend.delete(LEASE_BUCKET, encodeLeaseKey(id));
    } finally {
      txn?.end();
    }
    for (const waiter of lease.revokeWaiters.splice(0)) waiter(true);
  }

  /**
   * Renews a lease on the primary to its full TTL. Throws NotPrimaryError off the leader and
   * leaseNotFound when missing; an already expired lease is returned as `expired` (the caller waits for its
   * revocation and then answers "not found", as etcd does).
   */
  renew(id: bigint): RenewResult {
    if (!this.primary) throw new NotPrimaryError();
    const lease = this.leases.get(id);
    if (lease === undefined) throw etcdError("leaseNotFound");
    if (lease.remainingMs(this.clock.nowMs()) <= 0) return { expired: lease };
    this.refresh(lease, 0);
    return { ttlSeconds: lease.ttlSeconds };
  }

  /** Resolves true once `lease` is revoked, false if this member stops being primary first. */
  waitRevoked(lease: Lease): Promise<boolean> {
    if (!this.leases.has(lease.id)) return Promise.resolve(true);
    return new Promise((resolve) => lease.revokeWaiters.push(resolve));
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  /** Remaining TTL in whole seconds, truncated toward zero as Go's int64(d.Seconds()). */
  remainingSeconds(lease: Lease): number {
    const ms = lease.remainingMs(this.clock.nowMs());
    if (ms === Infinity) return FOREVER_SECONDS;
    return Math.trunc(ms / 1000);
  }

  /** Every lease, soonest expiry first (etcd's Leases order). */
  list(): Lease[] {
    return [...this.leases.values()].sort((a, b) => a.expiryMs - b.expiryMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Becomes primary: every lease is renewed to its full TTL plus `extendMs` (the election
   * timeout), and when there are many leases their expiries are spread so that at most 3/4 of the
   * revoke rate expire per second, as etcd 3.4's Promote does.
   */
  promote(extendMs: number): void {
    this.primary = true;
    for (const lease of this.leases.values()) this.refresh(lease, extendMs);
    if (this.leases.size < LEASE_REVOKE_PER_SECOND) return;
    const now = this.clock.nowMs();
    const byExpiry = this.list();
    let baseWindow = byExpiry[0]!.remainingMs(now);
    let nextWindow = baseWindow + 1000;
    let expires = 0;
    const targetPerSecond = Math.floor((3 * LEASE_REVOKE_PER_SECOND) / 4);
    for (const lease of byExpiry) {
      const remaining = lease.remainingMs(now);
      if (remaining > nextWindow) {
        baseWindow = remaining;
        nextWindow = baseWindow + 1000;
        expires = 1;
        continue;
      }
      expires++;
      if (expires <= targetPerSecond) continue;
      const delay = 1000 * (expires / targetPerSecond) - (remaining - baseWindow);
      nextWindow = baseWindow + delay;
      this.refresh(lease, delay + extendMs);
    }
  }

  /** Stops being primary: leases are held forever; waiting keep-alives give up. */
  demote(): void {
    this.primary = false;
    for (const lease of this.leases.values()) {
      lease.expiryMs = Infinity;
      for (const waiter of lease.revokeWaiters.splice(0)) waiter(false);
    }
  }

  /**
   * On the primary: up to `limit` expired leases, each offered again only after
   * EXPIRED_LEASE_RETRY_MS (in case its LeaseRevoke proposal is lost). Soonest expiry first.
   */
  findExpired(limit: number): Lease[] {
    if (!this.primary) return [];
    const now = this.clock.nowMs();
    const expired: Lease[] = [];
    for (const lease of this.list()) {
      if (expired.length >= limit || lease.expiryMs > now) break;
      if (lease.nextOfferMs > now) continue;
      lease.nextOfferMs = now + EXPIRED_LEASE_RETRY_MS;
      expired.push(lease);
    }
    return expired;
  }

  // ---- LeaseHooks, called by the MVCC store ----

  attach(id: bigint, key: Uint8Array): void {
    // The apply chain checks the lease exists before a put; on restore a key may name a lease
    // revoked in the same crash window, which etcd also ignores.
    this.leases.get(id)?.keys.set(keyString(key), key.slice());
  }

  detach(id: bigint, key: Uint8Array): void {
    this.leases.get(id)?.keys.delete(keyString(key));
  }

  private refresh(lease: Lease, extendMs: number): void {
    lease.expiryMs = this.clock.nowMs() + extendMs + lease.ttlSeconds * 1000;
    lease.nextOfferMs = 0;
  }
}

/** Renewal asked of a member that is not the leader (etcd's lease.ErrNotPrimary). */
export class NotPrimaryError extends Error {
  constructor() {
    super("not a primary lessor");
    this.name = "NotPrimaryError";
  }
}
