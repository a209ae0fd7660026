/** `compaction [options] <revision>`: compacts the key history (etcdctl's compaction_command.go). */
import { create } from "@bufbuild/protobuf";
import { CompactionRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { out } from "../output.js";
import { call, flag, openSession } from "./common.js";

export const compactionCommand: CommandSpec = {
  use: "compaction [options] <revision>",
  short: "Compacts the event history in etcd",
  flags: [flag("physical", "bool", "false", "'true' to wait for compaction to physically remove all old revisions")],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length !== 1) throw new CtlExit(ExitCode.badArgs, "compaction command needs 1 argument");
    const text = args[0]!;
    if (!/^[+-]?\d+$/.test(text)) throw new CtlExit(ExitCode.error, `strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
    const revision = BigInt(text);
    if (revision > 2n ** 63n - 1n || revision < -(2n ** 63n)) throw new CtlExit(ExitCode.error, `strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
    const session = await openSession(invocation);
    await call(session, kvService.compact, create(CompactionRequestSchema, { revision, physical: flags.bool("physical") }));
    out(`compacted revision ${revision}\n`);
  },
};
