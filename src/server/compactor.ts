/**
 * Auto-compaction, as etcd 3.4's v3compactor runs it (--auto-compaction-mode, --auto-compaction-retention).
 *
 * Periodic mode with retention period P: every P/10 (P capped at 1 h for this interval) the current
 * revision is sampled into a window of P/(P/10) + 1 samples, so the oldest sample is the revision
 * of about P ago. The first compaction happens once P has passed since start; later ones once the
 * compact interval (P capped at 1 h) has passed since the last success. Each compacts at the
 * oldest sample. A failure is retried at the next sample. "already compacted" counts as success.
 *
 * Revision mode with retention R: every 5 minutes, compact at (current revision − R) unless that is
 * ≤ 0 or the same revision as the last successful compaction.
 *
 * Both can be paused (etcd pauses them on members that are not the leader). Time comes from the
 * injected Clock, so tests drive them with a fake one. Log lines are etcd's (capnslog "compactor").
 */
import type { Clock } from "../platform/clock.js";

export type CompactionMode = "periodic" | "revision";

/** etcd's revInterval: how often revision mode checks. */
export const REVISION_CHECK_INTERVAL_MS = 5 * 60 * 1000;
/** etcd's retryDivisor: periodic mode samples P/10 apart. */
const RETRY_DIVISOR = 10;
const HOUR_MS = 60 * 60 * 1000;

export interface CompactorLog {
  info(message: string): void;
  warn(message: string): void;
}

/** What the compactor drives. */
export interface CompactionTarget {
  /** The store's current revision. */
  currentRevision(): number;
  /** Compacts through Raft; resolves when applied. */
  compact(revision: number): Promise<void>;
  /** Whether an error from `compact` is "required revision has been compacted" (treated as success). */
  isCompactedError(error: unknown): boolean;
}

/** The parsed --auto-compaction-retention: a period in periodic mode, a revision count in revision mode. */
export type CompactionRetention = { mode: "periodic"; periodMs: number } | { mode: "revision"; revisions: number };

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: HOUR_MS };

