/**
 * Member and cluster IDs derived as etcd 3.4 derives them at bootstrap (`membership.NewMember`
 * with no time, `RaftCluster.genID`), so a Cairn member (started by the server, or restored by
 * cairnutl) built from the same --initial-cluster and --initial-cluster-token as an etcd member
 * gets the same IDs. The one place these IDs are computed: src/server and src/utl both import it.
 *
 * member ID  = first 8 bytes (big-endian) of SHA-1(sorted peer URLs concatenated + cluster token)
 * cluster ID = first 8 bytes (big-endian) of SHA-1(each member ID as 8 big-endian bytes, ascending)
 */
import { createHash } from "node:crypto";
import type { NodeId } from "../raft/types.js";

/** A member's ID: the first 8 bytes (big-endian) of a SHA-1, as a uint64 (the Raft node ID). */
export type MemberId = NodeId;

function sha1Uint64(bytes: Uint8Array): bigint {
  return createHash("sha1").update(bytes).digest().readBigUInt64BE(0);
}

/** `membership.NewMember(name, urls, token, nil)`: ID = SHA-1 of the sorted URLs and the token. */
export function memberIdFromPeerURLs(peerURLs: readonly string[], clusterToken: string): MemberId {
  const sorted = [...peerURLs].sort();
  return sha1Uint64(Buffer.from(sorted.join("") + clusterToken, "utf8"));
}

/** `RaftCluster.genID`: SHA-1 of the member IDs in ascending order, 8 bytes big-endian each. */
export function clusterIdFromMemberIds(ids: readonly MemberId[]): bigint {
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const bytes = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => bytes.writeBigUInt64BE(id, 8 * i));
  return sha1Uint64(bytes);
}

/** An ID as etcd prints it (`types.ID.String()`): lower-case hex without leading zeros. */
export function formatId(id: bigint): string {
  return id.toString(16);
}
