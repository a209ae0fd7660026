/**
 * A simulated network: every message gets a random delay (so messages reorder), may be lost or
 * duplicated, and is dropped if its directed link is cut (partitions, asymmetric links).
 */
import type { SeededRandom } from "../../src/raft/rand.js";
import type { Message, NodeId } from "../../src/raft/types.js";

export interface NetworkConfig {
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is lost. */
  lossRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
}

const NOTHING_DUE: { delivered: Message[]; dropped: Message[] } = { delivered: [], dropped: [] };

export class SimNetwork {
  /** Messages by delivery time (ms). */
  private readonly inFlight = new Map<number, Message[]>();
  /** Directed links "from>to" that drop everything. */
  private readonly cut = new Set<string>();
  /** Messages sent, delivered and dropped (for reports). */
  sent = 0;
  dropped = 0;

  constructor(public config: NetworkConfig, private readonly random: SeededRandom) {}

  /** Queues `m` sent at `now`; returns false if it was dropped on the spot. */
  send(m: Message, now: number): boolean {
    this.sent++;
    if (this.cut.has(`${m.from}>${m.to}`) || this.random.chance(this.config.lossRate)) {
      this.dropped++;
      return false;
    }
    this.schedule(m, now);
    if (this.random.chance(this.config.duplicateRate)) this.schedule(m, now);
    return true;
  }

  /** Holds a message until `at` (its receiver is paused). */
  deliverAt(m: Message, at: number): void {
    const bucket = this.inFlight.get(at);
    if (bucket) bucket.push(m);
    else this.inFlight.set(at, [m]);
  }

  private schedule(m: Message, now: number): void {
    const { minDelayMs, maxDelayMs } = this.config;
    const at = now + minDelayMs + this.random.intn(maxDelayMs - minDelayMs + 1);
    const bucket = this.inFlight.get(at);
    if (bucket) bucket.push(m);
    else this.inFlight.set(at, [m]);
  }

  /**
   * Removes and returns the messages due at `now`; `dropped` lists those lost because their link
   * was cut while they were in flight (the sender's transport would notice, e.g. for snapshots).
   */
  due(now: number): { delivered: Message[]; dropped: Message[] } {
    const bucket = this.inFlight.get(now);
    if (!bucket) return NOTHING_DUE;
    this.inFlight.delete(now);
    if (this.cut.size === 0) return { delivered: bucket, dropped: [] };
    const delivered: Message[] = [];
    const dropped: Message[] = [];
    for (const m of bucket) (this.cut.has(`${m.from}>${m.to}`) ? dropped : delivered).push(m);
    this.dropped += dropped.length;
    return { delivered, dropped };
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Splits members into groups that cannot talk to each other. */
  partition(groups: NodeId[][]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.cutLink(a, b);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(): boolean {
    return this.cut.size > 0;
  }

  describeCut(): string {
    return [...this.cut].sort().join(" ");
  }
}
