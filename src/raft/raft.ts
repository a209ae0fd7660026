/**
 * The Raft state machine (Ongaro & Ousterhout, with the thesis' pre-vote, check-quorum, leadership
 * transfer, ReadIndex and single-step membership changes). Pure and synchronous: inputs are
 * `tick()` and `step(message)`; outputs accumulate in `messages`, `readStates` and the RaftLog's
 * unstable part, and are drained by RawNode's Ready. See node.ts for the driver contract.
 */
import { ProposalDroppedError, SnapshotTemporarilyUnavailableError, CompactedError, UnavailableError, assert } from "./errors.js";
import { RaftLog } from "./log.js";
import { Progress, ProgressState, ProgressTracker } from "./progress.js";
import type { RandomSource } from "./rand.js";
import type { LogStorage } from "./storage.js";
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
import { bytesKey, countConfChanges, isEmptySnapshot, makeMessage, payloadSizeBytes, voteResponseType } from "./util.js";

/** Limits on resource use, each in the unit its name ends with. */
export interface RaftLimits {
  /** Upper bound on the entry bytes of one append message (at least one entry is always sent). */
  maxSizePerMsgBytes: number;
  /** Upper bound on append messages in flight to one follower in replicate state. */
  maxInflightMsgs: number;
  /** Upper bound on payload bytes of entries appended by this leader and not yet committed; 0 = no limit. */
  maxUncommittedEntriesSizeBytes: number;
  /** Upper bound on the bytes of committed entries handed out by one Ready; default maxSizePerMsgBytes. */
  maxCommittedSizePerReadyBytes?: number;
}

/** Configuration of one Raft node. */
export interface RaftConfig {
  /** This node's ID; never NONE. */
  id: NodeId;
  /**
   * Voters to bootstrap a brand-new group with (storage must be empty). Each becomes a committed
   * ConfChange entry at term 1, as etcd's StartNode does; a `context` is copied into its ConfChange.
   * Leave unset when restarting, or when joining an existing group (the leader sends a snapshot).
   */
  peers?: Array<NodeId | { id: NodeId; context: Uint8Array }>;
  /** Number of ticks without hearing from a leader before a follower campaigns (randomized up to 2×). */
  electionTicks: number;
  /** Number of ticks between leader heartbeats. Must be less than electionTicks. */
  heartbeatTicks: number;
  storage: LogStorage;
  /** Seeded randomness for election timeout jitter. */
  random: RandomSource;
  /** Last applied index on restart; entries up to it are not handed out again. Default: snapshot index. */
  applied?: number;
  limits: RaftLimits;
  /** Run a pre-vote round before incrementing the term, so a partitioned node cannot disrupt the group. */
  preVote: boolean;
  /** Leaders step down without a quorum's contact each election timeout; followers in contact with a leader ignore votes. */
  checkQuorum: boolean;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
}

/** A linearizable read point: once the application has applied `index`, it may serve the read tagged `requestCtx`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** Volatile state that a driver may want to observe (not persisted). */
export interface SoftState {
  lead: NodeId;
  role: RaftRole;
}

/** Context marking a vote request that results from a leadership transfer (bypasses leases). */
const CAMPAIGN_TRANSFER = new TextEncoder().encode("CampaignTransfer");

type CampaignKind = "pre-election" | "election" | "transfer";

/** A pending ReadIndex request on the leader, awaiting a heartbeat quorum. */
interface ReadIndexStatus {
  request: Message;
  index: number;
  acks: Set<NodeId>;
}

export class Raft {
  readonly id: NodeId;
  /** Current term (persisted). */
  term = 0;
  /** Whom this node voted for in `term`, or NONE (persisted). */
  vote: NodeId = NONE;
  /** The known leader of `term`, or NONE. */
  lead: NodeId = NONE;
  role = RaftRole.Follower;
  readonly raftLog: RaftLog;
  readonly tracker: ProgressTracker;
  /** Outgoing messages, drained by Ready. */
  messages: Message[] = [];
  /** Completed ReadIndex requests, drained by Ready. */
  readStates: ReadState[] = [];

