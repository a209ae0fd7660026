/**
 * Global flags (each also read from its ETCDCTL_* variable; a flag on the command line wins), the output
 * printer they select, and the client they configure.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { discoverClientEndpoints, type SrvResolver } from "../client/discovery.js";
import { EtcdClient, type AttemptFailure, type ClientOptions, type TlsOptions } from "../client/client.js";
import { grpcCodeGoName } from "../api/errors.js";
import type { FlagDef, FlagSet } from "./cli/flags.js";
import type { Invocation } from "./cli/command.js";
import { formatGoDurationNs } from "./cli/duration.js";
import { CtlExit, ExitCode, exitWithError } from "./exit.js";
import { err } from "./output.js";
import { askPassword } from "./password.js";
import { FieldsPrinter } from "./printers/fields.js";
import { JsonPrinter } from "./printers/json.js";
import type { Printer } from "./printers/printer.js";
import { ProtobufPrinter } from "./printers/protobuf.js";
import { SimplePrinter } from "./printers/simple.js";
import { TablePrinter } from "./printers/table.js";

/** etcdctl 3.4's version strings, which cairnctl reports as the API level it is compatible with. */
export const compatVersion = "3.4.23";
export const apiVersion = "3.4";

const flag = (name: string, kind: FlagDef["kind"], defaultText: string, usage: string, shorthand?: string): FlagDef =>
  shorthand === undefined ? { name, kind, defaultText, usage } : { name, kind, defaultText, usage, shorthand };

export const globalFlagDefs: readonly FlagDef[] = [
  flag("endpoints", "stringSlice", "[127.0.0.1:2379]", "gRPC endpoints"),
  flag("debug", "bool", "false", "enable client-side debug logging"),
  flag("write-out", "string", "simple", "set the output format (fields, json, protobuf, simple, table)", "w"),
  flag("hex", "bool", "false", "print byte strings as hex encoded strings"),
  flag("dial-timeout", "duration", "2s", "dial timeout for client connections"),
  flag("command-timeout", "duration", "5s", "timeout for short running command (excluding dial timeout)"),
  flag("keepalive-time", "duration", "2s", "keepalive time for client connections"),
  flag("keepalive-timeout", "duration", "6s", "keepalive timeout for client connections"),
  flag("insecure-transport", "bool", "true", "disable transport security for client connections"),
  flag("insecure-discovery", "bool", "true", "accept insecure SRV records describing cluster endpoints"),
  flag("insecure-skip-tls-verify", "bool", "false", "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)"),
  flag("cert", "string", "", "identify secure client using this TLS certificate file"),
  flag("key", "string", "", "identify secure client using this TLS key file"),
  flag("cacert", "string", "", "verify certificates of TLS-enabled secure servers using this CA bundle"),
  flag("user", "string", "", "username[:password] for authentication (prompt if password is not supplied)"),
  flag("password", "string", "", "password for authentication (if this option is used, --user option shouldn't include password)"),
  flag("discovery-srv", "string", "", "domain name to query for SRV records describing cluster endpoints", "d"),
  flag("discovery-srv-name", "string", "", "service name to query when using DNS discovery"),
];

/** capnslog's line format: `2006-01-02 15:04:05.000000 L | pkg/flags: message`. */
function capnslog(level: "W", message: string): string {
  const now = new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp =
    `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ` +
    `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds() * 1000, 6)}`;
  return `${stamp} ${level} | pkg/flags: ${message}\n`;
}

function envKey(name: string): string {
  return `ETCDCTL_${name.toUpperCase().replace(/-/g, "_")}`;
}

/**
 * Applies ETCDCTL_* variables to the global flags not set on the command line. A flag given on the
 * command line wins over its variable, silently: a deliberate difference from etcdctl 3.4, whose
 * pkg/flags.SetPflagsFromEnv makes that combination fatal ("conflicting environment variable ...").
 * Unknown ETCDCTL_* variables draw etcdctl's warning. `extraNames` are flags the command adds (watch).
 */
export function applyEnvironment(flags: FlagSet, inherited: readonly FlagDef[], extraNames: readonly string[] = []): void {
  // As in SetPflagsFromEnv, a variable counts as recognized when it filled a flag or its flag was
  // given on the command line; an empty variable is neither and draws the warning.
  const recognized = new Set<string>();
  for (const name of [...inherited.map((d) => d.name), ...extraNames]) {
    const key = envKey(name);
    if (flags.has(name) && flags.changed(name)) {
      recognized.add(key);
      continue;
    }
    const value = process.env[key];
    if (value === undefined || value === "") continue;
    recognized.add(key);
    if (!flags.has(name)) continue;
    try {
      flags.set(name, value);
    } catch {
      // etcdctl ignores the error SetPflagsFromEnv returns; the flag keeps its default.
    }
  }
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("ETCDCTL_") && !recognized.has(key)) err(capnslog("W", `unrecognized environment variable ${key}=${value}`));
  }
}

