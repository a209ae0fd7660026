/**
 * Member and cluster IDs derived as etcd derives them at bootstrap, so that a Cairn member started
 * with the same --initial-cluster and --initial-cluster-token as an etcd member reports the same IDs.
 *
 * member ID  = first 8 bytes (big-endian) of SHA-1(sorted peer URLs concatenated + cluster token)
 * cluster ID = first 8 bytes (big-endian) of SHA-1(each member ID as 8 big-endian bytes, ascending)
 */
import { createHash } from "node:crypto";
import type { NodeId } from "../raft/types.js";

/** A member as bootstrapped from --initial-cluster. */
export interface Member {
  id: NodeId;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** etcd's membership.NewMember ID for an initial-cluster member (no timestamp). */
export function memberIdFor(peerUrls: readonly string[], clusterToken: string): NodeId {
  const text = [...peerUrls].sort().join("") + clusterToken;
  return createHash("sha1").update(text, "utf8").digest().readBigUInt64BE(0);
}

/** etcd's RaftCluster.genID over the member IDs. */
export function clusterIdFor(memberIds: readonly NodeId[]): NodeId {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => bytes.writeBigUInt64BE(id, 8 * i));
  return createHash("sha1").update(bytes).digest().readBigUInt64BE(0);
}

/** The members of --initial-cluster, with their IDs. */
export function initialMembers(initialCluster: ReadonlyMap<string, readonly string[]>, clusterToken: string): Member[] {
  return [...initialCluster].map(([name, peerUrls]) => ({
    id: memberIdFor(peerUrls, clusterToken),
    name,
    peerUrls: [...peerUrls],
    clientUrls: [],
    isLearner: false,
  }));
}

/** IDs print as etcd prints types.ID: lower-case hex without padding. */
export function idHex(id: NodeId): string {
  return id.toString(16);
}
