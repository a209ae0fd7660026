/**
 * The raft driver: owns a RawNode, its WAL and the tick, and runs the Ready loop
 *
 *   persist (WAL save, one fdatasync) → send → apply committed entries → serve read states → advance
 *
 * Group commit comes from the loop itself: proposals made during one event-loop turn are appended
 * by the same Ready and share one fdatasync. The driver knows nothing about requests: committed
 * normal entries go to `applyEntry`, read states to `onReadState`.
 */
import { decodeConfChange, EntryType, MemoryStorage, ProposalDroppedError, RawNode, RaftRole, SeededRandom, type Entry, type NodeId, type Ready } from "../raft/index.js";
import { Wal, walExists } from "../storage/wal/wal.js";
import type { Clock } from "../platform/clock.js";

/** Settings of the Raft group, with their units. */
export interface RaftNodeOptions {
  id: NodeId;
  /** Voters of a new group; ignored when the WAL already exists. */
  peers: NodeId[];
  walDir: string;
  /** Opaque bytes stored in a new WAL (member and cluster identity). */
  walMetadata: Uint8Array;
  /** Milliseconds per tick (etcd's --heartbeat-interval). */
  tickMs: number;
  /** Ticks without a leader before an election (--election-timeout / --heartbeat-interval). */
  electionTicks: number;
  /** Index of the last entry whose effects are durable in the state machine (the consistent index). */
  appliedIndex: number;
  /** Upper bound of uncommitted entry bytes on the leader; proposals beyond are dropped. */
  maxUncommittedBytes: number;
  clock: Clock;
  /** Applies one committed normal entry with data, synchronously, in log order. */
  applyEntry: (entry: Entry) => void;
  /** Called when the Raft role or leader changes. */
  onSoftState: (leader: NodeId, isLeader: boolean) => void;
  /** A ReadIndex request completed: reads tagged `ctx` may be served once `index` is applied. */
  onReadState: (index: number, ctx: Uint8Array) => void;
  /** Called after every Ready is fully handled, with the applied index. */
  onApplied: (appliedIndex: number) => void;
  observeFsyncSeconds: (seconds: number) => void;
  /** Applied entries between snapshots (etcd's --snapshot-count). */
  snapshotCount: number;
  /** WAL segments to keep once released by a snapshot (etcd's --max-wals; 0 keeps all). */
  maxWals: number;
  /** Makes every applied effect durable in the state machine (before the log behind it is dropped). */
  persistStateMachine: () => Promise<void>;
}

/** Bytes of committed entries handed out per Ready (bounds one apply batch). */
export const MAX_COMMITTED_BYTES_PER_READY = 64 * 1024 * 1024;
/** Bytes of entries in one append message (matters only with peers). */
export const MAX_BYTES_PER_MESSAGE = 1024 * 1024;

export class RaftNode {
  /** The Raft state machine. */
  private readonly node: RawNode;
  /** In-memory log mirror of the WAL, which RawNode reads. */
  private readonly storage: MemoryStorage;
  private readonly wal: Wal;
  /** Entries up to this index are already in the state machine (its consistent index at start). */
  private readonly skipThroughIndex: number;
  /** Highest index applied to the state machine. */
  private applied: number;
  /** Highest index known committed. */
  private committed: number;
  /** Current term, updated from every hard state. */
  private currentTerm = 0;
  private leader: NodeId = 0n;
  /** Whether a Ready pass is scheduled for this turn. */
  private scheduled = false;
  private stopTicker: (() => void) | undefined;
  private stopped = false;
  /** Index of the latest snapshot marker (0: none). */
  private snapshotIndex = 0;
  /** A snapshot is being taken (waiting for the state machine to be durable). */
  private snapshotting = false;
  /** Whether the immediate single-member campaign was started. */
  private campaigned = false;
  /** The error that stopped the loop (a WAL failure); the process must exit. */
  private fatal: unknown = undefined;

  constructor(private readonly options: RaftNodeOptions) {
    this.storage = new MemoryStorage();
    const fresh = !walExists(options.walDir);
    const walOptions = { observeFsyncSeconds: options.observeFsyncSeconds };
    if (fresh) {
      this.wal = Wal.create(options.walDir, options.walMetadata, walOptions);
    } else {
      const { wal, state } = Wal.open(options.walDir, walOptions);
      this.wal = wal;
      if (state.snapshot !== null) {
        // The state machine holds everything up to the marker; its log prefix is gone.
        this.storage.applySnapshot({ metadata: state.snapshot, data: new Uint8Array(0) });
        this.snapshotIndex = state.snapshot.index;
      }
      this.storage.append(state.entries);
      this.storage.setHardState(state.hardState);
      this.currentTerm = state.hardState.term;
    }
    this.skipThroughIndex = options.appliedIndex;
    // Raft hands out committed entries after the snapshot marker; everything up to it is applied.
    this.applied = this.snapshotIndex;
    this.committed = this.storage.initialState().hardState.commit;
    this.node = new RawNode({
      id: options.id,
      peers: fresh ? options.peers : undefined,
      electionTicks: options.electionTicks,
      heartbeatTicks: 1,
      storage: this.storage,
      random: new SeededRandom(BigInt(options.clock.nowMs()) ^ options.id),
      // Committed entries are handed out again from the start of the log, because the membership
      // (ConfChange entries) lives only in the log while there are no snapshots; entries already in
      // the state machine (index ≤ appliedIndex) are skipped below, not re-applied.
      applied: undefined,
      limits: {
        maxSizePerMsgBytes: MAX_BYTES_PER_MESSAGE,
        maxInflightMsgs: 256,
        maxUncommittedEntriesSizeBytes: options.maxUncommittedBytes,
        maxCommittedSizePerReadyBytes: MAX_COMMITTED_BYTES_PER_READY,
      },
      preVote: false,
      checkQuorum: false,
    });
  }

