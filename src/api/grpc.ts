/**
 * grpc-js service definitions for etcd 3.4's services, derived from the generated protobuf-es
 * descriptors so that method paths (`/etcdserverpb.KV/Range`), streaming kinds and codecs can never
 * drift from the .proto files. The same objects serve both sides: `server.addService(kvService, impl)`
 * and `makeGenericClientConstructor(kvService, "KV")`.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type {
  handleBidiStreamingCall,
  handleClientStreamingCall,
  handleServerStreamingCall,
  handleUnaryCall,
  MethodDefinition,
} from "@grpc/grpc-js";
import { Auth, Cluster, KV, Lease, Maintenance, Watch } from "./gen/etcdserverpb/rpc_pb.js";
import { Lock } from "./gen/v3lockpb/v3lock_pb.js";
import { Election } from "./gen/v3electionpb/v3election_pb.js";

type Request<M extends GenServiceMethods, K extends keyof M> = MessageShape<M[K]["input"]>;
type Response<M extends GenServiceMethods, K extends keyof M> = MessageShape<M[K]["output"]>;

/** A grpc-js service definition keyed by the methods' camelCase local names (`range`, `deleteRange`). */
export type GrpcServiceDefinition<M extends GenServiceMethods> = {
  readonly [K in keyof M]: MethodDefinition<Request<M, K>, Response<M, K>>;
};

/** The handler a grpc-js server must supply for each method, typed by its streaming kind. */
export type GrpcServiceHandlers<M extends GenServiceMethods> = {
  [K in keyof M]: M[K]["methodKind"] extends "unary"
    ? handleUnaryCall<Request<M, K>, Response<M, K>>
    : M[K]["methodKind"] extends "server_streaming"
      ? handleServerStreamingCall<Request<M, K>, Response<M, K>>
      : M[K]["methodKind"] extends "client_streaming"
        ? handleClientStreamingCall<Request<M, K>, Response<M, K>>
        : handleBidiStreamingCall<Request<M, K>, Response<M, K>>;
};

function serializer<Desc extends DescMessage>(schema: Desc): (message: MessageShape<Desc>) => Buffer {
  return (message) => {
    const bytes = toBinary(schema, message);
    // Wrap without copying: grpc-js wants a Buffer, protobuf-es gives a Uint8Array.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<Desc extends DescMessage>(schema: Desc): (bytes: Buffer) => MessageShape<Desc> {
  return (bytes) => fromBinary(schema, bytes);
}

function methodDefinition(method: DescMethod): MethodDefinition<unknown, unknown> {
  const requestSerialize = serializer(method.input) as (value: unknown) => Buffer;
  const responseSerialize = serializer(method.output) as (value: unknown) => Buffer;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    originalName: method.localName,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize,
    requestDeserialize: deserializer(method.input),
    responseSerialize,
    responseDeserialize: deserializer(method.output),
  };
}

/** Builds the grpc-js definition of one generated service. */
export function grpcService<M extends GenServiceMethods>(service: GenService<M>): GrpcServiceDefinition<M> {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.localName] = methodDefinition(method);
  return definition as GrpcServiceDefinition<M>;
}

export const kvService = grpcService(KV);
export const watchService = grpcService(Watch);
export const leaseService = grpcService(Lease);
export const clusterService = grpcService(Cluster);
export const maintenanceService = grpcService(Maintenance);
export const authService = grpcService(Auth);
export const lockService = grpcService(Lock);
export const electionService = grpcService(Election);

/** Handler types per service, for the server's implementations. */
export type KVHandlers = GrpcServiceHandlers<typeof KV extends GenService<infer M> ? M : never>;
export type WatchHandlers = GrpcServiceHandlers<typeof Watch extends GenService<infer M> ? M : never>;
export type LeaseHandlers = GrpcServiceHandlers<typeof Lease extends GenService<infer M> ? M : never>;
export type ClusterHandlers = GrpcServiceHandlers<typeof Cluster extends GenService<infer M> ? M : never>;
export type MaintenanceHandlers = GrpcServiceHandlers<typeof Maintenance extends GenService<infer M> ? M : never>;
export type AuthHandlers = GrpcServiceHandlers<typeof Auth extends GenService<infer M> ? M : never>;
export type LockHandlers = GrpcServiceHandlers<typeof Lock extends GenService<infer M> ? M : never>;
export type ElectionHandlers = GrpcServiceHandlers<typeof Election extends GenService<infer M> ? M : never>;

/** Every service etcd 3.4 serves on its client port, with the name grpc-js clients are built under. */
export const allServices = [
  { name: "KV", definition: kvService },
  { name: "Watch", definition: watchService },
  { name: "Lease", definition: leaseService },
  { name: "Cluster", definition: clusterService },
  { name: "Maintenance", definition: maintenanceService },
  { name: "Auth", definition: authService },
  { name: "Lock", definition: lockService },
  { name: "Election", definition: electionService },
] as const;
