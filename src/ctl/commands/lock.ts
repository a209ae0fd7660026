/** `lock <lockname> [exec-command arg1 arg2 ...]`: holds a named lock until interrupted (etcdctl's lock_command.go). */
import { spawn } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { RangeRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../api/grpc.js";
import { Mutex, Session } from "../../client/concurrency.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, exitWithError } from "../exit.js";
import { enc, flag, openSession } from "./common.js";

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

export const lockCommand: CommandSpec = {
  use: "lock <lockname> [exec-command arg1 arg2 ...]",
  short: "Acquires a named lock",
  flags: [flag("ttl", "int", "10", "timeout for session")],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length === 0) throw new CtlExit(ExitCode.badArgs, "lock takes a lock name argument and an optional command to execute");
    const ctl = await openSession(invocation);
    const signal = interrupted();
    try {
      const session = await Session.open(ctl.client, flags.int("ttl"));
      const mutex = new Mutex(session, args[0]!);
      await mutex.lock();
      const command = args.slice(1);
      if (command.length > 0) {
        const env = { ETCD_LOCK_KEY: mutex.key, ETCD_LOCK_REV: String(mutex.header?.revision ?? 0n), ...process.env };
        const code = await new Promise<number | null>((resolve) => {
          const child = spawn(command[0]!, command.slice(1), { env, stdio: "inherit" });
          child.on("exit", (status) => resolve(status));
          child.on("error", () => resolve(-1));
        });
        await mutex.unlock();
        if (code !== 0) throw new CtlExit(ExitCode.error, `exit status ${code}`);
        await session.close();
        return;
      }
      const held = await ctl.client.unary(kvService.range, create(RangeRequestSchema, { key: enc(mutex.key) }));
      if (held.kvs.length === 0) throw new CtlExit(ExitCode.error, "lock lost on init");
      ctl.printer.get(held);
      const outcome = await Promise.race([signal.then(() => "signal" as const), session.done.then(() => "expired" as const)]);
      if (outcome === "expired") throw new CtlExit(ExitCode.error, "session expired");
      await mutex.unlock();
    } catch (error) {
      if (error instanceof CtlExit) throw error;
      exitWithError(ExitCode.error, error);
    }
  },
};
