/** `role add|delete|get|list|grant-permission|revoke-permission` (etcdctl's role_command.go). */
import { create } from "@bufbuild/protobuf";
import {
  AuthRoleAddRequestSchema,
  AuthRoleDeleteRequestSchema,
  AuthRoleGetRequestSchema,
  AuthRoleGrantPermissionRequestSchema,
  AuthRoleListRequestSchema,
  AuthRoleRevokePermissionRequestSchema,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { Permission_Type, PermissionSchema } from "../../api/gen/authpb/auth_pb.js";
import { authService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import type { FlagSet } from "../cli/flags.js";
import { CtlExit, ExitCode } from "../exit.js";
import { prefixRangeEnd } from "../printers/simple.js";
import { call, enc, flag, openSession } from "./common.js";

function exactly(args: string[], count: number, message: string): void {
  if (args.length !== count) throw new CtlExit(ExitCode.badArgs, message);
}

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

/** Key and range end of a permission from arguments and --prefix/--from-key (etcdctl's permRange). */
function permRange(args: string[], flags: FlagSet): { key: Uint8Array<ArrayBuffer>; rangeEnd: Uint8Array<ArrayBuffer> } {
  const prefix = flags.bool("prefix");
  const fromKey = flags.bool("from-key");
  const bad = (message: string): never => {
    throw new CtlExit(ExitCode.badArgs, message);
  };
  const key = args[0]!;
  if (key.length === 0) {
    if (prefix && fromKey) bad("--from-key and --prefix flags are mutually exclusive");
    return { key: new Uint8Array([0]), rangeEnd: prefix || fromKey ? new Uint8Array([0]) : new Uint8Array() };
  }
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) bad("--from-key and --prefix flags are mutually exclusive");
      return { key: enc(key), rangeEnd: prefixRangeEnd(enc(key)) };
    }
    return { key: enc(key), rangeEnd: fromKey ? new Uint8Array([0]) : new Uint8Array() };
  }
  if (prefix) bad("unexpected endkey argument with --prefix flag");
  if (fromKey) bad("unexpected endkey argument with --from-key flag");
  return { key: enc(key), rangeEnd: enc(args[1]!) };
}

const addCommand: CommandSpec = {
  use: "add <role name>",
  short: "Adds a new role",
  async run(invocation) {
    exactly(invocation.args, 1, "role add command requires role name as its argument");
    const name = invocation.args[0]!;
    const session = await openSession(invocation);
    session.printer.roleAdd(name, await call(session, authService.roleAdd, create(AuthRoleAddRequestSchema, { name }), { timeoutMs: 0 }));
  },
};

const deleteCommand: CommandSpec = {
  use: "delete <role name>",
  short: "Deletes a role",
  async run(invocation) {
    exactly(invocation.args, 1, "role delete command requires role name as its argument");
    const role = invocation.args[0]!;
    const session = await openSession(invocation);
    session.printer.roleDelete(role, await call(session, authService.roleDelete, create(AuthRoleDeleteRequestSchema, { role }), { timeoutMs: 0 }));
  },
};

const getCommand: CommandSpec = {
  use: "get <role name>",
  short: "Gets detailed information of a role",
  async run(invocation) {
    exactly(invocation.args, 1, "role get command requires role name as its argument");
    const role = invocation.args[0]!;
    const session = await openSession(invocation);
    session.printer.roleGet(role, await call(session, authService.roleGet, create(AuthRoleGetRequestSchema, { role }), { timeoutMs: 0 }));
  },
};

const listCommand: CommandSpec = {
  use: "list",
  short: "Lists all roles",
  async run(invocation) {
    exactly(invocation.args, 0, "role list command requires no arguments");
    const session = await openSession(invocation);
    session.printer.roleList(await call(session, authService.roleList, create(AuthRoleListRequestSchema), { timeoutMs: 0 }));
  },
};

const permissionTypes: Record<string, Permission_Type> = {
  READ: Permission_Type.READ,
  WRITE: Permission_Type.WRITE,
  READWRITE: Permission_Type.READWRITE,
};

const grantCommand: CommandSpec = {
  use: "grant-permission [options] <role name> <permission type> <key> [endkey]",
  short: "Grants a key to a role",
  flags: [
    flag("prefix", "bool", "false", "grant a prefix permission"),
    flag("from-key", "bool", "false", "grant a permission of keys that are greater than or equal to the given key using byte compare"),
  ],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length < 3) throw new CtlExit(ExitCode.badArgs, "role grant command requires role name, permission type, and key [endkey] as its argument");
    const permType = permissionTypes[args[1]!.toUpperCase()];
    if (permType === undefined) throw new CtlExit(ExitCode.badArgs, `invalid permission type: ${args[1]}`);
    const { key, rangeEnd } = permRange(args.slice(2), flags);
    const session = await openSession(invocation);
    const response = await call(
      session,
      authService.roleGrantPermission,
      create(AuthRoleGrantPermissionRequestSchema, { name: args[0]!, perm: create(PermissionSchema, { permType, key, rangeEnd }) }),
      { timeoutMs: 0 },
    );
    session.printer.roleGrantPermission(args[0]!, response);
  },
};

const revokeCommand: CommandSpec = {
  use: "revoke-permission <role name> <key> [endkey]",
  short: "Revokes a key from a role",
  flags: [
    flag("prefix", "bool", "false", "revoke a prefix permission"),
    flag("from-key", "bool", "false", "revoke a permission of keys that are greater than or equal to the given key using byte compare"),
  ],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length < 2) throw new CtlExit(ExitCode.badArgs, "role revoke-permission command requires role name and key [endkey] as its argument");
    const { key, rangeEnd } = permRange(args.slice(1), flags);
    const session = await openSession(invocation);
    const response = await call(
      session,
      authService.roleRevokePermission,
      create(AuthRoleRevokePermissionRequestSchema, { role: args[0]!, key, rangeEnd }),
      { timeoutMs: 0 },
    );
    session.printer.roleRevokePermission(args[0]!, args[1]!, latin1(rangeEnd), response);
  },
};

export const roleCommand: CommandSpec = {
  use: "role <subcommand>",
  short: "Role related commands",
  subcommands: [addCommand, deleteCommand, getCommand, listCommand, grantCommand, revokeCommand],
};
