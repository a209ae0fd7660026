/** v3lockpb.Lock over the server's LockService; a canceled call stops waiting and gives up its key. */
import type { LockHandlers } from "../api/grpc.js";
import { AbortSource } from "../server/v3lock/local-client.js";
import type { LockService } from "../server/v3lock/lock.js";
import { toStatus, unary } from "./errors.js";

/** An AbortSource that fires when the gRPC call is canceled or its deadline passes. */
export function callAbort(call: { on(event: "cancelled", fn: () => void): unknown }): AbortSource {
  const abort = new AbortSource();
  call.on("cancelled", () => abort.abort());
  return abort;
}

export function lockHandlers(locks: LockService): LockHandlers {
  return {
    lock: (call, callback) => {
      locks.lock(call.request, callAbort(call)).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
    },
    unlock: unary((request) => locks.unlock(request)),
  };
}
