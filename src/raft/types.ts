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
