/**
 * Auto-compaction driven by a fake clock, in the scenarios of etcd 3.4's v3compactor tests: the
 * revision getter returns one more revision per sample, so the revisions compacted show exactly
 * which sample the compactor picked and when.
 */
import test from "node:test";
import assert from "node:assert/strict";
import type { Clock } from "../../src/platform/clock.js";
import {
  formatGoDuration,
  newCompactor,
  parseCompactionRetention,
  PeriodicCompactor,
  REVISION_CHECK_INTERVAL_MS,
  RevisionCompactor,
  type CompactionTarget,
} from "../../src/server/compactor.js";

/** A clock whose time moves only by `advance`, firing due timers in order. */
class FakeClock implements Clock {
  private now = 1_000_000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;
  nowMs(): number {
    return this.now;
  }
  after(delayMs: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.now + delayMs, fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  }
  every(): () => void {
    throw new Error("not used by the compactors");
  }
  /** Moves time forward, running every timer that falls due (and letting async work settle). */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.fn();
    }
    this.now = end;
    await settle();
  }
  pending(): number {
    return this.timers.length;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** etcd's fakeRevGetter + fakeCompactable: each sample sees one more revision. */
class FakeTarget implements CompactionTarget {
  revision = 0;
  compacted: number[] = [];
  failNext: unknown[] = [];
  currentRevision(): number {
    return ++this.revision;
  }
  compact(revision: number): Promise<void> {
    const failure = this.failNext.shift();
    if (failure !== undefined) return Promise.reject(failure);
    this.compacted.push(revision);
    return Promise.resolve();
  }
  isCompactedError(error: unknown): boolean {
    return (error as Error).message === "etcdserver: mvcc: required revision has been compacted";
  }
}

function logs(): { lines: string[]; log: { info(m: string): void; warn(m: string): void } } {
  const lines: string[] = [];
  return { lines, log: { info: (m) => lines.push(m), warn: (m) => lines.push(`W ${m}`) } };
}

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;

test("periodic 2h: nothing for the first two hours, then one compaction per hour at the revision of two hours ago", async () => {
  const clock = new FakeClock();
  const target = new FakeTarget();
  const { lines, log } = logs();
  const compactor = new PeriodicCompactor(2 * HOUR, target, clock, log);
  assert.equal(compactor.retryIntervalMs(), 6 * MINUTE);
  assert.equal(compactor.retentions(), 21);
  compactor.run();
  // 19 samples = 1 h 54 min: too early.
  for (let i = 0; i < compactor.retentions() - 2; i++) await clock.advance(compactor.retryIntervalMs());
  assert.deepEqual(target.compacted, [], "no compaction before two hours");
  await clock.advance(compactor.retryIntervalMs());
  assert.deepEqual(target.compacted, [1], "two hours after start: compact at the first sample");
  for (let hour = 1; hour <= 3; hour++) {
    for (let j = 0; j < 10; j++) await clock.advance(compactor.retryIntervalMs());
    assert.deepEqual(target.compacted.slice(-1), [hour * 10], `compaction after hour ${hour}`);
  }
  assert.equal(target.compacted.length, 4);
  assert.deepEqual(lines.slice(0, 2), ["Starting auto-compaction at revision 1 (retention: 2h0m0s)", "Finished auto-compaction at revision 1"]);
  compactor.stop();
  assert.equal(clock.pending(), 0);
});

test("periodic 5m: first compaction after 5 minutes, then every 5 minutes", async () => {
  const clock = new FakeClock();
  const target = new FakeTarget();
  const compactor = new PeriodicCompactor(5 * MINUTE, target, clock, logs().log);
  assert.equal(compactor.retryIntervalMs(), 30_000);
  compactor.run();
  for (let i = 0; i < compactor.retentions(); i++) await clock.advance(compactor.retryIntervalMs());
  assert.deepEqual(target.compacted, [1]);
  for (let i = 1; i <= 5; i++) {
    for (let j = 0; j < 10; j++) await clock.advance(compactor.retryIntervalMs());
    assert.deepEqual(target.compacted.slice(-1), [i * 10]);
  }
  compactor.stop();
});

test("periodic: paused compactors only sample; after resume the window slides from the latest samples", async () => {
  const clock = new FakeClock();
  const target = new FakeTarget();
  const compactor = new PeriodicCompactor(HOUR, target, clock, logs().log);
  compactor.run();
  compactor.pause();
  const n = compactor.retentions();
  for (let i = 0; i < n * 3; i++) await clock.advance(compactor.retryIntervalMs());
  assert.deepEqual(target.compacted, []);
  compactor.resume();
  await clock.advance(compactor.retryIntervalMs());
  // The window holds the last n samples: the oldest is sample 3n + 1 − n + 1.
  assert.deepEqual(target.compacted, [2 * n + 2]);
  compactor.stop();
});

test("periodic: a failure is logged and retried at the next sample; 'already compacted' counts as done", async () => {
  const clock = new FakeClock();
  const target = new FakeTarget();
  const { lines, log } = logs();
  const compactor = new PeriodicCompactor(10 * MINUTE, target, clock, log);
  target.failNext = [new Error("etcdserver: request timed out")];
  compactor.run();
  for (let i = 0; i < compactor.retentions() - 1; i++) await clock.advance(compactor.retryIntervalMs());
  assert.deepEqual(target.compacted, []);
  assert.deepEqual(lines.slice(-2), ["Failed auto-compaction at revision 1 (etcdserver: request timed out)", "Retry after 1m0s"]);
  await clock.advance(compactor.retryIntervalMs());
  assert.deepEqual(target.compacted, [1], "retried one interval later");
  target.failNext = [new Error("etcdserver: mvcc: required revision has been compacted")];
  for (let j = 0; j < 10; j++) await clock.advance(compactor.retryIntervalMs());
  // Samples 1..21, window of 11: the oldest is 11.
  assert.equal(lines[lines.length - 1], "Finished auto-compaction at revision 11");
  assert.deepEqual(target.compacted, [1]);
  compactor.stop();
});

test("revision mode: every 5 minutes compact at current − retention, skipping ≤ 0 and repeats", async () => {
  const clock = new FakeClock();
  const target = new FakeTarget();
  const { lines, log } = logs();
  const compactor = new RevisionCompactor(10, target, clock, log);
  compactor.run();
  await clock.advance(REVISION_CHECK_INTERVAL_MS - 1);
  assert.deepEqual(target.compacted, []);
  target.revision = 5; // 6 − 10 ≤ 0: nothing
  await clock.advance(1);
  assert.deepEqual(target.compacted, []);
  target.revision = 99; // next sample 100 → compact 90
  await clock.advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(target.compacted, [90]);
  assert.deepEqual(lines, ["Starting auto-compaction at revision 90 (retention: 10 revisions)", "Finished auto-compaction at revision 90"]);
  target.revision = 99; // same revision again: skipped
  await clock.advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(target.compacted, [90]);
  await clock.advance(REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(target.compacted, [90, 91]);
  compactor.pause();
  await clock.advance(3 * REVISION_CHECK_INTERVAL_MS);
  assert.deepEqual(target.compacted, [90, 91]);
  compactor.resume();
  await clock.advance(REVISION_CHECK_INTERVAL_MS);
  assert.equal(target.compacted.length, 3);
  compactor.stop();
  assert.equal(clock.pending(), 0);
});

test("--auto-compaction-retention parses as etcd: plain numbers are hours or revisions, else Go durations", () => {
  assert.deepEqual(parseCompactionRetention("periodic", "1"), { mode: "periodic", periodMs: HOUR });
  assert.deepEqual(parseCompactionRetention("periodic", "1h"), { mode: "periodic", periodMs: HOUR });
  assert.deepEqual(parseCompactionRetention("periodic", "5m"), { mode: "periodic", periodMs: 5 * MINUTE });
  assert.deepEqual(parseCompactionRetention("periodic", "1.5h"), { mode: "periodic", periodMs: 1.5 * HOUR });
  assert.deepEqual(parseCompactionRetention("revision", "1000"), { mode: "revision", revisions: 1000 });
  assert.deepEqual(parseCompactionRetention("periodic", "0"), { mode: "periodic", periodMs: 0 });
  assert.throws(() => parseCompactionRetention("periodic", "soon"), /error parsing CompactionRetention/);
  assert.equal(newCompactor(parseCompactionRetention("periodic", "0"), new FakeTarget(), new FakeClock(), logs().log), undefined);
  assert.ok(newCompactor(parseCompactionRetention("revision", "5"), new FakeTarget(), new FakeClock(), logs().log) instanceof RevisionCompactor);
  assert.equal(formatGoDuration(HOUR), "1h0m0s");
  assert.equal(formatGoDuration(90 * MINUTE), "1h30m0s");
  assert.equal(formatGoDuration(30_000), "30s");
  assert.equal(formatGoDuration(1500), "1.5s");
});
