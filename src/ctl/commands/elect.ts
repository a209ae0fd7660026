/** `elect <election-name> [proposal]` and `elect -l <election-name>` (etcdctl's elect_command.go). */
import { create } from "@bufbuild/protobuf";
import { RangeRequestSchema, RangeResponseSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import { Election, Session } from "../../client/concurrency.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, exitWithError } from "../exit.js";
import { enc, flag, openSession } from "./common.js";

/** clientv3/concurrency's default session TTL in seconds. */
const sessionTtlSeconds = 60;

function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

export const electCommand: CommandSpec = {
  use: "elect <election-name> [proposal]",
  short: "Observes and participates in leader election",
  flags: [flag("listen", "bool", "false", "observation mode", "l")],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length !== 1 && args.length !== 2) {
      throw new CtlExit(ExitCode.badArgs, "elect takes one election name argument and an optional proposal argument");
    }
    const ctl = await openSession(invocation);
    const listen = flags.bool("listen");
    if (args.length === 1 && !listen) throw new CtlExit(ExitCode.badArgs, "no proposal argument but -l not set");
    if (args.length === 2 && listen) throw new CtlExit(ExitCode.badArgs, "proposal given but -l is set");
    const signal = interrupted();
    try {
      const session = await Session.open(ctl.client, sessionTtlSeconds);
      const election = new Election(session, args[0]!);
      if (listen) {
        const abort = new AbortController();
        void signal.then(() => abort.abort());
        await election.observe((header, kv) => ctl.printer.get(create(RangeResponseSchema, { header, kvs: [kv], count: 1n })), abort.signal);
        return;
      }
      await election.campaign(args[1]!);
      ctl.printer.get(await ctl.client.unary(kvService.range, create(RangeRequestSchema, { key: enc(election.leaderKey!) })));
      const outcome = await Promise.race([signal.then(() => "signal" as const), session.done.then(() => "expired" as const)]);
      if (outcome === "expired") throw new CtlExit(ExitCode.error, "elect: session expired");
      await election.resign();
    } catch (error) {
      if (error instanceof CtlExit) throw error;
      exitWithError(ExitCode.error, error);
    }
  },
};
