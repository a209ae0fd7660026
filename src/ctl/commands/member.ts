/** `member add|remove|update|list|promote` (etcdctl's member_command.go). */
import { create } from "@bufbuild/protobuf";
import {
  MemberAddRequestSchema,
  MemberListRequestSchema,
  MemberPromoteRequestSchema,
  MemberRemoveRequestSchema,
  MemberUpdateRequestSchema,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { clusterService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { out } from "../output.js";
import { goQuote } from "../printers/go.js";
import { SimplePrinter } from "../printers/simple.js";
import { call, flag, openSession, parseHexUint64 } from "./common.js";

/** clientv3's check of peer URLs (types.NewURLs), with its messages; fails with exit 1. */
function validatePeerUrls(urls: readonly string[]): void {
  for (const raw of urls) {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase() ?? "";
    if (!["http", "https", "unix", "unixs"].includes(scheme)) throw new CtlExit(ExitCode.error, `URL scheme must be http, https, unix, or unixs: ${raw}`);
    const rest = raw.slice(scheme.length + 1).replace(/^\/\//, "");
    const slash = rest.indexOf("/");
    const host = slash === -1 ? rest : rest.slice(0, slash);
    if (!/^(\[[^\]]*\]|[^:\[\]]*):[^:]*$/.test(host)) throw new CtlExit(ExitCode.error, `URL address does not have the form "host:port": ${raw}`);
    if (slash !== -1 && rest.slice(slash) !== "") throw new CtlExit(ExitCode.error, `URL must not contain a path: ${raw}`);
  }
}

function memberId(args: string[]): bigint {
  if (args.length !== 1) throw new CtlExit(ExitCode.badArgs, "member ID is not provided");
  try {
    return parseHexUint64(args[0]!);
  } catch (error) {
    throw new CtlExit(ExitCode.badArgs, `bad member ID arg (${(error as Error).message}), expecting ID in Hex`);
  }
}

const addCommand: CommandSpec = {
  use: "add <memberName> [options]",
  short: "Adds a member into the cluster",
  flags: [
    flag("peer-urls", "string", "", "comma separated peer URLs for the new member."),
    flag("learner", "bool", "false", "indicates if the new member is raft learner"),
  ],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length < 1) throw new CtlExit(ExitCode.badArgs, "member name not provided");
    if (args.length > 1) {
      let message = "too many arguments";
      for (const arg of args) if (arg.toLowerCase().startsWith("http")) message += `, did you mean --peer-urls=${arg}`;
      throw new CtlExit(ExitCode.badArgs, message);
    }
    const name = args[0]!;
    const peerUrls = flags.string("peer-urls");
    if (peerUrls.length === 0) throw new CtlExit(ExitCode.badArgs, "member peer urls not provided");
    const session = await openSession(invocation);
    validatePeerUrls(peerUrls.split(","));
    const response = await call(
      session,
      clusterService.memberAdd,
      create(MemberAddRequestSchema, { peerURLs: peerUrls.split(","), isLearner: flags.bool("learner") }),
    );
    session.printer.memberAdd(response);
    if (session.printer instanceof SimplePrinter) {
      const newId = response.member?.ID;
      const conf = response.members.flatMap((m) => m.peerURLs.map((u) => `${m.ID === newId ? name : m.name}=${u}`));
      out("\n");
      out(`ETCD_NAME=${goQuote(name)}\n`);
      out(`ETCD_INITIAL_CLUSTER=${goQuote(conf.join(","))}\n`);
      out(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerUrls)}\n`);
      out(`ETCD_INITIAL_CLUSTER_STATE="existing"\n`);
    }
  },
};

const removeCommand: CommandSpec = {
  use: "remove <memberID>",
  short: "Removes a member from the cluster",
  async run(invocation) {
    const id = memberId(invocation.args);
    const session = await openSession(invocation);
    const response = await call(session, clusterService.memberRemove, create(MemberRemoveRequestSchema, { ID: id }));
    session.printer.memberRemove(id, response);
  },
};

const updateCommand: CommandSpec = {
  use: "update <memberID> [options]",
  short: "Updates a member in the cluster",
  flags: [flag("peer-urls", "string", "", "comma separated peer URLs for the updated member.")],
  async run(invocation) {
    const id = memberId(invocation.args);
    const peerUrls = invocation.flags.string("peer-urls");
    if (peerUrls.length === 0) throw new CtlExit(ExitCode.badArgs, "member peer urls not provided");
    const session = await openSession(invocation);
    validatePeerUrls(peerUrls.split(","));
    const response = await call(session, clusterService.memberUpdate, create(MemberUpdateRequestSchema, { ID: id, peerURLs: peerUrls.split(",") }));
    session.printer.memberUpdate(id, response);
  },
};

const listCommand: CommandSpec = {
  use: "list",
  short: "Lists all members in the cluster",
  long: `When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
`,
  async run(invocation) {
    const session = await openSession(invocation);
    session.printer.memberList(await call(session, clusterService.memberList, create(MemberListRequestSchema)));
  },
};

const promoteCommand: CommandSpec = {
  use: "promote <memberID>",
  short: "Promotes a non-voting member in the cluster",
  long: `Promotes a non-voting learner member to a voting one in the cluster.
`,
  async run(invocation) {
    const id = memberId(invocation.args);
    const session = await openSession(invocation);
    const response = await call(session, clusterService.memberPromote, create(MemberPromoteRequestSchema, { ID: id }));
    session.printer.memberPromote(id, response);
  },
};

export const memberCommand: CommandSpec = {
  use: "member <subcommand>",
  short: "Membership related commands",
  subcommands: [addCommand, removeCommand, updateCommand, listCommand, promoteCommand],
};
