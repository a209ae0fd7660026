/** `defrag [--cluster]`: defragments each member's backend (etcdctl's defrag_command.go). */
import { create } from "@bufbuild/protobuf";
import { DefragmentRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { maintenanceService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, goErrorText } from "../exit.js";
import { err, out } from "../output.js";
import { endpointClient, endpointsFromCluster, flag, openSession } from "./common.js";

export const defragCommand: CommandSpec = {
  use: "defrag",
  short: "Defragments the storage of the etcd members with given endpoints",
  persistentFlags: [flag("cluster", "bool", "false", "use all endpoints from the cluster member list")],
  flags: [flag("data-dir", "string", "", "Optional. If present, defragments a data directory not in use by etcd.")],
  async run(invocation) {
    if (invocation.flags.string("data-dir") !== "") {
      throw new CtlExit(ExitCode.error, "defrag --data-dir (offline defragmentation) is not yet supported by cairnctl; use cairnutl when it lands");
    }
    const session = await openSession(invocation);
    let failures = 0;
    for (const ep of await endpointsFromCluster(session, invocation.flags)) {
      try {
        const client = await endpointClient(session, ep);
        try {
          await client.unary(maintenanceService.defragment, create(DefragmentRequestSchema), { timeoutMs: session.config.commandTimeoutMs });
        } finally {
          client.close();
        }
        out(`Finished defragmenting etcd member[${ep}]\n`);
      } catch (error) {
        err(`Failed to defragment etcd member[${ep}] (${goErrorText(error)})\n`);
        failures += 1;
      }
    }
    if (failures !== 0) throw new CtlExit(ExitCode.error, "", true);
  },
};
