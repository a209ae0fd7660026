/** `user add|delete|get|list|passwd|grant-role|revoke-role` (etcdctl's user_command.go). */
import { create } from "@bufbuild/protobuf";
import {
  AuthRoleGetRequestSchema,
  AuthUserAddRequestSchema,
  AuthUserChangePasswordRequestSchema,
  AuthUserDeleteRequestSchema,
  AuthUserGetRequestSchema,
  AuthUserGrantRoleRequestSchema,
  AuthUserListRequestSchema,
  AuthUserRevokeRoleRequestSchema,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { UserAddOptionsSchema } from "../../api/gen/authpb/auth_pb.js";
import { authService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode } from "../exit.js";
import { out } from "../output.js";
import { askPassword, scanWord } from "../password.js";
import { call, flag, openSession } from "./common.js";

/**
 * etcdctl's readPasswordInteractive: the password twice on the terminal (speakeasy), which must be
 * non-empty and agree.
 */
async function readPasswordInteractive(name: string): Promise<string> {
  const ask = async (prompt: string) => {
    try {
      return await askPassword(prompt);
    } catch (error) {
      throw new CtlExit(ExitCode.badArgs, `failed to ask password: ${(error as Error).message}`);
    }
  };
  const password = await ask(`Password of ${name}: `);
  if (password.length === 0) throw new CtlExit(ExitCode.badArgs, "empty password");
  const confirmation = await ask(`Type password of ${name} again for confirmation: `);
  if (password !== confirmation) throw new CtlExit(ExitCode.badArgs, "given passwords are different");
  return password;
}

/** The password for `user add` without one in the argument, and for `user passwd`. */
function readPassword(name: string, interactive: boolean): Promise<string> {
  return interactive ? readPasswordInteractive(name) : scanWord();
}

const addCommand: CommandSpec = {
  use: "add <user name or user:password> [options]",
  short: "Adds a new user",
  flags: [
    flag("interactive", "bool", "true", "Read password from stdin instead of interactive terminal"),
    flag("new-user-password", "string", "", "Supply password from the command line flag"),
    flag("no-password", "bool", "false", "Create a user without password (CN based auth only)"),
  ],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length !== 1) throw new CtlExit(ExitCode.badArgs, "user add command requires user name as its argument");
    let user = args[0]!;
    let password = "";
    const noPassword = flags.bool("no-password");
    if (!noPassword) {
      if (flags.string("new-user-password") !== "") password = flags.string("new-user-password");
      else {
        const colon = user.indexOf(":");
        if (colon === -1) {
          password = await readPassword(user, flags.bool("interactive"));
        } else {
          password = user.slice(colon + 1);
          user = user.slice(0, colon);
          if (user.length === 0) throw new CtlExit(ExitCode.badArgs, "empty user name is not allowed");
        }
      }
    }
    const session = await openSession(invocation);
    const response = await call(
      session,
      authService.userAdd,
      create(AuthUserAddRequestSchema, { name: user, password, options: create(UserAddOptionsSchema, { noPassword }) }),
      { timeoutMs: 0 },
    );
    session.printer.userAdd(user, response);
  },
};

function exactly(count: number, message: string) {
  return (args: string[]) => {
    if (args.length !== count) throw new CtlExit(ExitCode.badArgs, message);
  };
}

const deleteCommand: CommandSpec = {
  use: "delete <user name>",
  short: "Deletes a user",
  async run(invocation) {
    exactly(1, "user delete command requires user name as its argument")(invocation.args);
    const session = await openSession(invocation);
    const name = invocation.args[0]!;
    session.printer.userDelete(name, await call(session, authService.userDelete, create(AuthUserDeleteRequestSchema, { name }), { timeoutMs: 0 }));
  },
};

const getCommand: CommandSpec = {
  use: "get <user name> [options]",
  short: "Gets detailed information of a user",
  flags: [flag("detail", "bool", "false", "Show permissions of roles granted to the user")],
  async run(invocation) {
    exactly(1, "user get command requires user name as its argument")(invocation.args);
    const name = invocation.args[0]!;
    const session = await openSession(invocation);
    const response = await call(session, authService.userGet, create(AuthUserGetRequestSchema, { name }), { timeoutMs: 0 });
    if (!invocation.flags.bool("detail")) {
      session.printer.userGet(name, response);
      return;
    }
    out(`User: ${name}\n`);
    for (const role of response.roles) {
      out("\n");
      session.printer.roleGet(role, await call(session, authService.roleGet, create(AuthRoleGetRequestSchema, { role }), { timeoutMs: 0 }));
    }
  },
};

const listCommand: CommandSpec = {
  use: "list",
  short: "Lists all users",
  async run(invocation) {
    exactly(0, "user list command requires no arguments")(invocation.args);
    const session = await openSession(invocation);
    session.printer.userList(await call(session, authService.userList, create(AuthUserListRequestSchema), { timeoutMs: 0 }));
  },
};

const passwdCommand: CommandSpec = {
  use: "passwd <user name> [options]",
  short: "Changes password of user",
  flags: [flag("interactive", "bool", "true", "If true, read password from stdin instead of interactive terminal")],
  async run(invocation) {
    exactly(1, "user passwd command requires user name as its argument")(invocation.args);
    const password = await readPassword(invocation.args[0]!, invocation.flags.bool("interactive"));
    const session = await openSession(invocation);
    const response = await call(
      session,
      authService.userChangePassword,
      create(AuthUserChangePasswordRequestSchema, { name: invocation.args[0]!, password }),
      { timeoutMs: 0 },
    );
    session.printer.userChangePassword(response);
  },
};

const grantRoleCommand: CommandSpec = {
  use: "grant-role <user name> <role name>",
  short: "Grants a role to a user",
  async run(invocation) {
    exactly(2, "user grant command requires user name and role name as its argument")(invocation.args);
    const [user, role] = invocation.args as [string, string];
    const session = await openSession(invocation);
    const response = await call(session, authService.userGrantRole, create(AuthUserGrantRoleRequestSchema, { user, role }), { timeoutMs: 0 });
    session.printer.userGrantRole(user, role, response);
  },
};

const revokeRoleCommand: CommandSpec = {
  use: "revoke-role <user name> <role name>",
  short: "Revokes a role from a user",
  async run(invocation) {
    exactly(2, "user revoke-role requires user name and role name as its argument")(invocation.args);
    const [name, role] = invocation.args as [string, string];
    const session = await openSession(invocation);
    const response = await call(session, authService.userRevokeRole, create(AuthUserRevokeRoleRequestSchema, { name, role }), { timeoutMs: 0 });
    session.printer.userRevokeRole(name, role, response);
  },
};

export const userCommand: CommandSpec = {
  use: "user <subcommand>",
  short: "User related commands",
  subcommands: [addCommand, deleteCommand, getCommand, listCommand, passwdCommand, grantRoleCommand, revokeRoleCommand],
};
