/** Small helpers shared by the Raft core. */
import { EntryType, MessageType, NONE, type Entry, type Message, type HardState, type Snapshot, type NodeId } from "./types.js";

/** Approximate bytes an entry costs in a message: payload plus a fixed header allowance. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + 16;
}

/** Bytes of payload only: what counts toward the uncommitted-size limit (etcd's PayloadSize). */
export function payloadSizeBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.data.byteLength;
  return total;
}

/**
 * Returns the longest prefix of `entries` whose total size stays within `maxBytes`, but always at
 * least one entry so that progress is never blocked by one large entry.
 */
export function limitSize(entries: Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entrySizeBytes(entries[0]!);
  let limit = 1;
  for (; limit < entries.length; limit++) {
    size += entrySizeBytes(entries[limit]!);
    if (size > maxBytes) break;
  }
  return limit === entries.length ? entries : entries.slice(0, limit);
}

/** Builds a message with every unspecified field zero or empty. */
export function makeMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
    context: fields.context ?? EMPTY_BYTES,
  };
}

export const EMPTY_BYTES = new Uint8Array(0);

export function isLocalMessage(type: MessageType): boolean {
  return (
    type === MessageType.Hup ||
    type === MessageType.Beat ||
    type === MessageType.Unreachable ||
    type === MessageType.SnapStatus ||
    type === MessageType.CheckQuorum
  );
}

export function isResponseMessage(type: MessageType): boolean {
  return (
    type === MessageType.AppResp ||
    type === MessageType.VoteResp ||
    type === MessageType.HeartbeatResp ||
    type === MessageType.Unreachable ||
    type === MessageType.PreVoteResp
  );
}

export function voteResponseType(type: MessageType): MessageType {
  if (type === MessageType.Vote) return MessageType.VoteResp;
  if (type === MessageType.PreVote) return MessageType.PreVoteResp;
  throw new Error(`raft: not a vote message: ${MessageType[type]}`);
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function isEmptySnapshot(snapshot: Snapshot | undefined): boolean {
  return snapshot === undefined || snapshot.metadata.index === 0;
}

export function countConfChanges(entries: readonly Entry[]): number {
  let n = 0;
  for (const entry of entries) if (entry.type === EntryType.ConfChange) n++;
  return n;
}

export function bytesKey(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function minIndex(a: number, b: number): number {
  return a < b ? a : b;
}

export function sortIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