  /** Ticks since the last election timeout reset (followers/candidates) or quorum check (leader). */
  electionElapsed = 0;
  /** Leader only: ticks since the last heartbeat broadcast. */
  heartbeatElapsed = 0;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Timeout in [electionTicks, 2×electionTicks), redrawn on every reset. */
  randomizedElectionTicks = 0;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly disableProposalForwarding: boolean;
  readonly limits: Required<RaftLimits>;
  private readonly random: RandomSource;

  /** Leader only: the member leadership is being handed to, or NONE. */
  leadTransferee: NodeId = NONE;
  /**
   * Leader only: index of the latest conf change entry appended. A new conf change is refused
   * while this entry is not yet applied, so at most one change is in progress.
   */
  pendingConfIndex = 0;
  /** Leader only: payload bytes appended in this term and not yet committed. */
  uncommittedSizeBytes = 0;
  /** Leader only: ReadIndex requests awaiting heartbeat acknowledgement, in arrival order. */
  private readIndexQueue: ReadIndexStatus[] = [];
  private readIndexByContext = new Map<string, ReadIndexStatus>();
  /** Leader only: ReadIndex requests received before an entry of this term committed. */
  private pendingReadIndexMessages: Message[] = [];

  constructor(config: RaftConfig) {
    assert(config.id !== NONE, "cannot use none as id");
    assert(config.heartbeatTicks > 0, "heartbeat tick must be greater than 0");
    assert(config.electionTicks > config.heartbeatTicks, "election tick must be greater than heartbeat tick");
    assert(config.limits.maxInflightMsgs > 0, "max inflight messages must be greater than 0");
    this.id = config.id;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.preVote = config.preVote;
    this.checkQuorum = config.checkQuorum;
    this.disableProposalForwarding = config.disableProposalForwarding ?? false;
    this.random = config.random;
    this.limits = {
      ...config.limits,
      maxCommittedSizePerReadyBytes: config.limits.maxCommittedSizePerReadyBytes ?? config.limits.maxSizePerMsgBytes,
    };
    this.raftLog = new RaftLog(config.storage, this.limits.maxCommittedSizePerReadyBytes);
    this.tracker = new ProgressTracker(config.limits.maxInflightMsgs);

    const { hardState, confState } = config.storage.initialState();
    this.applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadHardState(hardState);
    if (config.applied !== undefined && config.applied > 0) this.raftLog.appliedTo(config.applied);
    this.becomeFollower(this.term, NONE);
  }

