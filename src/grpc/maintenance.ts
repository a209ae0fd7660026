/** etcdserverpb.Maintenance over EtcdServer. Snapshot and MoveLeader are not implemented yet. */
import type { MaintenanceHandlers } from "../api/grpc.js";
import type { EtcdServer } from "../server/server.js";
import { notImplemented, toStatus, unary } from "./errors.js";

export function maintenanceHandlers(server: EtcdServer): MaintenanceHandlers {
  return {
    alarm: unary((request) => server.alarm(request)),
    status: unary(() => server.status()),
    defragment: unary(() => server.defragment()),
    hash: unary(() => server.hash()),
    hashKV: unary((request) => server.hashKV(Number(request.revision))),
    snapshot: (call) => {
      try {
        notImplemented("Snapshot");
      } catch (err) {
        call.destroy(toStatus(err));
      }
    },
    moveLeader: unary(() => notImplemented("MoveLeader")),
  };
}
