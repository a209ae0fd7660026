/**
 * The leader's view of each follower: how much of the log it holds (match), what to send next
 * (next), how sending is paced (probe / replicate / snapshot), and a bounded window of in-flight
 * append messages. Also the membership (voters, learners) and the quorum arithmetic over it.
 */
import { assert } from "./errors.js";
import type { ConfState, NodeId } from "./types.js";
import { sortIds } from "./util.js";

export enum ProgressState {
  /** Send at most one append per heartbeat interval until the follower's match point is found. */
  Probe = 0,
  /** Stream appends optimistically, bounded by the in-flight window. */
  Replicate = 1,
  /** A snapshot is on its way; send nothing else until it is acknowledged or fails. */
  Snapshot = 2,
}

/** A bounded window of in-flight append messages, each identified by its last entry index. */
export class Inflights {
  /** Last indexes of in-flight messages, oldest first. */
  private readonly buffer: number[] = [];

  constructor(readonly capacity: number) {}

  add(lastIndex: number): void {
    assert(!this.full(), "cannot add into a full inflights");
    this.buffer.push(lastIndex);
  }

  /** Frees every message whose last index is ≤ `index`: the follower acknowledged them. */
  freeLE(index: number): void {
    let i = 0;
    while (i < this.buffer.length && this.buffer[i]! <= index) i++;
    if (i > 0) this.buffer.splice(0, i);
  }

  freeFirstOne(): void {
    this.buffer.shift();
  }

  full(): boolean {
    return this.buffer.length >= this.capacity;
  }

  count(): number {
    return this.buffer.length;
  }

  reset(): void {
    this.buffer.length = 0;
  }
}

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Index of the next entry to send. Invariant: match < next. */
  next: number;
  state = ProgressState.Probe;
  /** In Snapshot state: index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from recently (reset every election timeout by check-quorum). */
  recentActive = false;
  /** In Probe state: an append was sent, pause until a response or heartbeat response. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflight: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement up to `index`; returns false if it was stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  optimisticUpdate(index: number): void {
    this.next = index + 1;
  }

  /**
   * Handles a rejection of the append at `rejected`, moving next back to just after `matchHint`.
   * Returns false if the rejection is stale (out of order).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending to this follower is paused by its pacing state. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  toString(): string {
    const learner = this.isLearner ? " learner" : "";
    const snap = this.state === ProgressState.Snapshot ? ` pendingSnap=${this.pendingSnapshot}` : "";
    const paused = this.isPaused() && this.state !== ProgressState.Snapshot ? " paused" : "";
    return `${ProgressState[this.state]} match=${this.match} next=${this.next}${learner}${paused}${snap} inflight=${this.inflights.count()}`;
  }
}

export type VoteResult = "pending" | "won" | "lost";

/** Membership plus per-member progress and vote tallies. */
export class ProgressTracker {
  /** Voting members. */
  voters = new Set<NodeId>();
  /** Non-voting members that still receive the log. Disjoint from voters. */
  learners = new Set<NodeId>();
  /** Progress of every member, voters and learners. */
  progress = new Map<NodeId, Progress>();
  /** Votes received in the current election: true = granted. */
  votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflight: number) {}

  confState(): ConfState {
    return { voters: sortIds(this.voters), learners: sortIds(this.learners) };
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The largest index stored on a quorum of voters. */
  committedIndex(): number {
    if (this.voters.size === 0) return Number.MAX_SAFE_INTEGER;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  /** True if a quorum of voters has been recently active (the leader counts itself active). */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    const q = this.quorum();
    const result: VoteResult = granted >= q ? "won" : this.voters.size - rejected < q ? "lost" : "pending";
    return { granted, rejected, result };
  }

  /** Cached result of memberIds(); cleared whenever membership changes. */
  private sortedIds: NodeId[] | undefined = undefined;

  /** Ids of all members in ascending order (stable iteration for deterministic message order). */
  memberIds(): NodeId[] {
    this.sortedIds ??= sortIds(this.progress.keys());
    return this.sortedIds;
  }

  setProgress(id: NodeId, progress: Progress): void {
    this.progress.set(id, progress);
    this.sortedIds = undefined;
  }

  removeMember(id: NodeId): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
    this.sortedIds = undefined;
  }

  clear(): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    this.votes.clear();
    this.sortedIds = undefined;
  }
}
