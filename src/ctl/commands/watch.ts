/**
 * `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]` and interactive
 * `watch -i` (etcdctl's watch_command.go): prints events until the server cancels the watch.
 */
import { spawnSync } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { ResponseHeaderSchema, WatchCreateRequestSchema, WatchRequestSchema, type WatchRequest, type WatchResponse } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { Event_EventType } from "../../api/gen/mvccpb/kv_pb.js";
import { etcdErrors, GrpcCode } from "../../api/errors.js";
import { watchService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { FlagError, FlagSet } from "../cli/flags.js";
import { bytesToText, LineReader } from "../cli/lines.js";
import { CtlExit, ExitCode } from "../exit.js";
import { err } from "../output.js";
import { goQuote } from "../printers/go.js";
import { prefixRangeEnd } from "../printers/simple.js";
import { enc, flag, openSession, type Session } from "./common.js";
import { argify } from "./txn.js";

const watchFlags = [
  flag("interactive", "bool", "false", "Interactive mode", "i"),
  flag("prefix", "bool", "false", "Watch on a prefix if prefix is set"),
  flag("rev", "int64", "0", "Revision to start watching"),
  flag("prev-kv", "bool", "false", "get the previous key-value pair before the event happens"),
];

interface WatchSpec {
  readonly key: string;
  readonly rangeEnd: string | undefined;
  readonly prefix: boolean;
  readonly rev: bigint;
  readonly prevKv: boolean;
  readonly exec: string[];
}

function specFrom(flags: FlagSet, args: readonly string[], exec: string[]): WatchSpec {
  if (args.length < 1) throw new CtlExit(ExitCode.badArgs, "bad number of arguments");
  if (args.length === 2 && flags.bool("prefix")) throw new CtlExit(ExitCode.badArgs, "`range_end` and `--prefix` are mutually exclusive");
  return { key: args[0]!, rangeEnd: args[1], prefix: flags.bool("prefix"), rev: flags.bigint("rev"), prevKv: flags.bool("prev-kv"), exec };
}

function createRequest(spec: WatchSpec) {
  let key = enc(spec.key);
  let rangeEnd = spec.rangeEnd === undefined ? new Uint8Array() : enc(spec.rangeEnd);
  if (spec.prefix) {
    if (key.length === 0) {
      key = new Uint8Array([0]);
      rangeEnd = new Uint8Array([0]);
    } else rangeEnd = prefixRangeEnd(key);
  }
  return create(WatchRequestSchema, {
    requestUnion: {
      case: "createRequest",
      value: create(WatchCreateRequestSchema, { key, rangeEnd, startRevision: spec.rev, prevKv: spec.prevKv }),
    },
  });
}

/** Text of clientv3's WatchResponse.Err() for a canceled watch. */
function cancelText(response: WatchResponse): string {
  if (response.compactRevision !== 0n) return etcdErrors.compacted.message;
  if (response.cancelReason !== "") return response.cancelReason;
  return etcdErrors.futureRev.message;
}

function runExec(exec: readonly string[], response: WatchResponse): void {
  for (const event of response.events) {
    const env = {
      ...process.env,
      ETCD_WATCH_REVISION: String(response.header?.revision ?? 0n),
      ETCD_WATCH_EVENT_TYPE: goQuote(Event_EventType[event.type] ?? String(event.type)),
      ETCD_WATCH_KEY: goQuote(event.kv?.key ?? new Uint8Array()),
      ETCD_WATCH_VALUE: goQuote(event.kv?.value ?? new Uint8Array()),
    };
    const result = spawnSync(exec[0]!, exec.slice(1), { env, stdio: "inherit" });
    if (result.status !== 0 || result.error !== undefined) {
      const reason = result.error !== undefined ? result.error.message : `exit status ${result.status}`;
      err(`command [${exec.join(" ")}] error (${reason})\n`);
      process.exit(1);
    }
  }
}

/** Opens the watch stream with the require-leader metadata etcdctl sends. */
function openStream(session: Session) {
  return session.client.bidiStream<WatchRequest, WatchResponse>(watchService.watch, { metadata: { hasleader: "true" } });
}

/** Runs one watcher to its end; resolves when the server cancels it. */
function watchUntilCanceled(session: Session, spec: WatchSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = openStream(session);
    stream.on("data", (response: WatchResponse) => {
      if (response.created && !response.canceled && response.events.length === 0) return;
      if (response.canceled) err(`watch was canceled (${cancelText(response)})\n`);
      session.printer.watch({
        header: response.header ?? create(ResponseHeaderSchema),
        events: response.events,
        compactRevision: response.compactRevision,
        canceled: response.canceled,
        created: response.created,
      });
      if (spec.exec.length > 0) runExec(spec.exec, response);
      if (response.canceled) {
        stream.cancel();
        resolve();
      }
    });
    stream.on("error", (error: { code?: number }) => {
      if (error.code === GrpcCode.CANCELLED) resolve();
      else reject(error);
    });
    stream.on("end", () => resolve());
    stream.write(createRequest(spec));
  });
}

