/**
 * Normalization for differential tests: only what legitimately differs between two members is
 * replaced — ports, member/cluster IDs, Raft terms and indexes, database sizes and timings.
 */

export interface Identity {
  port: number;
  peerPort: number;
  memberId: bigint;
  clusterId: bigint;
}

/** Keys whose values are IDs, terms, indexes or sizes, in every spelling etcdctl prints. */
const VOLATILE_KEYS = [
  "cluster_id", "member_id", "raft_term", "ClusterID", "MemberID", "RaftTerm", "raftTerm",
  "dbSize", "DBSize", "dbSizeInUse", "DBSizeInUse", "raftIndex", "RaftIndex", "raftAppliedIndex", "RaftAppliedIndex",
  "leader", "Leader", "ID",
];

export function normalize(text: string, id: Identity): string {
  let out = text;
  for (const value of [id.memberId, id.clusterId]) {
    const label = value === id.memberId ? "<MEMBER>" : "<CLUSTER>";
    out = out.replaceAll(value.toString(), label).replaceAll(value.toString(16), label);
  }
  out = out.replaceAll(`:${id.port}`, ":<PORT>").replaceAll(`:${id.peerPort}`, ":<PEERPORT>");
  const keys = VOLATILE_KEYS.join("|");
  out = out.replace(new RegExp(`("?)\\b(${keys})\\b\\1(\\s*:\\s*)("[^"]*"|[0-9]+)`, "g"), (_m, q: string, k: string, sep: string) => `${q}${k}${q}${sep}<${k}>`);
  out = out.replace(/took = [0-9.]+[µnm]?s/g, "took = <T>").replace(/"took":"[^"]*"/g, '"took":"<T>"');
  // Table column widths follow the longest cell, and random member IDs print as 15 or 16 hex
  // digits, so padding on table lines is not compared.
  out = out.replace(/^[+|].*$/gm, (line) => line.replace(/-+/g, "-").replace(/ +/g, " "));
  return out;
}

/** etcdctl's stderr carries client-side retry logs with random IDs and times; keep the verdict. */
export function errorLines(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("Error:"))
    .join("\n");
}

/** `endpoint status` in simple/table form: "ep, id, version, size, isLeader, isLearner, term, index, applied, errors". */
export function normalizeStatusSimple(text: string): string {
  return text.replace(/^([^,]+), ([^,]+), ([^,]+), [^,]+, (true|false), (true|false), \d+, \d+, \d+, /gm, "$1, $2, $3, <SIZE>, $4, $5, <TERM>, <INDEX>, <APPLIED>, ");
}
