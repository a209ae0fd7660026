/**
 * `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]` and interactive
 * `watch -i` (etcdctl's watch_command.go): prints events until the server cancels the watch.
 */
import { spawnSync } from "node:child_process";
import { create } from "@bufbuild/protobuf";
import { ResponseHeaderSchema, WatchCreateRequestSchema, WatchProgressRequestSchema, WatchRequestSchema, type WatchRequest, type WatchResponse } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { Event_EventType } from "../../api/gen/mvccpb/kv_pb.js";
import { etcdErrors, GrpcCode } from "../../api/errors.js";
import { watchService } from "../../api/grpc.js";
import type { CommandSpec } from "../cli/command.js";
import { FlagError, FlagSet } from "../cli/flags.js";
import { bytesToText, LineReader } from "../cli/lines.js";
import { CtlExit, ExitCode, goErrorText } from "../exit.js";
import { err, out } from "../output.js";
import { goQuote } from "../printers/go.js";
import { prefixRangeEnd } from "../printers/simple.js";
import { enc, flag, openSession, type Session } from "./common.js";
import { mapCallError } from "../../client/client.js";
import { isResumable, nextRevision } from "../../client/watch.js";
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

function createRequest(spec: WatchSpec, startRevision: bigint) {
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
      value: create(WatchCreateRequestSchema, { key, rangeEnd, startRevision, prevKv: spec.prevKv }),
    },
  });
}

/** Text of clientv3's WatchResponse.Err() for a canceled watch. */
function cancelText(response: WatchResponse): string {
  if (response.compactRevision !== 0n) return etcdErrors.compacted.message;
  if (response.cancelReason !== "") return response.cancelReason;
  return etcdErrors.futureRev.message;
}

/** Go's syscall.Signal.String() for the signals a watch command is likely to die of. */
const signalNames: Record<string, string> = {
  SIGHUP: "hangup",
  SIGINT: "interrupt",
  SIGQUIT: "quit",
  SIGABRT: "aborted",
  SIGKILL: "killed",
  SIGSEGV: "segmentation fault",
  SIGPIPE: "broken pipe",
  SIGTERM: "terminated",
};

/** The error text of Go's exec.Cmd.Run for a failed spawn or a non-zero exit. */
function execErrorText(program: string, result: ReturnType<typeof spawnSync>): string {
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
  if (result.error !== undefined) {
    // exec.Command looks a bare name up in $PATH first; a name with a slash is started as is.
    if (code === "ENOENT" && !program.includes("/")) return `exec: ${goQuote(program)}: executable file not found in $PATH`;
    const reason = code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : result.error.message;
    return `fork/exec ${program}: ${reason}`;
  }
  if (result.signal !== null) return `signal: ${signalNames[result.signal] ?? result.signal}`;
  return `exit status ${result.status}`;
}

/** Runs the exec command once per event with the ETCD_WATCH_* variables; a failure ends cairnctl. */
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
      // Go's %q of a []string: each element quoted, in brackets.
      err(`command [${exec.map((a) => goQuote(a)).join(" ")}] error (${execErrorText(exec[0]!, result)})\n`);
      process.exit(1);
    }
  }
}

/** clientv3's WatchResponse.IsProgressNotify. */
function isProgressNotify(response: WatchResponse): boolean {
  return response.events.length === 0 && !response.canceled && !response.created && response.compactRevision === 0n && (response.header?.revision ?? 0n) !== 0n;
}

/** Longest pause between attempts to reopen a stream that keeps failing without an answer. */
const maxResumeBackoffMs = 1_000;

/**
 * One watch stream carrying any number of watches, as clientv3 multiplexes the watches of one
 * context: etcd answers create requests in the order they were sent, which is how a response's
 * watch id is matched to its request, and it broadcasts progress notifications (watch id -1).
 * When the stream fails as unavailable (the server restarted, the connection dropped) it is
 * reopened once an endpoint is connected, and every watch resumes at the revision after the last
 * one it saw (clientv3's nextRev), so no event is lost or repeated.
 */
class WatchStream {
  /** Watches whose create request is sent (or waits for the stream to reopen), oldest first. */
  private readonly pending: WatchSpec[] = [];
  /** Established watches by the id etcd gave them. */
  private readonly watches = new Map<bigint, WatchSpec>();
  /** The revision each watch starts from when it is (re)created: clientv3's initReq.rev. */
  private readonly nextRev = new Map<WatchSpec, bigint>();
  private stream: ReturnType<typeof openStream> | undefined;
  /** Set while the stream is being reopened; requests wait for it. */
  private resuming = false;
  private resumeBackoffMs = 0;

