/** Helpers shared by cairnctl's commands: connecting, calling with the command timeout, flags. */
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { MemberListRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { clusterService } from "../../api/grpc.js";
import { EtcdClient } from "../../client/client.js";
import type { Invocation } from "../cli/command.js";
import type { FlagDef, FlagSet } from "../cli/flags.js";
import { ExitCode, exitWithError, goErrorText } from "../exit.js";
import { connect, directAttemptLogger, endpointsFromFlags, globalConfig, type GlobalConfig } from "../global.js";
import type { Printer } from "../printers/printer.js";

export interface Session {
  readonly config: GlobalConfig;
  readonly client: EtcdClient;
  readonly printer: Printer;
}

/** Resolves global flags and connects (etcdctl's mustClientFromCmd). */
export async function openSession(invocation: Invocation, extraEnvNames: readonly string[] = []): Promise<Session> {
  const config = await globalConfig(invocation, extraEnvNames);
  const client = await connect(config);
  return { config, client, printer: config.printer };
}

/** One unary call under the command timeout; failures end the command with exit code 1. */
export async function call<Req, Res>(
  session: Session,
  method: grpc.MethodDefinition<Req, Res>,
  request: Req,
  options: { timeoutMs?: number; endpointIndex?: number; exitCode?: number; wrap?: (message: string) => string } = {},
): Promise<Res> {
  try {
    return await session.client.unary(method, request, {
      timeoutMs: options.timeoutMs ?? session.config.commandTimeoutMs,
      ...(options.endpointIndex === undefined ? {} : { endpointIndex: options.endpointIndex }),
    });
  } catch (error) {
    if (options.wrap !== undefined) {
      exitWithError(options.exitCode ?? ExitCode.error, new Error(options.wrap(goErrorText(error))));
    }
    exitWithError(options.exitCode ?? ExitCode.error, error);
  }
}

export const enc = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);

/** A command-local flag definition. */
export function flag(name: string, kind: FlagDef["kind"], defaultText: string, usage: string, shorthand?: string): FlagDef {
  return shorthand === undefined ? { name, kind, defaultText, usage } : { name, kind, defaultText, usage, shorthand };
}

/** Go's strconv.ParseInt(text, 16, 64), with Go's error text. */
export function parseHexInt64(text: string): bigint {
  const quoted = JSON.stringify(text);
  if (!/^[+-]?[0-9a-fA-F]+$/.test(text)) throw new Error(`strconv.ParseInt: parsing ${quoted}: invalid syntax`);
  const negative = text.startsWith("-");
  const digits = text.replace(/^[+-]/, "");
  const value = BigInt(`0x${digits}`) * (negative ? -1n : 1n);
  if (value > 2n ** 63n - 1n || value < -(2n ** 63n)) throw new Error(`strconv.ParseInt: parsing ${quoted}: value out of range`);
  return value;
}

/** Go's strconv.ParseUint(text, 16, 64). */
export function parseHexUint64(text: string): bigint {
  const quoted = JSON.stringify(text);
  if (!/^[0-9a-fA-F]+$/.test(text)) throw new Error(`strconv.ParseUint: parsing ${quoted}: invalid syntax`);
  const value = BigInt(`0x${text}`);
  if (value > 2n ** 64n - 1n) throw new Error(`strconv.ParseUint: parsing ${quoted}: value out of range`);
  return value;
}

/** Reads all of stdin (etcdctl's argOrStdin). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A client for one endpoint, as clientv3's Maintenance calls dial the endpoint they are given
 * (endpoint status, hashkv, defrag). Errors are returned, not fatal.
 */
export async function endpointClient(config: GlobalConfig, endpoint: string): Promise<EtcdClient> {
  return EtcdClient.connect({ ...config.options, endpoints: [endpoint], dialTimeoutMs: 0, commandTimeoutMs: config.commandTimeoutMs });
}

/**
 * A client for a maintenance call on one endpoint (status, hashkv, defrag): clientv3 makes these
 * over a direct dial (Client.Dial), whose failed attempts are logged with a passthrough target.
 */
export async function directClient(config: GlobalConfig, endpoint: string): Promise<EtcdClient> {
  return endpointClient({ ...config, options: { ...config.options, onAttemptFailed: directAttemptLogger() } }, endpoint);
}

/**
 * endpointsFromCluster for a command that holds no shared client (endpoint health): with --cluster
 * a client without credentials lists the members, as etcdctl does.
 */
export async function endpointsFromConfig(config: GlobalConfig, flags: FlagSet): Promise<string[]> {
  if (!flags.bool("cluster")) return config.endpoints;
  const { username: _username, password: _password, ...options } = config.options;
  const anonymous: GlobalConfig = { ...config, options };
  const session: Session = { config: anonymous, client: await connect(anonymous), printer: config.printer };
  try {
    return await endpointsFromCluster(session, flags);
  } finally {
    session.client.close();
  }
}

/** Endpoints to act on: --endpoints, or every client URL of the member list with --cluster. */
export async function endpointsFromCluster(session: Session, flags: FlagSet): Promise<string[]> {
  if (!flags.bool("cluster")) return session.config.endpoints;
  const listing = await memberListSession(session, flags);
  try {
    const members = await call(listing, clusterService.memberList, create(MemberListRequestSchema), {
      wrap: (message) => `failed to fetch endpoints from etcd cluster member list: ${message}`,
    });
    return members.members.flatMap((m) => m.clientURLs);
  } finally {
    if (listing !== session) listing.client.close();
  }
}

/**
 * The session that lists members for --cluster. etcdctl builds a separate client for it from the
 * flags (so DNS discovery runs again) without credentials, since MemberList needs none: no
 * password prompt, and a wrong password does not stop the listing.
 */
async function memberListSession(session: Session, flags: FlagSet): Promise<Session> {
  if (session.config.options.username === undefined && flags.string("discovery-srv") === "") return session;
  const { username: _username, password: _password, ...options } = session.config.options;
  const endpoints = await endpointsFromFlags(flags);
  const config: GlobalConfig = { ...session.config, endpoints, options: { ...options, endpoints } };
  return { config, client: await connect(config), printer: session.printer };
}