/** Go's Value.String() of a flag, for --debug. */
function flagText(flags: FlagSet, def: FlagDef): string {
  switch (def.kind) {
    case "bool":
      return String(flags.bool(def.name));
    case "duration":
      return formatGoDurationNs(flags.durationNs(def.name));
    case "stringSlice":
      return `[${flags.strings(def.name).join(",")}]`;
    case "int64":
    case "uint64":
      return String(flags.bigint(def.name));
    case "int":
      return String(flags.int(def.name));
    case "string":
      return flags.string(def.name);
  }
}

/** The printer for -w/--hex, or exit 4 for an unknown format. */
export function printerFor(flags: FlagSet): Printer {
  const format = flags.string("write-out");
  switch (format) {
    case "simple":
      return new SimplePrinter(flags.bool("hex"));
    case "json":
      return new JsonPrinter();
    case "fields":
      return new FieldsPrinter();
    case "table":
      return new TablePrinter();
    case "protobuf":
      return new ProtobufPrinter();
    default:
      throw new CtlExit(ExitCode.badFeature, "unsupported output format");
  }
}

/** Everything a command needs to talk to etcd, resolved from flags and environment. */
export interface GlobalConfig {
  readonly endpoints: string[];
  readonly options: ClientOptions;
  readonly commandTimeoutMs: number;
  readonly printer: Printer;
}

/** clientv3's endpoint.ParseEndpoint host: what its balancer target names an endpoint by. */
function endpointHost(endpoint: string): string {
  if (!endpoint.includes("://")) return endpoint;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return endpoint;
  }
  switch (url.protocol) {
    case "http:":
    case "https:":
      return url.host;
    case "unix:":
    case "unixs:":
      return `${url.host}${url.pathname}`;
    default:
      return "";
  }
}

/**
 * Zap's production JSON line for a failed unary attempt, as clientv3's retry interceptor logs it.
 * Its target is the connection's: the balancer's `endpoint://client-<id>/<host>` for the shared
 * client, `passthrough:///<endpoint>` for the direct dial of one endpoint (maintenance calls).
 */
function attemptLogger(clientId: string | undefined): (failure: AttemptFailure) => void {
  return (failure) => {
    const line = {
      level: "warn",
      ts: new Date().toISOString(),
      caller: "clientv3/retry_interceptor.go:62",
      msg: "retrying of unary invoker failed",
      target: clientId === undefined ? `passthrough:///${failure.target}` : `endpoint://client-${clientId}/${endpointHost(failure.target)}`,
      attempt: failure.attempt,
      error: `rpc error: code = ${grpcCodeGoName[failure.code]} desc = ${failure.details}`,
    };
    err(`${JSON.stringify(line)}\n`);
  };
}

/** The attempt logger of a client that dials one endpoint directly, as clientv3's Client.Dial. */
export function directAttemptLogger(): (failure: AttemptFailure) => void {
  return attemptLogger(undefined);
}

function nonEmptyPath(flags: FlagSet, name: string): string | undefined {
  const value = flags.string(name);
  if (value === "" && flags.changed(name)) exitWithError(ExitCode.badArgs, new Error(`empty string is passed to --${name} option`));
  return value === "" ? undefined : value;
}

/**
 * etcdctl's endpointsFromCmd: endpoints discovered through `--discovery-srv` (without the http ones
 * unless discovery is insecure), or `--endpoints` when discovery is off or found none.
 */
export async function endpointsFromFlags(flags: FlagSet, resolver?: SrvResolver): Promise<string[]> {
  const domain = flags.string("discovery-srv");
  if (domain !== "") {
    let discovered: string[];
    try {
      discovered = await discoverClientEndpoints({ domain, serviceName: flags.string("discovery-srv-name"), ...(resolver === undefined ? {} : { resolver }) });
    } catch (error) {
      exitWithError(ExitCode.error, error);
    }
    if (!flags.bool("insecure-discovery")) {
      for (const endpoint of discovered.filter((e) => e.startsWith("http://"))) err(`ignoring discovered insecure endpoint ${JSON.stringify(endpoint)}\n`);
      discovered = discovered.filter((e) => !e.startsWith("http://"));
    }
    if (discovered.length > 0) return discovered;
  }
  return flags.strings("endpoints").map((e) => e.trim());
}

/** etcdctl's authCfgFromCmd: `--user name:password`, `--user name --password pw`, or a prompt. */
async function credentialsFromFlags(flags: FlagSet): Promise<{ username: string; password: string } | undefined> {
  const user = flags.string("user");
  if (user === "") return undefined;
  const password = flags.string("password");
  if (password !== "") return { username: user, password };
  const colon = user.indexOf(":");
  if (colon !== -1) return { username: user.slice(0, colon), password: user.slice(colon + 1) };
  try {
    return { username: user, password: await askPassword("Password: ") };
  } catch (error) {
    exitWithError(ExitCode.error, error);
  }
}

