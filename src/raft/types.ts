/**
 * Wire-level Raft types shared by the Raft core (src/raft), the WAL (src/storage/wal) and the
 * server's raft driver. Terms and indexes are plain numbers (safe up to 2^53, far beyond any log);
 * node IDs are bigint because etcd member IDs are random 64-bit values.
 *
 * This file is the contract between those modules: fields may be added, existing ones keep their
 * meaning.
 */

/** A Raft node (etcd member) ID. 0n means "none". */
export type NodeId = bigint;
export const NONE: NodeId = 0n;

/** Log entry kinds, numbered as etcd's raftpb.EntryType. */
export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

/** One replicated log entry. `data` is opaque to Raft: the application encodes its commands in it. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** The state that must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  /** Latest term this node has seen. */
  term: number;
  /** Candidate voted for in `term`, or NONE. */
  vote: NodeId;
  /** Highest log index known to be committed. */
  commit: number;
}

/** Cluster membership as of some log index. Learners replicate but never vote. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** Describes the log prefix a snapshot replaces. */
export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

/** An application-supplied snapshot of the state machine at `metadata.index`. */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

/** Raft message kinds, numbered as etcd's raftpb.MessageType so the transport can use etcd's wire codes. */
export enum MessageType {
  /** Local: start an election. */
  Hup = 0,
  /** Local: the leader should broadcast a heartbeat. */
  Beat = 1,
  /** A proposal: entries the sender wants appended. */
  Prop = 2,
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  Snap = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  /** Local: the transport could not reach `from`. */
  Unreachable = 10,
  /** Local: the outcome of sending a snapshot to `from`. */
  SnapStatus = 11,
  /** Local: the leader should check that a quorum is still active. */
  CheckQuorum = 12,
  TransferLeader = 13,
  TimeoutNow = 14,
  ReadIndex = 15,
  ReadIndexResp = 16,
  PreVote = 17,
  PreVoteResp = 18,
}

/**
 * One Raft message, with the fields of etcd's raftpb.Message. Unused fields are 0, empty or NONE.
 * `index`/`logTerm` describe the log position a message refers to; `rejectHint` (with `logTerm`) is
 * a follower's hint of where its log may match the leader's.
 */
export interface Message {
  type: MessageType;
  to: NodeId;
  from: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

/** Membership change kinds, numbered as etcd's raftpb.ConfChangeType. */
export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  UpdateNode = 2,
  AddLearnerNode = 3,
}

/** A single membership change, as etcd's raftpb.ConfChange (v1). `context` is opaque to Raft. */
export interface ConfChange {
  /** Request ID chosen by the proposer (etcd: a random 64-bit value); opaque to Raft. */
  id: bigint;
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
}

/** The role a Raft node plays, numbered as etcd's raft.StateType. */
export enum RaftRole {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}