  /**
   * @param onClosed called when a watch is canceled by the server, or with undefined when the
   *   stream ends (all its watches with it).
   * @param onError called when the stream fails with an error that does not resume.
   */
  constructor(
    private readonly session: Session,
    private readonly onClosed: (spec: WatchSpec | undefined) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  add(spec: WatchSpec): void {
    this.nextRev.set(spec, spec.rev);
    this.pending.push(spec);
    if (!this.resuming) this.open().write(createRequest(spec, spec.rev));
  }

  /** Asks for a progress notification for every watch of the stream (etcdctl's `progress`). */
  requestProgress(): void {
    if (this.resuming) return;
    this.open().write(create(WatchRequestSchema, { requestUnion: { case: "progressRequest", value: create(WatchProgressRequestSchema) } }));
  }

  cancel(): void {
    this.stream?.cancel();
  }

  private open() {
    if (this.stream !== undefined) return this.stream;
    const stream = openStream(this.session);
    stream.on("data", (response: WatchResponse) => {
      this.resumeBackoffMs = 0;
      this.receive(response);
    });
    stream.on("error", (error: { code?: number }) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (error.code === GrpcCode.CANCELLED) this.onClosed(undefined);
      else if (isResumable(error)) void this.resume();
      else this.onError(error);
    });
    stream.on("end", () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.onClosed(undefined);
    });
    this.stream = stream;
    return stream;
  }

  /** Reopens the stream on a connected endpoint and recreates every watch from its next revision. */
  private async resume(): Promise<void> {
    this.resuming = true;
    const watches = [...this.watches.values(), ...this.pending];
    this.watches.clear();
    this.pending.length = 0;
    if (this.resumeBackoffMs > 0) await new Promise((resolve) => setTimeout(resolve, this.resumeBackoffMs));
    this.resumeBackoffMs = Math.min(maxResumeBackoffMs, Math.max(50, this.resumeBackoffMs * 2));
    await this.session.client.waitForConnection();
    // Watches added while the stream was down were queued behind the resumed ones.
    this.pending.unshift(...watches);
    this.resuming = false;
    const stream = this.open();
    for (const spec of this.pending) stream.write(createRequest(spec, this.nextRev.get(spec) ?? spec.rev));
  }

  /** Records where a watch resumes after this response. */
  private advance(spec: WatchSpec, response: WatchResponse): void {
    this.nextRev.set(spec, nextRevision(this.nextRev.get(spec) ?? spec.rev, response));
  }

  private receive(response: WatchResponse): void {
    if (response.watchId === -1n && isProgressNotify(response)) {
      for (const spec of this.watches.values()) {
        this.advance(spec, response);
        this.display(response);
      }
      return;
    }
    let spec: WatchSpec | undefined;
    if (response.created) {
      spec = this.pending.shift();
      if (spec !== undefined && !response.canceled) {
        this.watches.set(response.watchId, spec);
        this.advance(spec, response);
      }
      // clientv3 hands a watch's creation to no one unless asked to (WithCreatedNotify).
      if (!response.canceled && response.events.length === 0) return;
    } else {
      spec = this.watches.get(response.watchId);
      if (spec !== undefined) this.advance(spec, response);
    }
    if (spec === undefined) return;
    if (response.canceled) err(`watch was canceled (${cancelText(response)})\n`);
    this.display(response);
    if (spec.exec.length > 0) runExec(spec.exec, response);
    if (response.canceled) {
      this.watches.delete(response.watchId);
      this.nextRev.delete(spec);
      this.onClosed(spec);
    }
  }

  /** etcdctl's printWatchCh body for one response. */
  private display(response: WatchResponse): void {
    if (isProgressNotify(response)) out(`progress notify: ${response.header?.revision ?? 0n}\n`);
    this.session.printer.watch({
      header: response.header ?? create(ResponseHeaderSchema),
      events: response.events,
      compactRevision: response.compactRevision,
      canceled: response.canceled,
      created: response.created,
    });
  }
}

/** Opens the watch stream with the require-leader metadata etcdctl sends. */
function openStream(session: Session) {
  return session.client.bidiStream<WatchRequest, WatchResponse>(watchService.watch, { metadata: { hasleader: "true" } });
}

/**
 * A stream error that ends the watches (clientv3 closes their channels with a canceled response
 * carrying the error, which etcdctl reports).
 */
