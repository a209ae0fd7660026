/** etcdserverpb.Cluster over EtcdServer. Membership changes are not implemented yet. */
import type { ClusterHandlers } from "../api/grpc.js";
import type { EtcdServer } from "../server/server.js";
import { notImplemented, unary } from "./errors.js";

export function clusterHandlers(server: EtcdServer): ClusterHandlers {
  return {
    memberList: unary(() => server.memberList()),
    memberAdd: unary(() => notImplemented("MemberAdd")),
    memberRemove: unary(() => notImplemented("MemberRemove")),
    memberUpdate: unary(() => notImplemented("MemberUpdate")),
    memberPromote: unary(() => notImplemented("MemberPromote")),
  };
}
