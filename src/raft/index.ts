/** The Raft core's public surface for drivers (the server) and tests. */
export { RawNode, type RawNodeConfig, type Ready, type Status, type ProgressStatus } from "./node.js";
export type { RaftConfig, RaftLimits, ReadState, SoftState } from "./raft.js";
export { MemoryStorage, emptySnapshot, type LogStorage } from "./storage.js";
export { SeededRandom, type RandomSource } from "./rand.js";
export { encodeConfChange, decodeConfChange } from "./confchange.js";
export { ProgressState } from "./progress.js";
export {
  RaftError,
  ProposalDroppedError,
  CompactedError,
  UnavailableError,
  SnapshotTemporarilyUnavailableError,
  SnapshotOutOfDateError,
} from "./errors.js";
export * from "./types.js";
