/** etcdctl's exit codes and its way of ending with `Error: <message>` on stderr. */
import { EtcdError, GrpcCode, grpcCodeGoName } from "../api/errors.js";

export const ExitCode = {
  success: 0,
  error: 1,
  badConnection: 2,
  /** Malformed input to txn or watch. */
  invalidInput: 3,
  /** A valid flag with an unsupported value. */
  badFeature: 4,
  interrupted: 5,
  io: 6,
  badArgs: 128,
} as const;

/** Thrown to end the command: main prints `Error: message` (unless silent) and exits with code. */
export class CtlExit extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** Print nothing (the command already wrote its own output). */
    readonly silent = false,
  ) {
    super(message);
  }
}

/** The text Go's etcdctl prints for an error from clientv3. */
export function goErrorText(error: unknown): string {
  if (error instanceof CtlExit) return error.message;
  if (error instanceof EtcdError) {
    if (error.errorName !== undefined) return error.message;
    if (error.code === GrpcCode.DEADLINE_EXCEEDED && error.message === "context deadline exceeded") return error.message;
    if (error.message === "context canceled") return error.message;
    return `rpc error: code = ${grpcCodeGoName[error.code]} desc = ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Ends the command like etcdctl's ExitWithError. */
export function exitWithError(code: number, error: unknown): never {
  throw new CtlExit(code, goErrorText(error));
}
