/** `lease grant|revoke|timetolive|list|keep-alive` (etcdctl's lease_command.go). */
import { create } from "@bufbuild/protobuf";
import {
  LeaseGrantRequestSchema,
  LeaseKeepAliveRequestSchema,
  LeaseLeasesRequestSchema,
  LeaseRevokeRequestSchema,
  LeaseTimeToLiveRequestSchema,
  type LeaseKeepAliveResponse,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { leaseService } from "../../api/grpc.js";
import { etcdError } from "../../api/errors.js";
import { mapCallError } from "../../client/client.js";
import { firstKeepAliveTimeoutMs, LeaseKeepAlive } from "../../client/keepalive.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, exitWithError, goErrorText } from "../exit.js";
import { out } from "../output.js";
import { hex16 } from "../printers/go.js";
import { SimplePrinter } from "../printers/simple.js";
import { call, flag, openSession, parseHexInt64, type Session } from "./common.js";

function leaseFromArg(arg: string): bigint {
  try {
    return parseHexInt64(arg);
  } catch (error) {
    throw new CtlExit(ExitCode.badArgs, `bad lease ID arg (${(error as Error).message}), expecting ID in Hex`);
  }
}

const grantCommand: CommandSpec = {
  use: "grant <ttl>",
  short: "Creates leases",
  async run(invocation) {
    const { args } = invocation;
    if (args.length !== 1) throw new CtlExit(ExitCode.badArgs, "lease grant command needs TTL argument");
    if (!/^[+-]?\d+$/.test(args[0]!)) throw new CtlExit(ExitCode.badArgs, `bad TTL (strconv.ParseInt: parsing ${JSON.stringify(args[0])}: invalid syntax)`);
    const session = await openSession(invocation);
    const response = await call(session, leaseService.leaseGrant, create(LeaseGrantRequestSchema, { TTL: BigInt(args[0]!) }), {
      wrap: (message) => `failed to grant lease (${message})`,
    });
    session.printer.grant(response);
  },
};

const revokeCommand: CommandSpec = {
  use: "revoke <leaseID>",
  short: "Revokes leases",
  async run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "lease revoke command needs 1 argument");
    const id = leaseFromArg(invocation.args[0]!);
    const session = await openSession(invocation);
    const response = await call(session, leaseService.leaseRevoke, create(LeaseRevokeRequestSchema, { ID: id }), {
      wrap: (message) => `failed to revoke lease (${message})`,
    });
    session.printer.revoke(id, response);
  },
};

const timeToLiveCommand: CommandSpec = {
  use: "timetolive <leaseID> [options]",
  short: "Get lease information",
  flags: [flag("keys", "bool", "false", "Get keys attached to this lease")],
  async run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "lease timetolive command needs lease ID as argument");
    const session = await openSession(invocation);
    const keys = invocation.flags.bool("keys");
    const id = leaseFromArg(invocation.args[0]!);
    const response = await call(session, leaseService.leaseTimeToLive, create(LeaseTimeToLiveRequestSchema, { ID: id, keys }), {
      timeoutMs: 0,
      exitCode: ExitCode.badConnection,
    });
    session.printer.timeToLive(response, keys);
  },
};

const listCommand: CommandSpec = {
  use: "list",
  short: "List all active leases",
  async run(invocation) {
    const session = await openSession(invocation);
    const response = await call(session, leaseService.leaseLeases, create(LeaseLeasesRequestSchema), { timeoutMs: 0, exitCode: ExitCode.badConnection });
    session.printer.leases(response);
  },
};

/**
 * clientv3's KeepAliveOnce: one request on its own stream; its answer or error, once. The stream
 * waits for a connected endpoint first, without a deadline (etcdctl passes context.TODO()).
 */
async function keepAliveOnce(session: Session, id: bigint, onResponse: (r: LeaseKeepAliveResponse) => void): Promise<void> {
  await session.client.waitForConnection();
  return new Promise((resolve, reject) => {
    const stream = session.client.bidiStream(leaseService.leaseKeepAlive);
    const finish = (error?: unknown) => {
      stream.cancel();
      if (error === undefined) resolve();
      else reject(error);
    };
    stream.on("data", (response: LeaseKeepAliveResponse) => {
      if (response.TTL <= 0n) {
        finish(etcdError("leaseNotFound"));
        return;
      }
      onResponse(response);
      finish();
    });
    stream.on("error", (error: unknown) => {
      const mapped = mapCallError(error);
      if (mapped.message.includes("Cancelled on client")) return;
      finish(mapped);
    });
    stream.write(create(LeaseKeepAliveRequestSchema, { ID: id }));
  });
}

const keepAliveCommand: CommandSpec = {
  use: "keep-alive [options] <leaseID>",
  short: "Keeps leases alive (renew)",
  flags: [flag("once", "bool", "false", "Resets the keep-alive time to its original value and exits immediately")],
  async run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "lease keep-alive command needs lease ID as argument");
    const id = leaseFromArg(invocation.args[0]!);
    const once = invocation.flags.bool("once");
    const session = await openSession(invocation);
    if (once) {
      try {
        await keepAliveOnce(session, id, (response) => session.printer.keepAlive(response));
      } catch (error) {
        exitWithError(ExitCode.badConnection, new Error(goErrorText(error)));
      }
      return;
    }
    // As clientv3's KeepAlive: survives reconnects, ends when the lease is gone or not renewed in time.
    const keeper = new LeaseKeepAlive(session.client, id, {
      firstTimeoutMs: firstKeepAliveTimeoutMs(session.client),
      onResponse: (response) => session.printer.keepAlive(response),
    });
    await keeper.done;
    if (session.printer instanceof SimplePrinter) out(`lease ${hex16(id)} expired or revoked.\n`);
  },
};

export const leaseCommand: CommandSpec = {
  use: "lease <subcommand>",
  short: "Lease related commands",
  subcommands: [grantCommand, revokeCommand, timeToLiveCommand, listCommand, keepAliveCommand],
};
