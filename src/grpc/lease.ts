/**
 * etcdserverpb.Lease over the server's LeaseService. LeaseKeepAlive handles its requests one at a
 * time in arrival order, as etcd's receive loop does; an unknown or revoked lease answers TTL 0.
 */
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { LeaseKeepAliveResponseSchema, type LeaseKeepAliveRequest, type LeaseKeepAliveResponse } from "../api/gen/etcdserverpb/rpc_pb.js";
import type { LeaseHandlers } from "../api/grpc.js";
import type { LeaseService } from "../server/lease/lease-service.js";
import { toStatus, unary } from "./errors.js";

export function leaseHandlers(leases: LeaseService): LeaseHandlers {
  return {
    leaseGrant: unary((request) => leases.grant(request)),
    leaseRevoke: unary((request) => leases.revoke(request)),
    leaseTimeToLive: unary((request) => leases.timeToLive(request)),
    leaseLeases: unary(() => leases.leases()),
    leaseKeepAlive: (call) => keepAliveStream(leases, call),
  };
}

function keepAliveStream(leases: LeaseService, call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>): void {
  let chain = Promise.resolve();
  let done = false;
  const fail = (error: unknown) => {
    if (done) return;
    done = true;
    call.emit("error", toStatus(error));
  };
  call.on("data", (request: LeaseKeepAliveRequest) => {
    chain = chain.then(async () => {
      if (done) return;
      const ttl = await leases.keepAlive(request.ID);
      if (done) return;
      call.write(create(LeaseKeepAliveResponseSchema, { header: leases.header(), ID: request.ID, TTL: ttl }));
    }).catch(fail);
  });
  call.on("end", () => {
    void chain.then(() => {
      if (done) return;
      done = true;
      call.end();
    });
  });
  call.on("cancelled", () => {
    done = true;
  });
  call.on("error", () => {
    done = true;
  });
}
