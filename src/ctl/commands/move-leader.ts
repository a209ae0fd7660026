/** `move-leader <transferee-member-id>`: finds the leader among the endpoints and asks it to hand over. */
import { create } from "@bufbuild/protobuf";
import { MoveLeaderRequestSchema, StatusRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { maintenanceService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, exitWithError } from "../exit.js";
import { endpointClient, openSession } from "./common.js";

export const moveLeaderCommand: CommandSpec = {
  use: "move-leader <transferee-member-id>",
  short: "Transfers leadership to another etcd cluster member.",
  async run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "move-leader command needs 1 argument");
    const text = invocation.args[0]!;
    if (!/^[0-9a-fA-F]+$/.test(text)) throw new CtlExit(ExitCode.badArgs, `strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
    const target = BigInt(`0x${text}`);
    const session = await openSession(invocation);
    for (const ep of session.config.endpoints) {
      const client = await endpointClient(session.config, ep);
      try {
        let status;
        try {
          status = await client.unary(maintenanceService.status, create(StatusRequestSchema));
        } catch (error) {
          exitWithError(ExitCode.error, error);
        }
        if (status.header?.memberId !== status.leader) continue;
        let response;
        try {
          response = await client.unary(maintenanceService.moveLeader, create(MoveLeaderRequestSchema, { targetID: target }));
        } catch (error) {
          exitWithError(ExitCode.error, error);
        }
        session.printer.moveLeader(status.leader, target, response);
        return;
      } finally {
        client.close();
      }
    }
    throw new CtlExit(ExitCode.badArgs, `no leader endpoint given at [${session.config.endpoints.join(" ")}]`);
  },
};
