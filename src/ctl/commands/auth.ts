/** `auth enable|disable` (etcdctl's auth_command.go). */
import { create } from "@bufbuild/protobuf";
import {
  AuthDisableRequestSchema,
  AuthEnableRequestSchema,
  AuthRoleAddRequestSchema,
  AuthUserGrantRoleRequestSchema,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { EtcdError } from "../../api/errors.js";
import { authService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, exitWithError } from "../exit.js";
import { out } from "../output.js";
import { openSession } from "./common.js";

const enableCommand: CommandSpec = {
  use: "enable",
  short: "Enables authentication",
  async run(invocation) {
    if (invocation.args.length !== 0) throw new CtlExit(ExitCode.badArgs, "auth enable command does not accept any arguments");
    const session = await openSession(invocation);
    const options = { timeoutMs: session.config.commandTimeoutMs };
    // Like etcdctl: when the root role is missing, create it, grant it to root, and try again.
    for (;;) {
      try {
        await session.client.unary(authService.authEnable, create(AuthEnableRequestSchema), options);
        break;
      } catch (error) {
        if (!(error instanceof EtcdError && error.is("rootRoleNotExist"))) exitWithError(ExitCode.error, error);
        try {
          await session.client.unary(authService.roleAdd, create(AuthRoleAddRequestSchema, { name: "root" }), options);
          await session.client.unary(authService.userGrantRole, create(AuthUserGrantRoleRequestSchema, { user: "root", role: "root" }), options);
        } catch (inner) {
          exitWithError(ExitCode.error, inner);
        }
      }
    }
    out("Authentication Enabled\n");
  },
};

const disableCommand: CommandSpec = {
  use: "disable",
  short: "Disables authentication",
  async run(invocation) {
    if (invocation.args.length !== 0) throw new CtlExit(ExitCode.badArgs, "auth disable command does not accept any arguments");
    const session = await openSession(invocation);
    try {
      await session.client.unary(authService.authDisable, create(AuthDisableRequestSchema), { timeoutMs: session.config.commandTimeoutMs });
    } catch (error) {
      exitWithError(ExitCode.error, error);
    }
    out("Authentication Disabled\n");
  },
};

export const authCommand: CommandSpec = {
  use: "auth <enable or disable>",
  short: "Enable or disable authentication",
  subcommands: [enableCommand, disableCommand],
};