  /** WAL metadata as stored, for a restart check of member identity. */
  static readMetadata(walDir: string): Uint8Array | undefined {
    if (!walExists(walDir)) return undefined;
    return Wal.readMetadata(walDir);
  }

  /** Starts ticking; a single-member group campaigns at once instead of waiting a timeout. */
  start(): void {
    this.stopTicker = this.options.clock.every(this.options.tickMs, () => {
      this.node.tick();
      this.schedule();
    });
    this.schedule();
  }

  /** Appends `data` to the log; throws ProposalDroppedError when there is no leader. */
  propose(data: Uint8Array): void {
    this.assertRunning();
    this.node.propose(data);
    this.schedule();
  }

  /** Asks for a linearizable read point tagged `ctx`. */
  readIndex(ctx: Uint8Array): void {
    this.assertRunning();
    this.node.readIndex(ctx);
    this.schedule();
  }

  term(): number {
    return this.currentTerm;
  }
  leaderId(): NodeId {
    return this.leader;
  }
  appliedIndex(): number {
    return this.applied;
  }
  committedIndex(): number {
    return this.committed;
  }
  isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTicker?.();
    this.wal.close();
  }

  /** A group of one need not wait an election timeout for a leader: it campaigns at once. */
  private maybeCampaignAlone(): void {
    if (this.campaigned || this.leader !== 0n) return;
    const voters = this.node.status().confState.voters;
    if (voters.length !== 1 || voters[0] !== this.options.id) return;
    if (this.applied < this.committed) return;
    this.node.campaign();
    // Raft refuses while conf changes wait to be applied (a fresh group's bootstrap entries): try
    // again after the next Ready then.
    this.campaigned = this.node.status().softState.role !== RaftRole.Follower;
  }

  private assertRunning(): void {
    if (this.stopped || this.fatal !== undefined) throw new ProposalDroppedError("raft node stopped");
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.stopped) return;
      try {
        // A restart with nothing left to apply produces no Ready, so the campaign is tried here too.
        this.maybeCampaignAlone();
        while (this.node.hasReady()) this.handleReady(this.node.ready());
      } catch (err) {
        this.fatal = err;
        this.stop();
        throw err;
      }
    });
  }

  private handleReady(rd: Ready): void {
    if (rd.softState !== undefined) {
      this.leader = rd.softState.lead;
      this.options.onSoftState(rd.softState.lead, rd.softState.role === RaftRole.Leader);
    }
    // 1. Persist: entries and hard state, one fdatasync for the whole Ready.
    if (rd.hardState !== undefined || rd.entries.length > 0) {
      this.wal.save(rd.hardState ?? null, rd.entries);
      this.wal.sync();
    }
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      this.storage.setHardState(rd.hardState);
      this.currentTerm = rd.hardState.term;
      this.committed = Math.max(this.committed, rd.hardState.commit);
    }
    // 2. Send: a group of one has no peers; messages to others would go to the transport here.
    // 3. Apply committed entries in order.
    for (const entry of rd.committedEntries) {
      if (entry.type === EntryType.ConfChange) {
        this.node.applyConfChange(decodeConfChange(entry.data));
      } else if (entry.data.length > 0 && entry.index > this.skipThroughIndex) {
        this.options.applyEntry(entry);
      }
      this.applied = entry.index;
    }
    for (const rs of rd.readStates) this.options.onReadState(rs.index, rs.requestCtx);
    // 4. Advance.
    this.node.advance(rd);
    this.options.onApplied(this.applied);
    this.maybeCampaignAlone();
    this.maybeSnapshot();
  }

  /**
   * Every snapshotCount applied entries: make the state machine durable, write a snapshot marker
   * (index, term, membership) to the WAL, drop the log prefix from memory and let the WAL purge
   * old segments. A restart then starts from the marker instead of the first entry.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.options.snapshotCount <= 0) return;
    if (this.applied - this.snapshotIndex < this.options.snapshotCount) return;
    const index = this.applied;
    const term = this.storage.term(index);
    const confState = this.node.status().confState;
    this.snapshotting = true;
    this.options.persistStateMachine().then(
      () => {
        this.snapshotting = false;
        if (this.stopped || index <= this.snapshotIndex) return;
        this.wal.saveSnapshot({ index, term, confState });
        this.wal.sync();
        this.storage.createSnapshot(index, confState, new Uint8Array(0));
        this.storage.compact(index);
        this.snapshotIndex = index;
        this.wal.releaseTo(index);
        this.wal.purge(this.options.maxWals);
        // Entries applied while this snapshot was taken may already be due for the next one; an
        // idle group produces no Ready that would check again.
        this.maybeSnapshot();
      },
      (err: unknown) => {
        this.snapshotting = false;
        this.fatal = err;
        this.stop();
        throw err;
      },
    );
  }

  /** Index of the latest snapshot marker, 0 when none. */
  latestSnapshotIndex(): number {
    return this.snapshotIndex;
  }
}