  // ---- state transitions ----

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  private loadHardState(hs: HardState): void {
    assert(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      const fresh = new Progress(lastIndex + 1, this.tracker.maxInflight, pr.isLearner);
      if (id === this.id) fresh.match = lastIndex;
      this.tracker.setProgress(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readIndexQueue = [];
    this.readIndexByContext.clear();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTicks = this.electionTicks + this.random.intn(this.electionTicks);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = RaftRole.Follower;
  }

  becomeCandidate(): void {
    assert(this.role !== RaftRole.Leader, "invalid transition [leader -> candidate]");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = RaftRole.Candidate;
  }

  becomePreCandidate(): void {
    assert(this.role !== RaftRole.Leader, "invalid transition [leader -> pre-candidate]");
    // A pre-candidate changes neither term nor vote: it only asks whether it could win.
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = RaftRole.PreCandidate;
  }

  becomeLeader(): void {
    assert(this.role !== RaftRole.Follower, "invalid transition [follower -> leader]");
    this.reset(this.term);
    this.lead = this.id;
    this.role = RaftRole.Leader;
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // Conf changes in the uncommitted tail may exist; refuse new ones until they are applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // The empty entry commits everything from earlier terms once it commits (§5.4.2).
    const ok = this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    assert(ok, "empty entry was dropped");
    // The empty entry does not count toward the uncommitted-size limit.
    this.uncommittedSizeBytes = 0;
  }

  promotable(): boolean {
    const pr = this.tracker.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  // ---- time ----

  tick(): void {
    if (this.role === RaftRole.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === RaftRole.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.role !== RaftRole.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---- elections ----

  private hup(kind: CampaignKind): void {
    if (this.role === RaftRole.Leader) return;
    if (!this.promotable()) return;
    // Campaigning with an unapplied conf change could elect a leader under the wrong membership.
    if (this.raftLog.applied < this.raftLog.committed) {
      const from = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
      const pending = from <= this.raftLog.committed ? this.raftLog.slice(from, this.raftLog.committed + 1, Number.MAX_SAFE_INTEGER) : [];
      if (countConfChanges(pending) > 0) return;
    }
    this.campaign(kind);
  }

  private campaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === "pre-election") {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      // Pre-votes are sent for the term we would campaign in, without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      // Single-voter group: won outright.
      if (kind === "pre-election") this.campaign("election");
      else this.becomeLeader();
      return;
    }
    for (const id of this.tracker.memberIds()) {
      if (id === this.id || !this.tracker.voters.has(id)) continue;
      this.send(
        makeMessage({
          type: voteType,
          to: id,
          term,
          index: this.raftLog.lastIndex(),
          logTerm: this.raftLog.lastTerm(),
          context: kind === "transfer" ? CAMPAIGN_TRANSFER : undefined,
        }),
      );
    }
  }

  /** Records a vote (or pre-vote) and returns the election's outcome so far. */
  private poll(id: NodeId, granted: boolean): "pending" | "won" | "lost" {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  // ---- message handling ----

  /** Feeds one message (local or from a peer) to the state machine. Throws ProposalDroppedError for refused proposals. */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
        // A member that heard from a live leader within the minimum election timeout ignores
        // vote requests, so a partitioned-then-healed node cannot depose a working leader.
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; the term moves when the real election runs.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === MessageType.Heartbeat || m.type === MessageType.App) {
        // As in the Raft paper, answer a stale leader with our term so it steps down. Without
        // this, a member whose term ran ahead (it campaigned alone) stays stranded when its votes
        // cannot change anyone's term: check-quorum leases ignore them, or its stale
        // configuration names only members that have since been removed.
        this.send(makeMessage({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(makeMessage({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? "pre-election" : "election");
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // The response carries the request's term: for a pre-vote that is the future term,
          // which the pre-candidate recognises as granted.
          this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        break;
    }
    switch (this.role) {
      case RaftRole.Leader:
        this.stepLeader(m);
        return;
      case RaftRole.Candidate:
      case RaftRole.PreCandidate:
        this.stepCandidate(m);
        return;
      case RaftRole.Follower:
        this.stepFollower(m);
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.broadcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.tracker.quorumActive(this.id)) this.becomeFollower(this.term, NONE);
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.Prop:
        this.leaderPropose(m);
        return;
      case MessageType.ReadIndex:
        this.leaderReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
        if (m.context.byteLength > 0) this.readIndexAck(m);
        return;
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat response (or append response) before probing again.
        pr.probeSent = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
      case MessageType.TransferLeader:
        this.leaderTransfer(m.from, pr);
        return;
      default:
        return;
    }
  }

  private leaderPropose(m: Message): void {
    assert(m.entries.length > 0, "stepped empty MsgProp");
    if (!this.tracker.progress.has(this.id)) throw new ProposalDroppedError("this node was removed from the group");
    if (this.leadTransferee !== NONE) throw new ProposalDroppedError(`leadership transfer to ${this.leadTransferee} in progress`);
    const entries = m.entries.map((e) => ({ ...e }));
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.type !== EntryType.ConfChange) continue;
      if (this.pendingConfIndex > this.raftLog.applied) {
        // One membership change at a time: a second one becomes a no-op entry.
        entries[i] = { ...entry, type: EntryType.Normal, data: new Uint8Array(0) };
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntries(entries)) throw new ProposalDroppedError("too many uncommitted bytes");
    this.broadcastAppend();
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbeIndex = m.rejectHint;
      if (m.logTerm > 0) {
        // The follower's log has term m.logTerm at m.rejectHint: skip past every leader entry
        // with a larger term, which the follower cannot have.
        nextProbeIndex = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
      }
      if (pr.maybeDecrTo(m.index, nextProbeIndex)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.raftLog.firstIndex())) {
      // The snapshot landed, or the follower can continue from the log anyway.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Replicate) {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.broadcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Fill the in-flight window.
    while (this.maybeSendAppend(m.from, false)) {
      // keep sending while the window and the log allow
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private leaderTransfer(transferee: NodeId, pr: Progress): void {
    if (pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === RaftRole.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError("no leader (election in progress)");
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const result = this.poll(m.from, !m.reject);
        if (result === "won") {
          if (this.role === RaftRole.PreCandidate) {
            this.campaign("election");
          } else {
            this.becomeLeader();
            this.broadcastAppend();
          }
        } else if (result === "lost") {
          // A pre-candidate's lost vote response carries the current term, not a future one.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) throw new ProposalDroppedError("no leader");
        if (this.disableProposalForwarding) throw new ProposalDroppedError("proposal forwarding disabled");
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign immediately, skipping pre-vote and leases.
        this.hup("transfer");
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.ReadIndexResp:
        if (m.entries.length !== 1) return;
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNewIndex = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNewIndex !== undefined) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: lastNewIndex }));
      return;
    }
    // Mismatch at m.index: hint the largest index whose term is ≤ m.logTerm, and its term, so
    // the leader can skip a whole term of divergent entries in one round trip.
    let hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    hintIndex = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    const hintTerm = this.raftLog.term(hintIndex);
    this.send(
      makeMessage({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send(makeMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    if (snapshot !== undefined && this.restore(snapshot)) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader; returns false if it is stale or already covered. */
  restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.role !== RaftRole.Follower) {
      // Only followers restore; anything else indicates a bug elsewhere. Be defensive.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    // The snapshot may predate this member's addition (a new member catching up): accept it;
    // the conf change entries after it make this node a member when applied.
    if (this.raftLog.matchTerm(index, term)) {
      // The log already holds the snapshot's last entry: just fast-forward the commit index.
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(snapshot);
    this.tracker.clear();
    this.applyConfState(confState);
    return true;
  }

  // ---- replication ----

  /**
   * Appends entries to the leader's log, stamping term and index. Returns false (appending
   * nothing) if they would exceed the uncommitted-size limit.
   */
  private appendEntries(entries: Entry[]): boolean {
    const lastIndex = this.raftLog.lastIndex();
    for (let i = 0; i < entries.length; i++) {
      entries[i]!.term = this.term;
      entries[i]!.index = lastIndex + 1 + i;
    }
    if (!this.increaseUncommittedSize(entries)) return false;
    const newLast = this.raftLog.append(entries);
    this.tracker.progress.get(this.id)?.maybeUpdate(newLast);
    // A single voter commits on its own append.
    this.maybeCommit();
    return true;
  }

  private increaseUncommittedSize(entries: readonly Entry[]): boolean {
    const size = payloadSizeBytes(entries);
    const limit = this.limits.maxUncommittedEntriesSizeBytes;
    // Always allow one proposal when nothing is outstanding, so a large entry cannot wedge the group.
    if (this.uncommittedSizeBytes > 0 && size > 0 && limit > 0 && this.uncommittedSizeBytes + size > limit) return false;
    this.uncommittedSizeBytes += size;
    return true;
  }

  /** Called with entries handed to the application: they are committed, so no longer count. */
  reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.uncommittedSizeBytes === 0) return;
    const size = payloadSizeBytes(entries);
    this.uncommittedSizeBytes = size > this.uncommittedSizeBytes ? 0 : this.uncommittedSizeBytes - size;
  }

  private maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.tracker.committedIndex(), this.term);
  }

  private broadcastAppend(): void {
    for (const id of this.tracker.memberIds()) if (id !== this.id) this.sendAppend(id);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends an append (or a snapshot if the needed entries were compacted) to `to`, paced by its
   * progress state. With sendIfEmpty false, sends nothing when there are no new entries.
   * Returns whether a message was sent.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let entries: Entry[] | undefined;
    let logTerm: number | undefined;
    try {
      logTerm = this.termOrThrow(prevIndex);
      entries = this.raftLog.entries(pr.next, this.limits.maxSizePerMsgBytes);
    } catch (error) {
      if (!(error instanceof CompactedError || error instanceof UnavailableError)) throw error;
      entries = undefined;
    }
    if (entries !== undefined && logTerm !== undefined) {
      if (entries.length === 0 && !sendIfEmpty) return false;
      if (entries.length > 0) {
        const last = entries[entries.length - 1]!.index;
        if (pr.state === ProgressState.Replicate) {
          pr.optimisticUpdate(last);
          pr.inflights.add(last);
        } else if (pr.state === ProgressState.Probe) {
          pr.probeSent = true;
        }
      }
      this.send(
        makeMessage({ type: MessageType.App, to, index: prevIndex, logTerm, entries, commit: this.raftLog.committed }),
      );
      return true;
    }
    // The entries the follower needs are gone: send the latest snapshot instead.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (error) {
      if (error instanceof SnapshotTemporarilyUnavailableError) return false;
      throw error;
    }
    assert(!isEmptySnapshot(snapshot), "need non-empty snapshot");
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send(makeMessage({ type: MessageType.Snap, to, snapshot }));
    return true;
  }

  /** Term of `index`, throwing CompactedError if it precedes the log (raftLog.term returns 0 there). */
  private termOrThrow(index: number): number {
    if (index < this.raftLog.firstIndex() - 1) throw new CompactedError();
    return this.raftLog.term(index);
  }

  private broadcastHeartbeat(context?: Uint8Array): void {
    for (const id of this.tracker.memberIds()) {
      if (id === this.id) continue;
      const pr = this.tracker.progress.get(id)!;
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(pr.match, this.raftLog.committed);
      this.send(makeMessage({ type: MessageType.Heartbeat, to: id, commit, context }));
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(makeMessage({ type: MessageType.TimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp
    ) {
      assert(m.term !== 0, `term should be set when sending ${MessageType[m.type]}`);
    } else {
      assert(m.term === 0, `term should not be set when sending ${MessageType[m.type]} (was ${m.term})`);
      // Proposals and forwarded reads are not tied to a term.
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) m.term = this.term;
    }
    this.messages.push(m);
  }

  // ---- ReadIndex ----

  private leaderReadIndex(m: Message): void {
    if (this.tracker.isSingleton()) {
      this.answerReadIndex(m, this.raftLog.committed);
      return;
    }
    // Until an entry of this term commits, the leader's commit index may lag the true one.
    if (this.raftLog.term(this.raftLog.committed) !== this.term) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.startReadIndex(m);
  }

  private startReadIndex(m: Message): void {
    const context = m.entries[0]?.data ?? new Uint8Array(0);
    const key = bytesKey(context);
    if (!this.readIndexByContext.has(key)) {
      const status: ReadIndexStatus = { request: m, index: this.raftLog.committed, acks: new Set([this.id]) };
      this.readIndexByContext.set(key, status);
      this.readIndexQueue.push(status);
    }
    this.broadcastHeartbeat(context);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (this.raftLog.term(this.raftLog.committed) !== this.term) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.startReadIndex(m);
  }

  private readIndexAck(m: Message): void {
    const status = this.readIndexByContext.get(bytesKey(m.context));
    if (status === undefined) return;
    status.acks.add(m.from);
    let acked = 0;
    for (const id of status.acks) if (this.tracker.voters.has(id)) acked++;
    if (acked < this.tracker.quorum()) return;
    // A quorum confirmed leadership as of this request, and so of every earlier one too.
    const position = this.readIndexQueue.indexOf(status);
    const released = this.readIndexQueue.splice(0, position + 1);
    for (const done of released) {
      this.readIndexByContext.delete(bytesKey(done.request.entries[0]?.data ?? new Uint8Array(0)));
      this.answerReadIndex(done.request, done.index);
    }
  }

  private answerReadIndex(request: Message, index: number): void {
    const context = request.entries[0]?.data ?? new Uint8Array(0);
    if (request.from === NONE || request.from === this.id) {
      this.readStates.push({ index, requestCtx: context });
    } else {
      this.send(makeMessage({ type: MessageType.ReadIndexResp, to: request.from, index, entries: request.entries }));
    }
  }

  // ---- membership ----

  /** Installs a membership wholesale (at start, or from a snapshot). */
  private applyConfState(cs: ConfState): void {
    const next = this.raftLog.lastIndex() + 1;
    for (const id of cs.voters) {
      this.tracker.voters.add(id);
      this.tracker.setProgress(id, new Progress(next, this.tracker.maxInflight, false));
    }
    for (const id of cs.learners) {
      assert(!this.tracker.voters.has(id), `${id} is both voter and learner`);
      this.tracker.learners.add(id);
      this.tracker.setProgress(id, new Progress(next, this.tracker.maxInflight, true));
    }
    const self = this.tracker.progress.get(this.id);
    if (self) self.match = next - 1;
  }

  /**
   * Applies one committed membership change and returns the resulting membership. Called by the
   * driver when it applies a ConfChange entry (and for each bootstrap entry on first start).
   */
  applyConfChange(cc: ConfChange): ConfState {
    const id = cc.nodeId;
    if (id !== NONE) {
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.addVoter(id);
          break;
        case ConfChangeType.AddLearnerNode:
          this.addLearner(id);
          break;
        case ConfChangeType.RemoveNode:
          this.removeMember(id);
          break;
        case ConfChangeType.UpdateNode:
          break;
      }
    }
    this.afterMembershipChange();
    return this.tracker.confState();
  }

  private addVoter(id: NodeId): void {
    const pr = this.tracker.progress.get(id);
    if (pr !== undefined) {
      // Promote a learner (or no-op for an existing voter).
      pr.isLearner = false;
      this.tracker.learners.delete(id);
      this.tracker.voters.add(id);
      return;
    }
    this.tracker.voters.add(id);
    this.tracker.setProgress(id, this.freshProgress(id, false));
  }

  private addLearner(id: NodeId): void {
    // Demoting a voter to learner is not supported in single-step changes; ignore it.
    if (this.tracker.voters.has(id)) return;
    if (this.tracker.learners.has(id)) return;
    this.tracker.learners.add(id);
    this.tracker.setProgress(id, this.freshProgress(id, true));
  }

  private freshProgress(id: NodeId, isLearner: boolean): Progress {
    const pr = new Progress(this.raftLog.lastIndex() + 1, this.tracker.maxInflight, isLearner);
    if (id === this.id) pr.match = this.raftLog.lastIndex();
    // Give a new member a full election timeout to respond before check-quorum counts it out.
    pr.recentActive = true;
    return pr;
  }

  private removeMember(id: NodeId): void {
    this.tracker.removeMember(id);
    if (id === this.leadTransferee) this.abortLeaderTransfer();
  }

  private afterMembershipChange(): void {
    if (this.role !== RaftRole.Leader) return;
    if (!this.tracker.voters.has(this.id)) {
      // A leader removed from (or demoted out of) the voters steps down; the rest elect anew.
      this.becomeFollower(this.term, NONE);
      return;
    }
    // The quorum changed: the commit index may advance, and new members need the log.
    if (this.maybeCommit()) this.broadcastAppend();
    else for (const id of this.tracker.memberIds()) if (id !== this.id) this.maybeSendAppend(id, false);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
