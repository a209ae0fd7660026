/** etcdserverpb.Maintenance over EtcdServer. */
import { create } from "@bufbuild/protobuf";
import type { MaintenanceHandlers } from "../api/grpc.js";
import { SnapshotResponseSchema } from "../api/gen/etcdserverpb/rpc_pb.js";
import { createLogger } from "../platform/log.js";
import type { EtcdServer } from "../server/server.js";
import { streamSnapshot } from "../server/snapshot-stream.js";
import { toStatus, unary } from "./errors.js";

export function maintenanceHandlers(server: EtcdServer): MaintenanceHandlers {
  const log = createLogger("etcdserver/api/v3rpc", "info");
  return {
    alarm: unary((request) => server.alarm(request)),
    status: unary(() => server.status()),
    defragment: unary(async () => {
      // etcd's maintenance server logs these two lines around every defragmentation.
      log.info("starting to defragment the storage backend...");
      const response = await server.defragment();
      log.info("finished defragmenting the storage backend");
      return response;
    }),
    hash: unary(() => server.hash()),
    hashKV: unary((request) => server.hashKV(Number(request.revision))),
    snapshot: (call) => {
      let ended = false;
      call.once("cancelled", () => (ended = true));
      call.once("close", () => (ended = true));
      const sink = {
        write: (chunk: { remainingBytes: bigint; blob: Uint8Array }) => call.write(create(SnapshotResponseSchema, { remainingBytes: chunk.remainingBytes, blob: chunk.blob })),
        drained: () =>
          new Promise<void>((resolve) => {
            if (ended) return resolve();
            const done = () => {
              call.off("drain", done);
              call.off("close", done);
              call.off("cancelled", done);
              resolve();
            };
            call.once("drain", done);
            call.once("close", done);
            call.once("cancelled", done);
          }),
        cancelled: () => ended || call.cancelled,
      };
      let view;
      try {
        view = server.snapshotView();
      } catch (err) {
        call.destroy(toStatus(err));
        return;
      }
      streamSnapshot(view, sink, log).then(
        () => {
          if (!ended) call.end();
        },
        (err: unknown) => {
          log.warn(`failed to send database snapshot: ${(err as Error).message}`);
          if (!ended) call.destroy(toStatus(err));
        },
      );
    },
    moveLeader: unary((request) => server.moveLeader(request.targetID)),
  };
}
