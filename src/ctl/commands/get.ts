/** `get [options] <key> [range_end]`: reads a key or a range (etcdctl's get_command.go). */
import { create } from "@bufbuild/protobuf";
import { RangeRequest_SortOrder, RangeRequest_SortTarget, RangeRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import type { CommandSpec, Invocation } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { SimplePrinter, prefixRangeEnd } from "../printers/simple.js";
import { call, enc, flag, openSession } from "./common.js";

function badArgs(message: string): never {
  throw new CtlExit(ExitCode.badArgs, message);
}

/** Builds the RangeRequest from arguments and flags, validating as etcdctl does (before connecting). */
export function rangeRequest({ args, flags }: Pick<Invocation, "args" | "flags">) {
  if (args.length === 0) badArgs("get command needs one argument as key and an optional argument as range_end");
  const prefix = flags.bool("prefix");
  const fromKey = flags.bool("from-key");
  if (prefix && fromKey) badArgs("`--prefix` and `--from-key` cannot be set at the same time, choose one");
  const consistency = flags.string("consistency");
  if (consistency !== "s" && consistency !== "l") throw new CtlExit(ExitCode.badFeature, `unknown consistency flag ${JSON.stringify(consistency)}`);
  let key = enc(args[0]!);
  let rangeEnd: Uint8Array<ArrayBuffer> = new Uint8Array();
  if (args.length > 1) {
    if (prefix || fromKey) badArgs("too many arguments, only accept one argument when `--prefix` or `--from-key` is set");
    rangeEnd = enc(args[1]!);
  }
  const orderText = flags.string("order").toUpperCase();
  const order =
    orderText === "ASCEND" ? RangeRequest_SortOrder.ASCEND
    : orderText === "DESCEND" ? RangeRequest_SortOrder.DESCEND
    : orderText === "" ? RangeRequest_SortOrder.NONE
    : (() => { throw new CtlExit(ExitCode.badFeature, `bad sort order ${flags.string("order")}`); })();
  const targets: Record<string, RangeRequest_SortTarget> = {
    CREATE: RangeRequest_SortTarget.CREATE,
    KEY: RangeRequest_SortTarget.KEY,
    MODIFY: RangeRequest_SortTarget.MOD,
    VALUE: RangeRequest_SortTarget.VALUE,
    VERSION: RangeRequest_SortTarget.VERSION,
    "": RangeRequest_SortTarget.KEY,
  };
  const target = targets[flags.string("sort-by").toUpperCase()];
  if (target === undefined) throw new CtlExit(ExitCode.badFeature, `bad sort target ${flags.string("sort-by")}`);
  // clientv3.WithSort: ascending by key is the server's natural order, so it is sent as no sort.
  const sortOrder = target === RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.ASCEND ? RangeRequest_SortOrder.NONE : order;
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
  const revision = flags.bigint("rev");
  return create(RangeRequestSchema, {
    key,
    rangeEnd,
    limit: flags.bigint("limit"),
    revision: revision > 0n ? revision : 0n,
    sortOrder,
    sortTarget: target,
    serializable: consistency === "s",
    keysOnly: flags.bool("keys-only"),
  });
}

export const getCommand: CommandSpec = {
  use: "get [options] <key> [range_end]",
  short: "Gets the key or a range of keys",
  flags: [
    flag("consistency", "string", "l", "Linearizable(l) or Serializable(s)"),
    flag("order", "string", "", "Order of results; ASCEND or DESCEND (ASCEND by default)"),
    flag("sort-by", "string", "", "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION"),
    flag("limit", "int64", "0", "Maximum number of results"),
    flag("prefix", "bool", "false", "Get keys with matching prefix"),
    flag("from-key", "bool", "false", "Get keys that are greater than or equal to the given key using byte compare"),
    flag("rev", "int64", "0", "Specify the kv revision"),
    flag("keys-only", "bool", "false", "Get only the keys"),
    flag("print-value-only", "bool", "false", 'Only write values when using the "simple" output format'),
  ],
  async run(invocation) {
    const request = rangeRequest(invocation);
    const session = await openSession(invocation);
    const response = await call(session, kvService.range, request);
    if (invocation.flags.bool("print-value-only")) {
      if (!(session.printer instanceof SimplePrinter)) badArgs("print-value-only is only for `--write-out=simple`");
      session.printer.valueOnly = true;
    }
    session.printer.get(response);
  },
};
