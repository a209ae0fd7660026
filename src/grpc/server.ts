/**
 * The gRPC side of the client port: a grpc-js server fed with connections by the multiplexing
 * listener (no port of its own). Message size limits follow etcd: max-request-bytes plus gRPC
 * overhead on receive, so that etcd's own "request is too large" check is what oversize writes hit.
 */
import * as grpc from "@grpc/grpc-js";
import type { Duplex } from "node:stream";
import { clusterService, kvService, maintenanceService } from "../api/grpc.js";
import { GRPC_OVERHEAD_BYTES, type EtcdServer } from "../server/server.js";
import { clusterHandlers } from "./cluster.js";
import { kvHandlers } from "./kv.js";
import { maintenanceHandlers } from "./maintenance.js";

export interface GrpcLimits {
  maxRequestBytes: number;
  maxConcurrentStreams: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  keepaliveMinTimeMs: number;
}

export interface GrpcEndpoint {
  /** Hands a connection that began with the HTTP/2 preface to gRPC. */
  inject(socket: Duplex): void;
  shutdown(): Promise<void>;
}

export function createGrpcEndpoint(server: EtcdServer, limits: GrpcLimits): GrpcEndpoint {
  const grpcServer = new grpc.Server({
    "grpc.max_receive_message_length": limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    "grpc.max_send_message_length": -1,
    "grpc.max_concurrent_streams": Math.min(limits.maxConcurrentStreams, 2 ** 31 - 1),
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
    "grpc.http2.min_ping_interval_without_data_ms": limits.keepaliveMinTimeMs,
  });
  grpcServer.addService(kvService, kvHandlers(server));
  grpcServer.addService(clusterService, clusterHandlers(server));
  grpcServer.addService(maintenanceService, maintenanceHandlers(server));
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    inject: (socket) => injector.injectConnection(socket),
    shutdown: () =>
      new Promise((resolve) => {
        grpcServer.tryShutdown(() => resolve());
        setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
