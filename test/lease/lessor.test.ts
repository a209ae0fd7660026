/**
 * Unit tests of the lessor on a real MVCC store (in-memory backend) with a fake clock: grant rules
 * (minimum TTL, ID 0, duplicate, too large), revoke deleting attached keys in one revision with
 * watchers seeing the DELETE events, renew/expiry on the primary only, promotion after restart
 * renewing to the full TTL, persistence in the lease bucket, and the expiry scan's retry rule.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { MvccStore } from "../../src/storage/mvcc/index.js";
import { LEASE_BUCKET, decodeLease, encodeLeaseKey } from "../../src/storage/schema.js";
import { EventType, WatchableStore } from "../../src/storage/watch/index.js";
import { EXPIRED_LEASE_RETRY_MS, FOREVER_SECONDS, Lessor, NotPrimaryError, minLeaseTtlSeconds } from "../../src/server/lease/lessor.js";
import { EtcdError } from "../../src/api/errors.js";

const b = (s: string) => new TextEncoder().encode(s);
const str = (u: Uint8Array) => new TextDecoder().decode(u);

class FakeClock {
  now = 1_000_000;
  nowMs(): number {
    return this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}

function setup(backend = new MemoryBackend(), clock = new FakeClock()) {
  const lessor = new Lessor({ backend, clock, minTtlSeconds: 2 });
  lessor.recover();
  const mvcc = MvccStore.open(backend, { leaseHooks: lessor });
  const watchable = new WatchableStore(mvcc);
  lessor.setRangeDeleter(() => watchable.write());
  return { backend, clock, lessor, mvcc, watchable };
}

function isEtcdError(name: string) {
  return (e: unknown) => e instanceof EtcdError && e.errorName === name;
}

test("minimum TTL follows etcd: ceil(⌊3 × election ticks / 2⌋ × heartbeat)", () => {
  assert.equal(minLeaseTtlSeconds(10, 100), 2); // etcd defaults: 1.5 s → 2 s
  assert.equal(minLeaseTtlSeconds(5, 100), 1); // 7 ticks × 100 ms = 0.7 s → 1 s
  assert.equal(minLeaseTtlSeconds(50, 100), 8); // 75 × 100 ms = 7.5 s → 8 s
  assert.equal(minLeaseTtlSeconds(10, 1000), 15);
});

test("grant: minimum TTL, ID 0, duplicate ID, too large TTL; persisted in the lease bucket", () => {
  const { lessor, backend } = setup();
  assert.equal(lessor.grant(5n, 1).ttlSeconds, 2);
  assert.equal(lessor.grant(6n, 60).ttlSeconds, 60);
  assert.throws(() => lessor.grant(0n, 10), isEtcdError("leaseNotFound"));
  assert.throws(() => lessor.grant(5n, 10), isEtcdError("leaseExist"));
  assert.throws(() => lessor.grant(7n, 9_000_000_001), isEtcdError("leaseTTLTooLarge"));
  const stored = backend.get(LEASE_BUCKET, encodeLeaseKey(6n));
  assert.ok(stored !== undefined);
  assert.deepEqual(decodeLease(stored), { id: 6n, ttlSeconds: 60, remainingTtlSeconds: 0 });
  assert.deepEqual(lessor.list().map((l) => l.id), [5n, 6n]);
});

test("revoke deletes every attached key in one revision, and watchers see the DELETE events together", () => {
  const { lessor, mvcc, watchable } = setup();
  lessor.grant(1n, 10);
  lessor.grant(2n, 10);
  watchable.put(b("k2"), b("v"), 1n);
  watchable.put(b("k1"), b("v"), 1n);
  watchable.put(b("other"), b("v"), 2n);
  watchable.put(b("moved"), b("v"), 1n);
  watchable.put(b("moved"), b("v2"), 2n); // re-put with another lease detaches it from lease 1
  assert.deepEqual(lessor.lookup(1n)!.sortedKeys().map(str), ["k1", "k2"]);
  const stream = watchable.newWatchStream();
  stream.watch(0n, b("\0"), new Uint8Array(0), 0);
  const before = mvcc.revision;
  lessor.revoke(1n);
  assert.equal(mvcc.revision, before + 1);
  assert.equal(mvcc.range(b("k1"), b("k3")).count, 0);
  assert.equal(mvcc.range(b("other"), null).count, 1);
  assert.equal(lessor.lookup(1n), undefined);
  const response = stream.next();
  assert.ok(response !== undefined);
  assert.equal(response.revision, before + 1);
  assert.deepEqual(
    response.events.map((e) => [e.type, str(e.kv.key), e.kv.modRevision]),
    [[EventType.Delete, "k1", before + 1], [EventType.Delete, "k2", before + 1]],
  );
  assert.equal(stream.next(), undefined);
  assert.throws(() => lessor.revoke(1n), isEtcdError("leaseNotFound"));
  // A lease without keys: no new revision.
  lessor.grant(3n, 10);
  lessor.revoke(3n);
  assert.equal(mvcc.revision, before + 1);
});

test("expiry: only the primary tracks it; renew refreshes to the full TTL; the scan retries after 3 s", () => {
  const { lessor, clock } = setup();
  lessor.grant(1n, 30);
  assert.throws(() => lessor.renew(1n), (e: unknown) => e instanceof NotPrimaryError);
  assert.equal(lessor.remainingSeconds(lessor.lookup(1n)!), FOREVER_SECONDS);
  clock.advance(60_000);
  assert.deepEqual(lessor.findExpired(10), []);

  lessor.promote(1000);
  assert.equal(lessor.remainingSeconds(lessor.lookup(1n)!), 31);
  lessor.grant(2n, 5);
  assert.equal(lessor.remainingSeconds(lessor.lookup(2n)!), 5);
  clock.advance(4_500);
  assert.equal(lessor.remainingSeconds(lessor.lookup(2n)!), 0); // 0.5 s truncates to 0
  assert.deepEqual(lessor.renew(2n), { ttlSeconds: 5 });
  clock.advance(4_999);
  assert.deepEqual(lessor.findExpired(10), []);
  clock.advance(1);
  assert.deepEqual(lessor.findExpired(10).map((l) => l.id), [2n]);
  assert.deepEqual(lessor.findExpired(10), [], "an offered lease waits for the retry interval");
  const renewed = lessor.renew(2n);
  assert.ok("expired" in renewed, "renewing an expired lease waits for its revocation");
  clock.advance(EXPIRED_LEASE_RETRY_MS);
  assert.deepEqual(lessor.findExpired(10).map((l) => l.id), [2n]);
  clock.advance(30_000);
  assert.deepEqual(lessor.findExpired(1).map((l) => l.id), [2n], "soonest expiry first, at most the limit");
  assert.deepEqual(lessor.findExpired(1).map((l) => l.id), [1n]);
  assert.throws(() => lessor.renew(9n), isEtcdError("leaseNotFound"));
});

test("a keep-alive waiting on an expired lease learns of its revocation", async () => {
  const { lessor, clock } = setup();
  lessor.promote(0);
  lessor.grant(1n, 2);
  clock.advance(2_000);
  const renewed = lessor.renew(1n);
  assert.ok("expired" in renewed);
  const waiting = lessor.waitRevoked(renewed.expired);
  lessor.revoke(1n);
  assert.equal(await waiting, true);
  lessor.grant(2n, 2);
  clock.advance(2_000);
  const again = lessor.renew(2n);
  assert.ok("expired" in again);
  const demoted = lessor.waitRevoked(again.expired);
  lessor.demote();
  assert.equal(await demoted, false);
});

test("restart: leases and key attachments come back; promotion renews them to the full TTL", () => {
  const backend = new MemoryBackend();
  const clock = new FakeClock();
  {
    const { lessor, watchable, mvcc } = setup(backend, clock);
    lessor.promote(1000);
    lessor.grant(1n, 30);
    lessor.grant(2n, 1);
    watchable.put(b("a"), b("1"), 1n);
    watchable.put(b("b"), b("2"), 1n);
    watchable.put(b("c"), b("3"), 2n);
    lessor.revoke(2n);
    mvcc.commit();
    clock.advance(25_000); // 5 s left before the "crash"
  }
  clock.advance(60_000);
  const { lessor, mvcc } = setup(backend, clock);
  assert.deepEqual(lessor.list().map((l) => [l.id, l.ttlSeconds]), [[1n, 30]]);
  assert.deepEqual(lessor.lookup(1n)!.sortedKeys().map(str), ["a", "b"]);
  assert.equal(lessor.remainingSeconds(lessor.lookup(1n)!), FOREVER_SECONDS);
  lessor.promote(1000);
  assert.equal(lessor.remainingSeconds(lessor.lookup(1n)!), 31);
  lessor.revoke(1n);
  assert.equal(mvcc.range(b("a"), b("z")).count, 0);
});

test("promotion spreads the expiry of many leases to 750 per second", () => {
  const { lessor, clock } = setup();
  for (let i = 1; i <= 3000; i++) lessor.grant(BigInt(i), 10);
  lessor.promote(0);
  const perSecond = new Map<number, number>();
  for (const lease of lessor.list()) {
    const second = Math.floor((lease.expiryMs - clock.now) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  for (const [, n] of perSecond) assert.ok(n <= 751, `at most ~750 leases per second, got ${n}`);
  assert.ok(perSecond.size >= 4);
});
