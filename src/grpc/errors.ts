/** Turns whatever a service call threw into the status grpc-js sends. */
import { EtcdError, GrpcCode, toServiceError, type GrpcStatusError } from "../api/errors.js";

export function toStatus(error: unknown): GrpcStatusError {
  if (error instanceof EtcdError) return toServiceError(error);
  if (error instanceof Error && typeof (error as Partial<GrpcStatusError>).code === "number") return error as GrpcStatusError;
  const message = error instanceof Error ? error.message : String(error);
  return Object.assign(new Error(message), { code: GrpcCode.UNKNOWN, details: message });
}

/** Adapts an async handler to grpc-js's unary callback style; errors become etcd statuses. */
export function unary<Req, Res>(fn: (request: Req) => Promise<Res> | Res) {
  return (call: { request: Req }, callback: (error: GrpcStatusError | null, value?: Res) => void): void => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (value) => callback(null, value),
        (error: unknown) => callback(toStatus(error)),
      );
  };
}

/** Methods Cairn does not serve yet answer UNIMPLEMENTED, as gRPC does for an unknown method. */
export function notImplemented(method: string): never {
  throw Object.assign(new Error(`cairn: ${method} is not implemented`), { code: GrpcCode.UNIMPLEMENTED, details: `cairn: ${method} is not implemented` });
}
