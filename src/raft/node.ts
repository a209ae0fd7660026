/**
 * RawNode: the Raft core's public API, in the spirit of etcd-io/raft's RawNode. It does no I/O,
 * keeps no clock and never blocks; a driver owns the loop.
 *
 * ## Inputs
 * - `tick()` once per logical tick (e.g. every 100 ms). Elections fire after electionTicks to
 *   2×electionTicks ticks without a leader; a leader heartbeats every heartbeatTicks ticks.
 * - `step(message)` for every message received from a peer (any order, duplicates and losses are
 *   tolerated). Local message kinds are ignored; so are responses from non-members. It never throws
 *   ProposalDroppedError: a forwarded proposal that cannot be accepted is dropped silently.
 *   Raft does not deduplicate proposals: a proposal duplicated in transit is appended twice, so
 *   the state machine must apply each request at most once (e.g. by request id).
 * - `propose(data)`, `proposeConfChange(cc)`: throw `ProposalDroppedError` when there is no known
 *   leader, a leadership transfer is in progress, or the uncommitted-bytes limit is reached. On a
 *   follower the proposal is forwarded to the leader (it may still be lost: a proposal is only
 *   known to have committed when its entry comes back in `committedEntries`).
 * - `readIndex(ctx)`, `transferLeader(id)`, `campaign()`; `reportUnreachable(id)` and
 *   `reportSnapshot(id, ok)` from the transport.
 *
 * ## Outputs: the Ready loop
 * Whenever `hasReady()` is true (check after every input), the driver does, in this order:
 *
 * ```
 * const rd = node.ready();
 * // 1. Persist, durably (fsync) when rd.mustSync:
 * //    rd.snapshot (if set) first, then rd.entries (they replace any stored entries at the same
 * //    or later indexes), then rd.hardState (if set). The LogStorage given to the node must
 * //    reflect these writes before the next call into the node (e.g. MemoryStorage.applySnapshot,
 * //    .append, .setHardState).
 * // 2. Send rd.messages to their `to` members. Only after step 1: a vote or an append
 * //    acknowledgement promises that the state is on disk. A message whose send fails may be
 * //    dropped (report it with reportUnreachable); a failed MsgSnap must be reported with
 * //    reportSnapshot(to, false), a delivered one with reportSnapshot(to, true).
 * // 3. Apply rd.snapshot (if set) to the state machine, then rd.committedEntries in order. For an
 * //    entry of type ConfChange, decode it (decodeConfChange) and call node.applyConfChange(cc);
 * //    entries with empty data are no-ops the leader appends on election.
 * //    Serve every rd.readStates[i] once the applied index reaches readStates[i].index.
 * // 4. node.advance(rd);
 * ```
 *
 * A single-member group works the same way: once the first Ready is handled (which applies the
 * bootstrap conf change entries; campaigning waits for them), `campaign()` or electionTicks to
 * 2×electionTicks ticks make it leader at once, with no messages; a proposal is then appended
 * and committed in the same step, so one Ready carries it in both `entries` and `committedEntries`. Step 1 before step 3 is what makes that safe: an entry is
 * applied only after it is on disk.
 *
 * ## readStates
 * `readIndex(ctx)` asks for a linearizable read point. When the leader has confirmed, through a
 * heartbeat round acknowledged by a quorum, that it was still the leader when the request arrived,
 * a `ReadState {index, requestCtx: ctx}` appears in some later Ready (on the member that called
 * readIndex; followers forward the request to the leader). `index` is the leader's commit index at
 * the time of the request: a read that runs against state applied up to at least `index` observes
 * every write that completed before readIndex was called. Requests can be lost (no leader,
 * leadership change, message loss): the driver must time them out and retry with a fresh ctx.
 * `ctx` must be unique among outstanding requests.
 *
 * Call ready() again only after advance() of the previous Ready.
 *
 * ## Restart
 * Construct with the same storage (holding the persisted snapshot, entries and hard state) and no
 * `peers`. Membership starts as `storage.initialState().confState` (the snapshot's), and committed
 * entries after the snapshot are handed out again: a state machine that is durable beyond the
 * snapshot skips the ones it already has (by its own applied index, as etcd's consistent index),
 * but must still call applyConfChange for every ConfChange entry, or membership is lost. Passing
 * `applied` suppresses re-delivery up to it; do that only if initialState().confState is the
 * membership as of `applied`.
 */
import { encodeConfChange } from "./confchange.js";
import { ProposalDroppedError, assert } from "./errors.js";
import type { ProgressState } from "./progress.js";
import { Raft, type RaftConfig, type ReadState, type SoftState } from "./raft.js";
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  RaftRole,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Snapshot,
} from "./types.js";
import { hardStateEqual, isEmptyHardState, isLocalMessage, isResponseMessage, makeMessage } from "./util.js";

export { ProposalDroppedError };
export type { RaftConfig, RaftLimits, ReadState, SoftState } from "./raft.js";

/** Configuration of a RawNode: see RaftConfig. */
export type RawNodeConfig = RaftConfig;

/** Everything the driver must do after some inputs; see the module comment for the order. */
export interface Ready {
  /** Leader and role, when they changed since the previous Ready. Need not be persisted. */
  softState?: SoftState;
  /** Term, vote and commit, when they changed: persist before sending messages. */
  hardState?: HardState;
  /** Completed ReadIndex requests (see module comment). */
  readStates: ReadState[];
  /** Entries to append to stable storage before sending messages. */
  entries: Entry[];
  /** A snapshot received from the leader, to persist and apply. */
  snapshot?: Snapshot;
  /** Committed entries to apply, in order, after persisting `entries`. */
  committedEntries: Entry[];
  /** Messages to send after persisting. */
  messages: Message[];
  /** Whether the writes of this Ready must be fsync'd before sending (a vote, term or entries changed). */
  mustSync: boolean;
}

