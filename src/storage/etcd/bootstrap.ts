/**
 * The WAL and .snap file with which etcd 3.4 bootstraps a new cluster from a snapshot
 * (clientv3/snapshot/v3_snapshot.go, saveWALAndSnap). For n members in ascending id order:
 *
 *   WAL  crc{0}, metadata{local id, cluster id}, snapshot{0, 0},
 *        entries 1..n: ConfChange AddNode(member i) at term 1 (context: the member's JSON),
 *        hard state {term 1, vote: the lowest member id, commit n},
 *        snapshot{index n, term 1}
 *   snap <1>-<n>.snap: raft snapshot at index n, term 1, voters = all members, data = the v2
 *        store holding the members (v2store.ts)
 *
 * so the member starts from the snapshot at index n and never re-applies the conf changes, and
 * the backend's consistent index is set to n to match.
 */
import { ENTRY_CONF_CHANGE, CONF_CHANGE_ADD_NODE, encodeRaftConfChange, encodeRaftEntry, encodeRaftHardState, encodeWalMetadata, encodeWalSnapshot, type RaftSnapshot } from "./proto.js";
import { membershipStoreJson, memberJson, type BootstrapMember } from "./v2store.js";
import { EtcdWalEncoder, WAL_ENTRY_TYPE, WAL_METADATA_TYPE, WAL_SNAPSHOT_TYPE, WAL_STATE_TYPE } from "./wal.js";

/** The cluster a restore bootstraps. */
export interface BootstrapCluster {
  clusterId: bigint;
  /** In ascending id order. */
  members: readonly BootstrapMember[];
  /** The id of the member whose data directory is written. */
  localId: bigint;
}

/** The term of every bootstrap entry. */
const BOOTSTRAP_TERM = 1n;

/** The raft index the restored member starts from: one conf change per member. */
export function bootstrapIndex(cluster: BootstrapCluster): bigint {
  return BigInt(cluster.members.length);
}

/** The records of the bootstrap WAL segment, as etcd's wal.Create + Save + SaveSnapshot write them. */
export function bootstrapWalRecords(cluster: BootstrapCluster): Uint8Array {
  if (cluster.members.length === 0) throw new Error("bootstrap: a cluster needs at least one member");
  const encoder = new EtcdWalEncoder();
  encoder.encodeCrc();
  encoder.encode(WAL_METADATA_TYPE, encodeWalMetadata({ nodeId: cluster.localId, clusterId: cluster.clusterId }));
  encoder.encode(WAL_SNAPSHOT_TYPE, encodeWalSnapshot({ index: 0n, term: 0n }));
  cluster.members.forEach((member, i) => {
    const change = encodeRaftConfChange({ id: 0n, type: CONF_CHANGE_ADD_NODE, nodeId: member.id, context: new TextEncoder().encode(memberJson(member)) });
    encoder.encode(WAL_ENTRY_TYPE, encodeRaftEntry({ type: ENTRY_CONF_CHANGE, term: BOOTSTRAP_TERM, index: BigInt(i + 1), data: change }));
  });
  const commit = bootstrapIndex(cluster);
  encoder.encode(WAL_STATE_TYPE, encodeRaftHardState({ term: BOOTSTRAP_TERM, vote: cluster.members[0]!.id, commit }));
  encoder.encode(WAL_SNAPSHOT_TYPE, encodeWalSnapshot({ index: commit, term: BOOTSTRAP_TERM }));
  return encoder.bytes();
}

/** The raft snapshot the bootstrap .snap file holds. */
export function bootstrapSnapshot(cluster: BootstrapCluster): RaftSnapshot {
  return {
    data: new TextEncoder().encode(membershipStoreJson(cluster.members)),
    index: bootstrapIndex(cluster),
    term: BOOTSTRAP_TERM,
    confState: { voters: cluster.members.map((m) => m.id), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
  };
}