function reportClosed(error: unknown): void {
  err(`watch was canceled (${goErrorText(mapCallError(error))})\n`);
}

/** Runs one watcher to its end; resolves when the server cancels it or its stream fails for good. */
function watchUntilCanceled(session: Session, spec: WatchSpec): Promise<void> {
  return new Promise((resolve) => {
    const stream = new WatchStream(
      session,
      (closed) => {
        if (closed !== undefined) stream.cancel();
        resolve();
      },
      (error) => {
        reportClosed(error);
        resolve();
      },
    );
    stream.add(spec);
  });
}

/** What one interactive `watch ...` line asks for (etcdctl's parseWatchArgs with interactive=true). */
type LineRequest = { readonly spec: WatchSpec } | { readonly invalid: string };

/**
 * Parses the words after `watch` on an interactive line. Errors that etcdctl treats as fatal throw
 * CtlExit; those it reports and skips come back as `invalid`.
 */
function parseInteractiveWatch(words: readonly string[], envKey: string, envRange: string): LineRequest {
  const separator = words.indexOf("--");
  if (separator !== -1 && separator === words.length - 1) {
    throw new CtlExit(ExitCode.badArgs, "bad number of arguments (found separator --, but no commands)");
  }
  const flags = new FlagSet(watchFlags);
  let positional: string[];
  try {
    positional = flags.parse(words);
  } catch (error) {
    if (error instanceof FlagError) throw new CtlExit(ExitCode.badArgs, error.message);
    throw error;
  }
  if (separator === -1 && envKey === "" && positional.length < 1) throw new CtlExit(ExitCode.badArgs, "bad number of arguments");
  if (separator === -1 && envKey !== "" && positional.length > 0) {
    throw new CtlExit(ExitCode.badArgs, "bad number of arguments (found conflicting environment key)");
  }
  // The command is taken verbatim after the first "--"; the flag parser also lists its words as
  // positional arguments, so the watch arguments end where the command's first word last appears.
  const exec = separator === -1 ? [] : words.slice(separator + 1);
  let watchArgs = envKey === "" ? positional : [envKey, ...(envRange === "" ? [] : [envRange]), ...positional];
  if (separator !== -1) watchArgs = watchArgs.slice(0, Math.max(0, watchArgs.lastIndexOf(exec[0]!)));
  if (watchArgs.length < 1) return { invalid: "bad number of arguments" };
  if (watchArgs.length >= 2 && flags.bool("prefix")) return { invalid: "`range_end` and `--prefix` are mutually exclusive" };
  return { spec: { key: watchArgs[0]!, rangeEnd: watchArgs[1], prefix: flags.bool("prefix"), rev: flags.bigint("rev"), prevKv: flags.bool("prev-kv"), exec } };
}

/** etcdctl's watchInteractiveFunc: reads `watch ...` and `progress` lines until end of input. */
async function interactive(session: Session, envKey: string, envRange: string): Promise<never> {
  const reader = new LineReader(process.stdin);
  const stream = new WatchStream(
    session,
    () => undefined,
    reportClosed,
  );
  for (;;) {
    const raw = await reader.readLine();
    if (raw === undefined) throw new CtlExit(ExitCode.invalidInput, "Error reading watch request line: EOF");
    const line = bytesToText(raw);
    const args = argify(raw).map(bytesToText);
    if (args.length < 1) {
      err(`Invalid command: ${line} (watch and progress supported)\n`);
      continue;
    }
    if (args[0] === "progress") {
      stream.requestProgress();
      continue;
    }
    if (args[0] !== "watch") {
      err(`Invalid command ${line} (only support watch)\n`);
      continue;
    }
    if (args.length < 2 && envKey === "") {
      err(`Invalid command ${line} (command type or key is not provided)\n`);
      continue;
    }
    const request = parseInteractiveWatch(args.slice(1), envKey, envRange);
    if ("invalid" in request) err(`Invalid command ${line} (${request.invalid})\n`);
    else stream.add(request.spec);
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
      await interactive(session, envKey, envRange);
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
    // etcdctl checks `--prefix` against a range end in getWatchChan, after mustClientFromCmd has
    // checked the output format and connected.
    const session = await openSession(invocation, ["watch-key", "watch-range-end"]);
    const spec = specFrom(flags, watchArgs, exec);
    await watchUntilCanceled(session, spec);
    session.client.close();
    throw new CtlExit(ExitCode.interrupted, "watch is canceled by the server");
  },
};