/** Replication state of one member, as seen by the leader. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
  inflight: number;
}

export interface Status {
  id: NodeId;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: NodeId;
  confState: ConfState;
  /** Per-member progress; only on the leader. */
  progress?: Map<NodeId, ProgressStatus>;
}

export class RawNode {
  /** The state machine; exposed for tests and the simulator's checkers, not for drivers. */
  readonly raft: Raft;
  /** Soft state as of the last Ready handed out. */
  private prevSoftState: SoftState;
  /** Hard state as of the last Ready handed out. */
  private prevHardState: HardState;

  constructor(config: RawNodeConfig) {
    this.raft = new Raft(config);
    const lastIndex = config.storage.lastIndex();
    if (config.peers !== undefined && config.peers.length > 0) {
      const { hardState } = config.storage.initialState();
      assert(lastIndex === 0 && isEmptyHardState(hardState), "peers given but storage is not empty: restart without peers");
      this.bootstrap(config.peers);
    }
    this.prevSoftState = this.raft.softState();
    // A fresh bootstrap must still hand out its hard state (term 1, commit n) once.
    this.prevHardState = config.peers?.length ? { term: 0, vote: NONE, commit: 0 } : this.raft.hardState();
  }

  /** Appends one committed AddNode entry per peer at term 1 and applies them, as etcd's StartNode. */
  private bootstrap(peers: NonNullable<RaftConfig["peers"]>): void {
    this.raft.becomeFollower(1, NONE);
    const entries: Entry[] = peers.map((peer, i) => {
      const id = typeof peer === "bigint" ? peer : peer.id;
      const context = typeof peer === "bigint" ? new Uint8Array(0) : peer.context;
      const cc: ConfChange = { id: 0n, type: ConfChangeType.AddNode, nodeId: id, context };
      return { term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(cc) };
    });
    this.raft.raftLog.append(entries);
    this.raft.raftLog.committed = entries.length;
    for (const peer of peers) {
      const id = typeof peer === "bigint" ? peer : peer.id;
      this.raft.applyConfChange({ id: 0n, type: ConfChangeType.AddNode, nodeId: id, context: new Uint8Array(0) });
    }
  }

  /** Advances logical time by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Starts an election now (pre-vote first if enabled). No-op on a leader or learner, and while
   * committed conf change entries (including the bootstrap ones) wait to be applied: handle the
   * first Ready before campaigning.
   */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  /** Proposes `data` for the log. Throws ProposalDroppedError if it cannot be accepted now. */
  propose(data: Uint8Array): void {
    this.raft.step(makeMessage({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }));
  }

  /**
   * Proposes a membership change. Only one may be in progress: a second one proposed before the
   * first is applied is committed as an empty no-op entry. Throws ProposalDroppedError like propose.
   */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(makeMessage({ type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }] }));
  }

  /** Applies a committed membership change (see the Ready loop) and returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Feeds a message received from a peer. Never throws ProposalDroppedError: a proposal forwarded
   * by a peer that cannot be accepted here is dropped silently (its proposer times out).
   */
  step(message: Message): void {
    if (isLocalMessage(message.type)) return;
    if (isResponseMessage(message.type) && !this.raft.tracker.progress.has(message.from)) return;
    try {
      this.raft.step(message);
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }

  /** Requests a linearizable read point tagged `ctx`; the answer arrives as a Ready's readStates. */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(
      makeMessage({ type: MessageType.ReadIndex, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }] }),
    );
  }

  /** Asks the leader to hand leadership to `transferee` (which must be a voter). */
  transferLeader(transferee: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: transferee }));
  }

  /** The transport failed to reach `id`; the leader slows down replication to it. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  /** The outcome of sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const soft = r.softState();
    if (soft.lead !== this.prevSoftState.lead || soft.role !== this.prevSoftState.role) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.messages.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextEntries()) return true;
    return r.readStates.length > 0;
  }

  /** Collects the pending work. Each Ready must be passed to advance() once handled. */
  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      readStates: r.readStates,
      entries: r.raftLog.unstableEntries(),
      committedEntries: r.raftLog.nextEntries(),
      messages: r.messages,
      mustSync: false,
    };
    const soft = r.softState();
    if (soft.lead !== this.prevSoftState.lead || soft.role !== this.prevSoftState.role) {
      rd.softState = soft;
      this.prevSoftState = soft;
    }
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) {
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    if (r.raftLog.unstable.snapshot !== undefined) rd.snapshot = r.raftLog.unstable.snapshot;
    if (rd.entries.length > 0 || rd.snapshot !== undefined) rd.mustSync = true;
    r.messages = [];
    r.readStates = [];
    // Entries handed to the application are committed: they no longer count as uncommitted.
    r.reduceUncommittedSize(rd.committedEntries);
    return rd;
  }

  /** Tells the node that `rd` was persisted, sent and applied. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.snapshot !== undefined) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      if (r.raftLog.applied < rd.snapshot.metadata.index) r.raftLog.applied = rd.snapshot.metadata.index;
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.raftLog.appliedTo(lastCommitted.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.raftLog.stableTo(lastEntry.index, lastEntry.term);
  }

  status(): Status {
    const r = this.raft;
    const status: Status = {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      confState: r.tracker.confState(),
    };
    if (r.role === RaftRole.Leader) {
      status.progress = new Map();
      for (const [id, pr] of r.tracker.progress) {
        status.progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count(),
        });
      }
    }
    return status;
  }
}