/**
 * etcdctl's secureCfgFromCmd and newClientCfg: TLS when any certificate flag is given, when
 * transport security is asked for, or when secure DNS discovery names the server (the domain is
 * then what server certificates are verified against). An empty path flag exits with 128.
 */
export function tlsFromFlags(flags: FlagSet): TlsOptions | undefined {
  const certFile = nonEmptyPath(flags, "cert");
  const keyFile = nonEmptyPath(flags, "key");
  const caFile = nonEmptyPath(flags, "cacert");
  const discoveryDomain = flags.bool("insecure-discovery") ? "" : flags.string("discovery-srv");
  const anyTls = certFile !== undefined || keyFile !== undefined || caFile !== undefined || discoveryDomain !== "";
  if (!anyTls && flags.bool("insecure-transport")) return undefined;
  return {
    ...(caFile === undefined ? {} : { caFile }),
    ...(certFile === undefined ? {} : { certFile }),
    ...(keyFile === undefined ? {} : { keyFile }),
    ...(discoveryDomain === "" ? {} : { serverName: discoveryDomain }),
    insecureSkipVerify: flags.bool("insecure-skip-tls-verify"),
  };
}

/** Resolves the global configuration in the order of etcdctl's clientConfigFromCmd, which fixes which error wins. */
export async function globalConfig(
  invocation: Invocation,
  extraEnvNames: readonly string[] = [],
  /** false for endpoint health, which etcdctl configures without clientConfigFromCmd's --debug dump. */
  printDebug = true,
): Promise<GlobalConfig> {
  const flags = invocation.flags;
  const inherited = invocation.command.inheritedFlagDefs();
  applyEnvironment(flags, inherited, extraEnvNames);
  if (printDebug && flags.bool("debug")) {
    for (const def of [...inherited].sort((a, b) => (a.name < b.name ? -1 : 1))) err(`${envKey(def.name)}=${flagText(flags, def)}\n`);
  }
  const endpoints = await endpointsFromFlags(flags);
  const tls = tlsFromFlags(flags);
  const credentials = await credentialsFromFlags(flags);
  const printer = printerFor(flags);
  const options: ClientOptions = {
    endpoints,
    dialTimeoutMs: flags.durationMs("dial-timeout"),
    keepaliveTimeMs: flags.durationMs("keepalive-time"),
    keepaliveTimeoutMs: flags.durationMs("keepalive-timeout"),
    ...(tls === undefined ? {} : { tls }),
    ...(credentials ?? {}),
    onAttemptFailed: attemptLogger(randomUUID()),
  };
  return { endpoints, options, commandTimeoutMs: flags.durationMs("command-timeout"), printer };
}

function goOpenError(path: string, error: NodeJS.ErrnoException): string {
  const texts: Record<string, string> = { ENOENT: "no such file or directory", EACCES: "permission denied", EISDIR: "is a directory" };
  return `open ${path}: ${texts[error.code ?? ""] ?? error.message}`;
}

/** Checks the TLS files as transport.TLSInfo.ClientConfig does, with its error texts (exit 128). */
function checkTlsFiles(tls: TlsOptions | undefined): void {
  if (tls === undefined) return;
  const { certFile, keyFile, caFile } = tls;
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined || keyFile === undefined) {
      throw new CtlExit(ExitCode.badArgs, `KeyFile and CertFile must both be present[key: ${keyFile ?? ""}, cert: ${certFile ?? ""}]`);
    }
  }
  for (const path of [certFile, keyFile, caFile]) {
    if (path === undefined) continue;
    try {
      readFileSync(path);
    } catch (error) {
      throw new CtlExit(ExitCode.badArgs, goOpenError(path, error as NodeJS.ErrnoException));
    }
  }
}

/**
 * Connects like clientv3.New: etcd 3.4's client does not wait for a connection here, so an
 * unreachable endpoint surfaces when the first call times out. Authentication happens up front.
 */
export async function connect(config: GlobalConfig, overrides: Partial<ClientOptions> = {}): Promise<EtcdClient> {
  checkTlsFiles(config.options.tls);
  // clientv3.New's ErrNoAvailableEndpoints, e.g. for --endpoints ''.
  if ((overrides.endpoints ?? config.options.endpoints).length === 0) exitWithError(ExitCode.badConnection, new Error("etcdclient: no available endpoints"));
  try {
    return await EtcdClient.connect({ ...config.options, dialTimeoutMs: 0, commandTimeoutMs: config.commandTimeoutMs, ...overrides });
  } catch (error) {
    exitWithError(ExitCode.badConnection, error);
  }
}