/** Go's time.ParseDuration in milliseconds, or undefined when the text is not a duration. */
function parseDurationMs(text: string): number | undefined {
  if (text === "0") return 0;
  const match = /^([+-]?)((?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+)$/.exec(text);
  if (match === null) return undefined;
  let total = 0;
  for (const part of match[2]!.matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_MS[part[2]!]!;
  return match[1] === "-" ? -total : total;
}

/**
 * etcd's parseCompactionRetention: a plain non-negative integer is hours (periodic) or revisions
 * (revision); anything else must be a Go duration. As in etcd, a duration given in revision mode
 * becomes its nanosecond count as a number of revisions.
 */
export function parseCompactionRetention(mode: CompactionMode, retention: string): CompactionRetention {
  const text = retention === "" ? "0" : retention;
  if (/^[+]?[0-9]+$/.test(text)) {
    const n = Number(text);
    return mode === "periodic" ? { mode, periodMs: n * HOUR_MS } : { mode, revisions: n };
  }
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new Error(`error parsing CompactionRetention: time: invalid duration ${JSON.stringify(text)}`);
  return mode === "periodic" ? { mode, periodMs: ms } : { mode, revisions: Math.round(ms * 1e6) };
}

/** Go's Duration.String() for whole-millisecond durations ("1h0m0s", "5m0s", "1.5s", "500ms"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / HOUR_MS);
  const minutes = Math.floor((ms - hours * HOUR_MS) / 60_000);
  const seconds = `${Number(((ms - hours * HOUR_MS - minutes * 60_000) / 1000).toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}

export interface Compactor {
  run(): void;
  stop(): void;
  pause(): void;
  resume(): void;
}

/** The compactor for the flags, or undefined when the retention is 0 (auto-compaction off, as etcd). */
export function newCompactor(retention: CompactionRetention, target: CompactionTarget, clock: Clock, log: CompactorLog): Compactor | undefined {
  if (retention.mode === "periodic") return retention.periodMs === 0 ? undefined : new PeriodicCompactor(retention.periodMs, target, clock, log);
  return retention.revisions === 0 ? undefined : new RevisionCompactor(retention.revisions, target, clock, log);
}

/** etcd's Periodic compactor; see the module comment. */
export class PeriodicCompactor implements Compactor {
  /** Sampled revisions, oldest first; revs[0] is the revision of about one period ago. */
  private revs: number[] = [];
  /** Cancels the pending wait; undefined when not running. */
  private cancelWait: (() => void) | undefined;
  private stopped = false;
  private paused = false;
  /** When the last compaction succeeded (or the compactor started). */
  private lastSuccessMs = 0;
  /** Time required since the last success: the period at first, then the compact interval. */
  private baseIntervalMs: number;

  constructor(
    private readonly periodMs: number,
    private readonly target: CompactionTarget,
    private readonly clock: Clock,
    private readonly log: CompactorLog,
  ) {
    this.baseIntervalMs = periodMs;
  }

  /** Time between compactions after the first: the period, at most one hour. */
  compactIntervalMs(): number {
    return Math.min(this.periodMs, HOUR_MS);
  }
  /** Time between samples (and retries): a tenth of the compact interval. */
  retryIntervalMs(): number {
    return this.compactIntervalMs() / RETRY_DIVISOR;
  }
  /** Samples kept: one period's worth plus one. */
  retentions(): number {
    return Math.floor(this.periodMs / this.retryIntervalMs()) + 1;
  }

  run(): void {
    this.lastSuccessMs = this.clock.nowMs();
    this.sample();
  }

  private sample(): void {
    if (this.stopped) return;
    this.revs.push(this.target.currentRevision());
    if (this.revs.length > this.retentions()) this.revs = this.revs.slice(1);
    this.cancelWait = this.clock.after(this.retryIntervalMs(), () => void this.afterWait());
  }

  private async afterWait(): Promise<void> {
    this.cancelWait = undefined;
    if (this.stopped) return;
    if (this.paused || this.clock.nowMs() - this.lastSuccessMs < this.baseIntervalMs) return this.sample();
    if (this.baseIntervalMs === this.periodMs) this.baseIntervalMs = this.compactIntervalMs();
    const revision = this.revs[0]!;
    this.log.info(`Starting auto-compaction at revision ${revision} (retention: ${formatGoDuration(this.periodMs)})`);
    try {
      await this.target.compact(revision);
      this.succeeded(revision);
    } catch (error) {
      if (this.target.isCompactedError(error)) {
        this.succeeded(revision);
      } else {
        this.log.info(`Failed auto-compaction at revision ${revision} (${(error as Error).message})`);
        this.log.info(`Retry after ${formatGoDuration(this.retryIntervalMs())}`);
      }
    }
    this.sample();
  }

  private succeeded(revision: number): void {
    this.log.info(`Finished auto-compaction at revision ${revision}`);
    this.lastSuccessMs = this.clock.nowMs();
  }

  stop(): void {
    this.stopped = true;
    this.cancelWait?.();
    this.cancelWait = undefined;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

/** etcd's Revision compactor; see the module comment. */
export class RevisionCompactor implements Compactor {
  /** The revision of the last successful compaction (0: none). */
  private previous = 0;
  private cancelWait: (() => void) | undefined;
  private stopped = false;
  private paused = false;

  constructor(
    private readonly retentionRevisions: number,
    private readonly target: CompactionTarget,
    private readonly clock: Clock,
    private readonly log: CompactorLog,
  ) {}

  run(): void {
    this.wait();
  }

  private wait(): void {
    if (this.stopped) return;
    this.cancelWait = this.clock.after(REVISION_CHECK_INTERVAL_MS, () => void this.check());
  }

  private async check(): Promise<void> {
    this.cancelWait = undefined;
    if (this.stopped) return;
    const revision = this.target.currentRevision() - this.retentionRevisions;
    if (this.paused || revision <= 0 || revision === this.previous) return this.wait();
    this.log.info(`Starting auto-compaction at revision ${revision} (retention: ${this.retentionRevisions} revisions)`);
    try {
      await this.target.compact(revision);
      this.succeeded(revision);
    } catch (error) {
      if (this.target.isCompactedError(error)) {
        this.succeeded(revision);
      } else {
        this.log.info(`Failed auto-compaction at revision ${revision} (${(error as Error).message})`);
        this.log.info(`Retry after ${formatGoDuration(REVISION_CHECK_INTERVAL_MS)}`);
      }
    }
    this.wait();
  }

  private succeeded(revision: number): void {
    this.previous = revision;
    this.log.info(`Finished auto-compaction at revision ${revision}`);
  }

  stop(): void {
    this.stopped = true;
    this.cancelWait?.();
    this.cancelWait = undefined;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}
