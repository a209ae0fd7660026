/** `del [options] <key> [range_end]`: deletes a key or a range (etcdctl's del_command.go). */
import { create } from "@bufbuild/protobuf";
import { DeleteRangeRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import type { CommandSpec, Invocation } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { prefixRangeEnd } from "../printers/simple.js";
import { call, enc, flag, openSession } from "./common.js";

export const delCommand: CommandSpec = {
  use: "del [options] <key> [range_end]",
  short: "Removes the specified key or range of keys [key, range_end)",
  flags: [
    flag("prefix", "bool", "false", "delete keys with matching prefix"),
    flag("prev-kv", "bool", "false", "return deleted key-value pairs"),
    flag("from-key", "bool", "false", "delete keys that are greater than or equal to the given key using byte compare"),
  ],
  async run(invocation) {
    const request = deleteRequest(invocation);
    const session = await openSession(invocation);
    const response = await call(session, kvService.deleteRange, request);
    session.printer.del(response);
  },
};

/** Builds the DeleteRangeRequest from arguments and flags, validating as etcdctl does. */
export function deleteRequest({ args, flags }: Pick<Invocation, "args" | "flags">) {
  if (args.length === 0 || args.length > 2) throw new CtlExit(ExitCode.badArgs, "del command needs one argument as key and an optional argument as range_end");
  const prefix = flags.bool("prefix");
  const fromKey = flags.bool("from-key");
  if (prefix && fromKey) throw new CtlExit(ExitCode.badArgs, "`--prefix` and `--from-key` cannot be set at the same time, choose one");
  let key = enc(args[0]!);
  let rangeEnd: Uint8Array<ArrayBuffer> = new Uint8Array();
  if (args.length > 1) {
    if (prefix || fromKey) throw new CtlExit(ExitCode.badArgs, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set");
    rangeEnd = enc(args[1]!);
  }
  if (prefix) {
    if (key.length === 0) {
      key = new Uint8Array([0]);
      rangeEnd = new Uint8Array([0]);
    } else rangeEnd = prefixRangeEnd(key);
  }
  if (fromKey) {
    if (key.length === 0) key = new Uint8Array([0]);
    rangeEnd = new Uint8Array([0]);
  }
  return create(DeleteRangeRequestSchema, { key, rangeEnd, prevKv: flags.bool("prev-kv") });
}
