/**
 * The load generator's gRPC layer: grpc-js clients built straight from the shared service
 * definitions (src/api/grpc.ts), without src/client's failover, metadata and deadline bookkeeping,
 * so that per-request client CPU stays as small as grpc-js allows (docs/performance.md has the
 * measurement that chose this). etcd and cairn are driven by exactly this code.
 */
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/grpc-js";

/**
 * Opens one gRPC connection. grpc-js shares subchannels (TCP connections) between clients with the
 * same target and options unless told otherwise; a local subchannel pool gives each client its own
 * connection, as the benchmark's --conns promises.
 */
export function openConnection(endpoint: string): grpc.Client {
  return new grpc.Client(endpoint, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": 2 * 1024 * 1024,
  });
}

/** Sends one unary call; rejects with the grpc-js ServiceError. */
export function unary<Req, Res>(
  connection: grpc.Client,
  method: MethodDefinition<Req, Res>,
  request: Req,
  deadlineMs?: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    connection.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs },
      (error, response) => {
        if (error) reject(error);
        else resolve(response as Res);
      },
    );
  });
}

/** Opens a bidirectional stream (Watch, LeaseKeepAlive). */
export function bidi<Req, Res>(connection: grpc.Client, method: MethodDefinition<Req, Res>): grpc.ClientDuplexStream<Req, Res> {
  return connection.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
}

/** Waits until the connection is established, or fails after timeoutMs. */
export function waitConnected(connection: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) =>
    connection.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve())),
  );
}
