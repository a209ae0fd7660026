/** v3electionpb.Election over the server's ElectionService. */
import type { ElectionHandlers } from "../api/grpc.js";
import type { ElectionService } from "../server/v3election/election.js";
import { toStatus, unary } from "./errors.js";
import { callAbort } from "./lock.js";

export function electionHandlers(elections: ElectionService): ElectionHandlers {
  return {
    campaign: (call, callback) => {
      elections.campaign(call.request, callAbort(call)).then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
    },
    proclaim: unary((request) => elections.proclaim(request)),
    leader: unary((request) => elections.leader(request)),
    resign: unary((request) => elections.resign(request)),
    observe: (call) => {
      const abort = callAbort(call);
      elections
        .observe(call.request, abort, (response) => {
          if (!abort.aborted) call.write(response);
        })
        .then(
          () => {
            if (!abort.aborted) call.end();
          },
          (error: unknown) => {
            if (!abort.aborted) call.emit("error", toStatus(error));
          },
        );
    },
  };
}