async function interactive(session: Session): Promise<never> {
  const reader = new LineReader(process.stdin);
  for (;;) {
    const raw = await reader.readLine();
    if (raw === undefined) throw new CtlExit(ExitCode.invalidInput, "Error reading watch request line: EOF");
    const line = bytesToText(raw);
    const args = argify(raw).map(bytesToText);
    if (args.length < 1) {
      err(`Invalid command: ${line} (watch and progress supported)\n`);
      continue;
    }
    if (args[0] === "progress") continue;
    if (args[0] !== "watch") {
      err(`Invalid command ${line} (only support watch)\n`);
      continue;
    }
    if (args.length < 2) {
      err(`Invalid command ${line} (command type or key is not provided)\n`);
      continue;
    }
    const flags = new FlagSet(watchFlags);
    let positional: string[];
    try {
      positional = flags.parse(args.slice(1));
    } catch (error) {
      if (error instanceof FlagError) throw new CtlExit(ExitCode.badArgs, error.message);
      throw error;
    }
    const dash = flags.argsLenAtDash;
    const watchArgs = dash === -1 ? positional : positional.slice(0, dash);
    const exec = dash === -1 ? [] : positional.slice(dash);
    let spec: WatchSpec;
    try {
      spec = specFrom(flags, watchArgs, exec);
    } catch (error) {
      err(`Invalid command ${line} (${(error as Error).message})\n`);
      continue;
    }
    void watchUntilCanceled(session, spec);
  }
}

export const watchCommand: CommandSpec = {
  use: "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
  short: "Watches events stream on keys or prefixes",
  flags: watchFlags,
  async run(invocation) {
    const envKey = process.env.ETCDCTL_WATCH_KEY ?? "";
    const envRange = process.env.ETCDCTL_WATCH_RANGE_END ?? "";
    if (envKey === "" && envRange !== "") {
      throw new CtlExit(ExitCode.badArgs, `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${JSON.stringify(envRange)}`);
    }
    const { flags, args } = invocation;
    if (flags.bool("interactive")) {
      const session = await openSession(invocation, ["watch-key", "watch-range-end"]);
      await interactive(session);
    }
    const dash = flags.argsLenAtDash;
    let watchArgs = dash === -1 ? args : args.slice(0, dash);
    const exec = dash === -1 ? [] : args.slice(dash);
    if (dash !== -1 && exec.length === 0) throw new CtlExit(ExitCode.badArgs, "bad number of arguments (found separator --, but no commands)");
    if (envKey !== "") {
      if (watchArgs.length > 0) throw new CtlExit(ExitCode.badArgs, "bad number of arguments (found conflicting environment key)");
      watchArgs = envRange === "" ? [envKey] : [envKey, envRange];
    }
    if (watchArgs.length < 1) throw new CtlExit(ExitCode.badArgs, "bad number of arguments");
    const spec = specFrom(flags, watchArgs, exec);
    const session = await openSession(invocation, ["watch-key", "watch-range-end"]);
    await watchUntilCanceled(session, spec);
    session.client.close();
    throw new CtlExit(ExitCode.interrupted, "watch is canceled by the server");
  },
};
