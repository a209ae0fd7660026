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

/**
 * grpc-js refuses messages above this itself (with its own wording); below it, Cairn enforces
 * etcd's limit (max-request-bytes + overhead) with grpc-go's exact message.
 */
export const HARD_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Wraps a service so that every request whose encoded size exceeds `maxBytes` is refused with
 * grpc-go's RESOURCE_EXHAUSTED message, before the handler sees it.
 */
function withSizeLimit<D extends grpc.ServiceDefinition, H extends grpc.UntypedServiceImplementation>(definition: D, handlers: H, maxBytes: number): [D, H] {
  const sizes = new WeakMap<object, number>();
  const limited: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    limited[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const request = method.requestDeserialize(bytes) as object;
        sizes.set(request, bytes.length);
        return request;
      },
    };
    const handler = handlers[name] as (call: { request?: object }, callback?: (err: unknown) => void) => void;
    wrapped[name] = (call: { request?: object; destroy?: (err: unknown) => void }, callback?: (err: unknown) => void) => {
      const size = call.request !== undefined ? (sizes.get(call.request) ?? 0) : 0;
      if (size > maxBytes) {
        const details = `grpc: received message larger than max (${size} vs. ${maxBytes})`;
        const status = Object.assign(new Error(details), { code: grpc.status.RESOURCE_EXHAUSTED, details });
        if (callback !== undefined) callback(status);
        else call.destroy?.(status);
        return;
      }
      handler(call, callback);
    };
  }
  return [limited as D, wrapped as H];
}

export function createGrpcEndpoint(server: EtcdServer, limits: GrpcLimits): GrpcEndpoint {
  const receiveLimit = limits.maxRequestBytes + GRPC_OVERHEAD_BYTES;
  const grpcServer = new grpc.Server({
    "grpc.max_receive_message_length": Math.max(HARD_MAX_MESSAGE_BYTES, receiveLimit),
    "grpc.max_send_message_length": -1,
    "grpc.max_concurrent_streams": Math.min(limits.maxConcurrentStreams, 2 ** 31 - 1),
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
    "grpc.http2.min_ping_interval_without_data_ms": limits.keepaliveMinTimeMs,
  });
  grpcServer.addService(...withSizeLimit(kvService, kvHandlers(server), receiveLimit));
  grpcServer.addService(...withSizeLimit(clusterService, clusterHandlers(server), receiveLimit));
  grpcServer.addService(...withSizeLimit(maintenanceService, maintenanceHandlers(server), receiveLimit));
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
