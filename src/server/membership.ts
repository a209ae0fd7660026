/**
 * The members a server bootstraps from --initial-cluster. Their IDs come from
 * src/storage/membership.ts, which cairnutl's restore uses too.
 */
import type { NodeId } from "../raft/types.js";
import { memberIdFromPeerURLs } from "../storage/membership.js";

/** A member as bootstrapped from --initial-cluster. */
export interface Member {
  id: NodeId;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** The members of --initial-cluster, with their IDs. */
export function initialMembers(initialCluster: ReadonlyMap<string, readonly string[]>, clusterToken: string): Member[] {
  return [...initialCluster].map(([name, peerUrls]) => ({
    id: memberIdFromPeerURLs(peerUrls, clusterToken),
    name,
    peerUrls: [...peerUrls],
    clientUrls: [],
    isLearner: false,
  }));
}
