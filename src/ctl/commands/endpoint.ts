/** `endpoint health|status|hashkv` (etcdctl's ep_command.go), each per endpoint or per member with --cluster. */
import { create } from "@bufbuild/protobuf";
import { HashKVRequestSchema, RangeRequestSchema, StatusRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService, maintenanceService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { formatGoDuration } from "../cli/duration.js";
import { CtlExit, ExitCode, goErrorText } from "../exit.js";
import { err } from "../output.js";
import type { EndpointHashKV, EndpointHealth, EndpointStatus } from "../printers/printer.js";
import { EtcdError } from "../../api/errors.js";
import { globalConfig, type GlobalConfig } from "../global.js";
import { directClient, endpointClient, endpointsFromCluster, endpointsFromConfig, enc, flag, openSession, type Session } from "./common.js";

const clusterFlag = flag("cluster", "bool", "false", "use all endpoints from the cluster member list");

async function withEndpoint<T>(session: Session, ep: string, use: (client: Awaited<ReturnType<typeof endpointClient>>) => Promise<T>): Promise<T> {
  const client = await directClient(session.config, ep);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

async function checkHealth(config: GlobalConfig, ep: string): Promise<EndpointHealth> {
  let client;
  try {
    client = await endpointClient(config, ep);
  } catch (error) {
    return { ep, health: false, took: "", error: goErrorText(error) };
  }
  const started = performance.now();
  try {
    await client.unary(kvService.range, create(RangeRequestSchema, { key: enc("health") }), { timeoutMs: config.commandTimeoutMs });
    return { ep, health: true, took: formatGoDuration(performance.now() - started), error: "" };
  } catch (error) {
    const took = formatGoDuration(performance.now() - started);
    // A permission error still proves the member answered through raft.
    if (error instanceof EtcdError && error.is("permissionDenied")) return { ep, health: true, took, error: "" };
    return { ep, health: false, took, error: goErrorText(error) };
  } finally {
    client.close();
  }
}

const healthCommand: CommandSpec = {
  use: "health",
  short: "Checks the healthiness of endpoints specified in `--endpoints` flag",
  async run(invocation) {
    // etcdctl's health opens no shared client: each endpoint is dialed (and logged in to) on its
    // own, so a refused login is that endpoint's error in the output, not the end of the command.
    const config = await globalConfig(invocation, [], false);
    const endpoints = await endpointsFromConfig(config, invocation.flags);
    const results = await Promise.all(endpoints.map((ep) => checkHealth(config, ep)));
    config.printer.endpointHealth(results);
    if (results.some((h) => h.error !== "")) throw new CtlExit(ExitCode.error, "unhealthy cluster");
  },
};

const statusCommand: CommandSpec = {
  use: "status",
  short: "Prints out the status of endpoints specified in `--endpoints` flag",
  long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
`,
  async run(invocation) {
    const session = await openSession(invocation);
    const list: EndpointStatus[] = [];
    let failed = false;
    for (const ep of await endpointsFromCluster(session, invocation.flags)) {
      try {
        const resp = await withEndpoint(session, ep, (c) => c.unary(maintenanceService.status, create(StatusRequestSchema)));
        list.push({ ep, resp });
      } catch (error) {
        failed = true;
        err(`Failed to get the status of endpoint ${ep} (${goErrorText(error)})\n`);
      }
    }
    session.printer.endpointStatus(list);
    if (failed) throw new CtlExit(ExitCode.error, "", true);
  },
};

const hashkvCommand: CommandSpec = {
  use: "hashkv",
  short: "Prints the KV history hash for each endpoint in --endpoints",
  flags: [flag("rev", "int64", "0", "maximum revision to hash (default: all revisions)")],
  async run(invocation) {
    const session = await openSession(invocation);
    const list: EndpointHashKV[] = [];
    let failure: unknown;
    for (const ep of await endpointsFromCluster(session, invocation.flags)) {
      try {
        const request = create(HashKVRequestSchema, { revision: invocation.flags.bigint("rev") });
        const resp = await withEndpoint(session, ep, (c) => c.unary(maintenanceService.hashKV, request));
        list.push({ ep, resp });
      } catch (error) {
        failure = error;
        err(`Failed to get the hash of endpoint ${ep} (${goErrorText(error)})\n`);
      }
    }
    session.printer.endpointHashKV(list);
    if (failure !== undefined) throw new CtlExit(ExitCode.error, goErrorText(failure));
  },
};

export const endpointCommand: CommandSpec = {
  use: "endpoint <subcommand>",
  short: "Endpoint related commands",
  persistentFlags: [clusterFlag],
  subcommands: [healthCommand, statusCommand, hashkvCommand],
};
