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
import { endpointClient, endpointsFromCluster, flag, openSession } from "./common.js";
import { EtcdBackendOpenError, EtcdDefragError } from "../../utl/etcd-defrag.js";
import { defragOfflineDataDir } from "../../utl/defrag-data-dir.js";

/** capnslog's timestamp: local time, microseconds. */
function capnslogTime(now: Date): string {
  const p = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}.${p(now.getMilliseconds() * 1000, 6)}`;
}

/**
 * etcdctl's offline defrag. Where etcd's backend cannot open the file it panics: the capnslog
 * critical line and Go's panic line are reproduced and the exit code is Go's (2); Go's goroutine
 * dump that follows cannot be, so a one-line note stands in for it.
 */
async function defragDataDir(dataDir: string): Promise<void> {
  try {
    await defragOfflineDataDir(dataDir, (dbPath) =>
      err(`waiting for etcd to close and release its lock on ${JSON.stringify(dbPath)}. To defrag a running etcd instance, omit --data-dir.\n`),
    );
  } catch (error) {
    if (error instanceof EtcdBackendOpenError) {
      err(`${capnslogTime(new Date())} C | mvcc/backend: ${error.message}\npanic: ${error.message}\n\ngoroutine 1 [running]:\n(cairnctl: no Go stack to show)\n`);
      throw new CtlExit(2, "", true);
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
