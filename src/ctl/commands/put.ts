/** `put [options] <key> <value>`: writes one key (etcdctl's put_command.go). */
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import type { CommandSpec, Invocation } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { call, enc, flag, openSession, parseHexInt64, readStdin } from "./common.js";

const needsArgs = "put command needs 1 argument and input from stdin or 2 arguments";

export const putCommand: CommandSpec = {
  use: "put [options] <key> <value> (<value> can also be given from stdin)",
  short: "Puts the given key into the store",
  long: `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`,
  flags: [
    flag("lease", "string", "0", "lease ID (in hexadecimal) to attach to the key"),
    flag("prev-kv", "bool", "false", "return the previous key-value pair before modification"),
    flag("ignore-value", "bool", "false", "updates the key using its current value"),
    flag("ignore-lease", "bool", "false", "updates the key using its current lease"),
  ],
  async run(invocation) {
    const request = await putRequest(invocation);
    const session = await openSession(invocation);
    const response = await call(session, kvService.put, request);
    session.printer.put(response);
  },
};

/** Builds the PutRequest from arguments, flags and possibly stdin, validating as etcdctl does. */
export async function putRequest({ args, flags }: Pick<Invocation, "args" | "flags">) {
  if (args.length === 0) throw new CtlExit(ExitCode.badArgs, needsArgs);
  const ignoreValue = flags.bool("ignore-value");
  if (ignoreValue && args.length > 1) throw new CtlExit(ExitCode.badArgs, "put command needs only 1 argument when 'ignore-value' is set");
  let value = "";
  if (!ignoreValue) {
    // As etcdctl's argOrStdin: an empty value argument is a value; only empty stdin is an error.
    if (args.length > 1) value = args[1]!;
    else {
      value = await readStdin();
      if (value === "") throw new CtlExit(ExitCode.badArgs, needsArgs);
    }
  }
  let lease: bigint;
  try {
    lease = parseHexInt64(flags.string("lease"));
  } catch (error) {
    throw new CtlExit(ExitCode.badArgs, `bad lease ID (${(error as Error).message}), expecting ID in Hex`);
  }
  return create(PutRequestSchema, {
    key: enc(args[0]!),
    value: enc(value),
    lease,
    prevKv: flags.bool("prev-kv"),
    ignoreValue,
    ignoreLease: flags.bool("ignore-lease"),
  });
}
