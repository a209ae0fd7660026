/**
 * `defrag [--cluster]`: defragments each member's backend (etcdctl's defrag_command.go).
 * `defrag --data-dir <dir>` defragments a stopped member's data directory offline (etcd's format,
 * or Cairn's), through src/utl/defrag-data-dir.ts (shared with cairnutl).
 */
import { create } from "@bufbuild/protobuf";
import { DefragmentRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { maintenanceService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, goErrorText } from "../exit.js";
import { err, out } from "../output.js";
import { directClient, endpointsFromCluster, flag, openSession } from "./common.js";
import { EtcdBackendOpenError, EtcdDefragError, GO_PANIC_EXIT_CODE, backendOpenPanicText } from "../../utl/etcd-defrag.js";
import { defragOfflineDataDir } from "../../utl/defrag-data-dir.js";

/** etcdctl's offline defrag; where etcd's backend cannot open the file it panics, and so does this. */
async function defragDataDir(dataDir: string): Promise<void> {
  try {
    await defragOfflineDataDir(dataDir, (dbPath) =>
      err(`waiting for etcd to close and release its lock on ${JSON.stringify(dbPath)}. To defrag a running etcd instance, omit --data-dir.\n`),
    );
  } catch (error) {
    if (error instanceof EtcdBackendOpenError) {
      err(backendOpenPanicText(error, new Date()));
      throw new CtlExit(GO_PANIC_EXIT_CODE, "", true);
    }
    // A file-system failure (e.g. no space for the copy) is a failed defrag, as in etcdctl.
    const fsFailure = error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
    if (error instanceof EtcdDefragError || fsFailure) {
      err(`Failed to defragment etcd data[${dataDir}] (${error.message})\n`);
      throw new CtlExit(ExitCode.error, "", true);
    }
    throw error;
  }
}

export const defragCommand: CommandSpec = {
  use: "defrag",
  short: "Defragments the storage of the etcd members with given endpoints",
  persistentFlags: [flag("cluster", "bool", "false", "use all endpoints from the cluster member list")],
  flags: [flag("data-dir", "string", "", "Optional. If present, defragments a data directory not in use by etcd.")],
  async run(invocation) {
    const dataDir = invocation.flags.string("data-dir");
    if (dataDir !== "") {
      await defragDataDir(dataDir);
      return;
    }
    const session = await openSession(invocation);
    let failures = 0;
    for (const ep of await endpointsFromCluster(session, invocation.flags)) {
      try {
        const client = await directClient(session.config, ep);
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
