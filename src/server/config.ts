/**
 * Server configuration: etcd 3.4's flags, names and defaults, read from the command line, from
 * `ETCD_*` environment variables, or from a YAML `--config-file` with etcd's keys.
 *
 * As in etcd, a config file replaces both the command line and the environment, and an environment
 * variable only fills a flag that the command line did not set. Parsing is pure: it takes argv, env
 * and a file reader, and returns either a configuration or the text and exit code to print, so that
 * the whole behaviour is unit-testable without spawning a process.
 */
import { createRequire } from "node:module";

/** Default data directory. etcd uses `${name}.etcd`; Cairn uses `${name}.cairn`. */
export const DATA_DIR_SUFFIX = ".cairn";
export const DEFAULT_NAME = "default";
export const DEFAULT_LISTEN_CLIENT_URL = "http://127.0.0.1:2379";
export const DEFAULT_LISTEN_PEER_URL = "http://localhost:2380";
export const DEFAULT_CLUSTER_TOKEN = "etcd-cluster";
/** etcd's embed.DefaultMaxRequestBytes: 1.5 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's embed.DefaultMaxTxnOps. */
export const DEFAULT_MAX_TXN_OPS = 128;
/** etcd's etcdserver.DefaultQuotaBytes: 2 GiB; used when --quota-backend-bytes is 0. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's etcdserver.MaxQuotaBytes: a larger quota is allowed but warned about. */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
export const DEFAULT_SNAPSHOT_COUNT = 100_000;
export const DEFAULT_HEARTBEAT_MS = 100;
export const DEFAULT_ELECTION_MS = 1000;
/** etcd refuses election timeouts above this (embed.maxElectionMs). */
export const MAX_ELECTION_MS = 50_000;
export const DEFAULT_MAX_SNAPSHOTS = 5;
export const DEFAULT_MAX_WALS = 5;
/** grpc-go's default: effectively unlimited. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 4294967295;

type Kind = "string" | "uint" | "int" | "bool" | "urls" | "duration" | "choice" | "list";

interface FlagSpec {
  name: string;
  kind: Kind;
  /** Default as etcd would print it; parsed like user input. */
  defaultText: string;
  help: string;
  group: string;
  /** Allowed values for kind "choice". */
  choices?: readonly string[];
  /** Accepted for compatibility, but Cairn cannot honour a non-default value: refuse it. */
  unsupported?: boolean;
}

const FLAGS: readonly FlagSpec[] = [
  // member
  f("name", "string", DEFAULT_NAME, "Human-readable name for this member.", "Member"),
  f("data-dir", "string", "", `Path to the data directory (default '\${name}${DATA_DIR_SUFFIX}').`, "Member"),
  f("wal-dir", "string", "", "Path to the dedicated wal directory.", "Member"),
  f("snapshot-count", "uint", String(DEFAULT_SNAPSHOT_COUNT), "Number of committed transactions to trigger a snapshot to disk.", "Member"),
  f("heartbeat-interval", "uint", String(DEFAULT_HEARTBEAT_MS), "Time (in milliseconds) of a heartbeat interval.", "Member"),
  f("election-timeout", "uint", String(DEFAULT_ELECTION_MS), "Time (in milliseconds) for an election to timeout.", "Member"),
  f("initial-election-tick-advance", "bool", "true", "Whether to fast-forward initial election ticks on boot for faster election.", "Member"),
  f("listen-peer-urls", "urls", DEFAULT_LISTEN_PEER_URL, "List of URLs to listen on for peer traffic.", "Member"),
  f("listen-client-urls", "urls", DEFAULT_LISTEN_CLIENT_URL, "List of URLs to listen on for client traffic.", "Member"),
  f("max-snapshots", "uint", String(DEFAULT_MAX_SNAPSHOTS), "Maximum number of snapshot files to retain (0 is unlimited).", "Member"),
  f("max-wals", "uint", String(DEFAULT_MAX_WALS), "Maximum number of wal files to retain (0 is unlimited).", "Member"),
  f("quota-backend-bytes", "int", "0", "Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).", "Member"),
  f("backend-batch-interval", "duration", "0s", "Maximum time before committing the backend transaction.", "Member"),
  f("backend-batch-limit", "int", "0", "Maximum operations before committing the backend transaction.", "Member"),
  f("max-txn-ops", "uint", String(DEFAULT_MAX_TXN_OPS), "Maximum number of operations permitted in a transaction.", "Member"),
  f("max-request-bytes", "uint", String(DEFAULT_MAX_REQUEST_BYTES), "Maximum client request size in bytes the server will accept.", "Member"),
  f("max-concurrent-streams", "uint", String(DEFAULT_MAX_CONCURRENT_STREAMS), "Maximum concurrent streams that each client can open at a time.", "Member"),
  f("grpc-keepalive-min-time", "duration", "5s", "Minimum interval duration that a client should wait before pinging server.", "Member"),
  f("grpc-keepalive-interval", "duration", "2h", "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).", "Member"),
  f("grpc-keepalive-timeout", "duration", "20s", "Additional duration of wait before closing a non-responsive connection (0 to disable).", "Member"),
  // clustering
  f("initial-advertise-peer-urls", "urls", DEFAULT_LISTEN_PEER_URL, "List of this member's peer URLs to advertise to the rest of the cluster.", "Clustering"),
  f("initial-cluster", "string", "", "Initial cluster configuration for bootstrapping (default '${name}=${initial-advertise-peer-urls}').", "Clustering"),
  choice("initial-cluster-state", "new", ["new", "existing"], "Initial cluster state ('new' or 'existing').", "Clustering"),
  f("initial-cluster-token", "string", DEFAULT_CLUSTER_TOKEN, "Initial cluster token for the etcd cluster during bootstrap.", "Clustering"),
  f("advertise-client-urls", "urls", DEFAULT_LISTEN_CLIENT_URL, "List of this member's client URLs to advertise to the public.", "Clustering"),
  u("discovery", "string", "", "Discovery URL used to bootstrap the cluster.", "Clustering"),
  choice("discovery-fallback", "proxy", ["proxy", "exit"], "Expected behavior ('exit' or 'proxy') when discovery services fails.", "Clustering"),
  u("discovery-proxy", "string", "", "HTTP proxy to use for traffic to discovery service.", "Clustering"),
  u("discovery-srv", "string", "", "DNS srv domain used to bootstrap the cluster.", "Clustering"),
  u("discovery-srv-name", "string", "", "Suffix to the dns srv name queried when bootstrapping.", "Clustering"),
  f("strict-reconfig-check", "bool", "true", "Reject reconfiguration requests that would cause quorum loss.", "Clustering"),
  f("pre-vote", "bool", "false", "Enable to run an additional Raft election phase.", "Clustering"),
  f("auto-compaction-retention", "string", "0", "Auto compaction retention length. 0 means disable auto compaction.", "Clustering"),
  choice("auto-compaction-mode", "periodic", ["periodic", "revision"], "Interpret 'auto-compaction-retention' one of: periodic|revision.", "Clustering"),
  u("enable-v2", "bool", "false", "Accept etcd V2 client requests (not supported by Cairn).", "Clustering"),
  // security: TLS is not implemented, so any value other than the default is refused.
  u("cert-file", "string", "", "Path to the client server TLS cert file.", "Security"),
  u("key-file", "string", "", "Path to the client server TLS key file.", "Security"),
  u("client-cert-auth", "bool", "false", "Enable client cert authentication.", "Security"),
  u("client-crl-file", "string", "", "Path to the client certificate revocation list file.", "Security"),
  u("client-cert-allowed-hostname", "string", "", "Allowed TLS hostname for client cert authentication.", "Security"),
  u("trusted-ca-file", "string", "", "Path to the client server TLS trusted CA cert file.", "Security"),
  u("auto-tls", "bool", "false", "Client TLS using generated certificates.", "Security"),
  u("peer-cert-file", "string", "", "Path to the peer server TLS cert file.", "Security"),
  u("peer-key-file", "string", "", "Path to the peer server TLS key file.", "Security"),
  u("peer-client-cert-auth", "bool", "false", "Enable peer client cert authentication.", "Security"),
  u("peer-trusted-ca-file", "string", "", "Path to the peer server TLS trusted CA file.", "Security"),
  u("peer-cert-allowed-cn", "string", "", "Required CN for client certs connecting to the peer endpoint.", "Security"),
  u("peer-cert-allowed-hostname", "string", "", "Allowed TLS hostname for inter peer authentication.", "Security"),
  u("peer-auto-tls", "bool", "false", "Peer TLS using self-generated certificates.", "Security"),
  u("peer-crl-file", "string", "", "Path to the peer certificate revocation list file.", "Security"),
  u("cipher-suites", "string", "", "Comma-separated list of supported TLS cipher suites.", "Security"),
  f("cors", "string", "*", "Comma-separated whitelist of origins for CORS (empty or * means allow all).", "Security"),
  f("host-whitelist", "string", "*", "Acceptable hostnames from HTTP client requests (empty or * means allow all).", "Security"),
  // auth
  f("auth-token", "string", "simple", "Specify a v3 authentication token type and its options ('simple' or 'jwt').", "Auth"),
  f("bcrypt-cost", "uint", "10", "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords.", "Auth"),
  f("auth-token-ttl", "uint", "300", "Time (in seconds) of the auth-token-ttl.", "Auth"),
  // profiling and monitoring
  f("enable-pprof", "bool", "false", "Enable runtime profiling data via HTTP server (accepted; Cairn serves no pprof data).", "Profiling and Monitoring"),
  choice("metrics", "basic", ["basic", "extensive"], "Set level of detail for exported metrics, specify 'extensive' to include histogram metrics.", "Profiling and Monitoring"),
  f("listen-metrics-urls", "urls", "", "List of URLs to listen on for the metrics and health endpoints.", "Profiling and Monitoring"),
  // logging
  choice("logger", "capnslog", ["capnslog", "zap"], "Specify 'zap' for structured logging or 'capnslog'.", "Logging"),
  f("log-outputs", "list", "default", "Specify 'stdout' or 'stderr', or a list of comma separated output targets.", "Logging"),
  f("log-output", "list", "default", "[TO BE DEPRECATED IN v3.5] use '--log-outputs'.", "Logging"),
  choice("log-level", "info", ["debug", "info", "warn", "error", "panic", "fatal"], "Configures log level. Only supports debug, info, warn, error, panic, or fatal.", "Logging"),
  f("debug", "bool", "false", "[TO BE DEPRECATED IN v3.5] Enable debug-level logging. Use '--log-level=debug' instead.", "Logging"),
  f("log-package-levels", "string", "", "[TO BE DEPRECATED IN v3.5] Specify a particular log level for each package.", "Logging"),
  // v2 proxy
  choice("proxy", "off", ["off", "readonly", "on"], "Proxy mode setting ('off', 'readonly' or 'on'); only 'off' is supported.", "v2 Proxy"),
  f("proxy-failure-wait", "uint", "5000", "Time (in milliseconds) an endpoint will be held in a failed state.", "v2 Proxy"),
  f("proxy-refresh-interval", "uint", "30000", "Time (in milliseconds) of the endpoints refresh interval.", "v2 Proxy"),
  f("proxy-dial-timeout", "uint", "1000", "Time (in milliseconds) for a dial to timeout.", "v2 Proxy"),
  f("proxy-write-timeout", "uint", "5000", "Time (in milliseconds) for a write to timeout.", "v2 Proxy"),
  f("proxy-read-timeout", "uint", "0", "Time (in milliseconds) for a read to timeout.", "v2 Proxy"),
  // experimental and unsafe
  f("experimental-initial-corrupt-check", "bool", "false", "Enable to check data corruption before serving any client/peer traffic.", "Experimental feature"),
  f("experimental-corrupt-check-time", "duration", "0s", "Duration of time between cluster corruption check passes.", "Experimental feature"),
  u("experimental-enable-v2v3", "string", "", "Serve v2 requests through the v3 backend under a given prefix.", "Experimental feature"),
  f("experimental-backend-bbolt-freelist-type", "string", "array", "Freelist type of the backend (ignored: Cairn does not use bbolt).", "Experimental feature"),
  f("experimental-enable-lease-checkpoint", "bool", "false", "Enable leader to send regular checkpoints to other members.", "Experimental feature"),
  f("experimental-enable-lease-checkpoint-persist", "bool", "false", "Persist remainingTTL of leases.", "Experimental feature"),
  f("experimental-compaction-batch-limit", "int", "1000", "Sets the maximum revisions deleted in each compaction batch.", "Experimental feature"),
  f("experimental-watch-progress-notify-interval", "duration", "10m", "Duration of periodic watch progress notifications.", "Experimental feature"),
  f("experimental-warning-apply-duration", "duration", "100ms", "Time duration after which a warning is generated if request takes more time.", "Experimental feature"),
  f("experimental-peer-skip-client-san-verification", "bool", "false", "Skip verification of SAN field in client certificate for peer connections.", "Experimental feature"),
  f("enable-grpc-gateway", "bool", "true", "Enable GRPC gateway.", "Experimental feature"),
  f("unsafe-no-fsync", "bool", "false", "Disables fsync, unsafe, will cause data loss.", "Unsafe feature"),
  u("force-new-cluster", "bool", "false", "Force to create a new one member cluster.", "Unsafe feature"),
  f("config-file", "string", "", "Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.", "Config"),
  f("version", "bool", "false", "Print the version and exit.", "Config"),
];

/** Flags etcd accepts and ignores (left from older versions). */
const IGNORED_FLAGS = new Set([
  "cluster-active-size", "cluster-remove-delay", "cluster-sync-interval", "config", "force",
  "max-result-buffer", "max-retry-attempts", "peer-heartbeat-interval", "peer-election-timeout",
  "retry-interval", "snapshot", "v", "vv",
]);

function f(name: string, kind: Kind, defaultText: string, help: string, group: string): FlagSpec {
  return { name, kind, defaultText, help, group };
}
function u(name: string, kind: Kind, defaultText: string, help: string, group: string): FlagSpec {
  return { name, kind, defaultText, help, group, unsupported: true };
}
function choice(name: string, defaultText: string, choices: readonly string[], help: string, group: string): FlagSpec {
  return { name, kind: "choice", defaultText, help, group, choices };
}

const FLAG_BY_NAME = new Map(FLAGS.map((spec) => [spec.name, spec]));

/** The typed configuration the server runs with. */
export interface ServerConfig {
  name: string;
  dataDir: string;
  /** Dedicated WAL directory, or "" for `${dataDir}/member/wal`. */
  walDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: URL[];
  listenPeerUrls: URL[];
  initialAdvertisePeerUrls: URL[];
  listenMetricsUrls: URL[];
  /** Member name → peer URLs, in the order given. */
  initialCluster: Map<string, string[]>;
  initialClusterState: "new" | "existing";
  initialClusterToken: string;
  snapshotCount: number;
  /** Longest wait before applied entries are committed to the backend (0: etcd's 100 ms). */
  backendBatchIntervalMs: number;
  /** Pending backend operations that force a commit (0: etcd's 10,000). */
  backendBatchLimit: number;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** Backend size above which the NOSPACE alarm is raised; 0 in the flag means DEFAULT_QUOTA_BYTES, negative disables (quota.ts). */
  quotaBackendBytes: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  maxConcurrentStreams: number;
  maxSnapshots: number;
  maxWals: number;
  autoCompactionMode: "periodic" | "revision";
  autoCompactionRetention: string;
  logLevel: string;
  logger: string;
  unsafeNoFsync: boolean;
  enablePprof: boolean;
  metrics: string;
  enableGrpcGateway: boolean;
  grpcKeepaliveMinTimeMs: number;
  grpcKeepaliveIntervalMs: number;
  grpcKeepaliveTimeoutMs: number;
  /** The file the configuration came from, or "". */
  configFile: string;
}

/** What main should do: run with a configuration, or print and exit. */
export type ParseOutcome =
  | { kind: "run"; config: ServerConfig; warnings: string[] }
  | { kind: "exit"; code: number; stdout: string; stderr: string };

export interface ParseInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
  /** Text printed by --version. */
  versionText: string;
}

/** An error in the configuration, printed as etcd prints "error verifying flags". */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parse argv, env and config file into a configuration, or into what to print and the exit code. */
export function parseConfig(input: ParseInput): ParseOutcome {
  const values = new Map<string, string>();
  let positional: string | undefined;
  try {
    positional = parseArgv(input.argv, values);
  } catch (err) {
    if (err instanceof HelpRequested) return { kind: "exit", code: 0, stdout: helpText(), stderr: "" };
    return { kind: "exit", code: 2, stdout: "", stderr: `${(err as Error).message}\n${USAGE}` };
  }
  try {
    if (positional !== undefined) throw new ConfigError(`'${positional}' is not a valid flag`);
    if (values.get("version") === "true") return { kind: "exit", code: 0, stdout: input.versionText, stderr: "" };
    const warnings: string[] = [];
    const configFile = values.get("config-file") ?? input.env["ETCD_CONFIG_FILE"] ?? "";
    let explicit: Set<string>;
    if (configFile !== "") {
      values.clear();
      explicit = loadConfigFile(input.readFile, configFile, values);
      values.set("config-file", configFile);
    } else {
      explicit = new Set(values.keys());
      applyEnv(input.env, values, warnings);
    }
    return { kind: "run", config: buildConfig(values, explicit), warnings };
  } catch (err) {
    if (err instanceof ConfigError) {
      return { kind: "exit", code: 1, stdout: "", stderr: `cairn: error verifying flags, ${err.message}. See 'cairn --help'.\n` };
    }
    throw err;
  }
}

/** The short usage shown after a flag error, as etcd shows its usage line. */
export const USAGE = `Usage:

  cairn [flags]
    Start a cairn server.

  cairn --version
    Show the version of cairn.

  cairn -h | --help
    Show the help information about cairn.

  cairn --config-file
    Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.
`;

/** The full flag list for --help, grouped as etcd groups it. */
export function helpText(): string {
  const lines: string[] = [USAGE];
  let group = "";
  for (const spec of FLAGS) {
    if (spec.name === "version" || spec.name === "config-file") continue;
    if (spec.group !== group) {
      group = spec.group;
      lines.push(`${group}:`);
    }
    lines.push(`  --${spec.name} '${spec.defaultText}'`, `    ${spec.help}`);
  }
  return lines.join("\n") + "\n";
}

class HelpRequested extends Error {}

/**
 * Go's flag package syntax: `-flag`, `--flag`, `-flag=value`, `--flag value`; boolean flags take a
 * value only with `=`. Parsing stops at `--` or at the first non-flag argument, which is returned.
 */
function parseArgv(argv: readonly string[], values: Map<string, string>): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") return argv[i + 1];
    if (!arg.startsWith("-") || arg === "-") return arg;
    const body = arg.replace(/^--?/, "");
    if (body === "" || body.startsWith("-") || body.startsWith("=")) throw new Error(`bad flag syntax: ${arg}`);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? undefined : body.slice(eq + 1);
    if (name === "h" || name === "help") throw new HelpRequested();
    if (IGNORED_FLAGS.has(name)) {
      if (value === undefined && i + 1 < argv.length) i++;
      continue;
    }
    const spec = FLAG_BY_NAME.get(name);
    if (spec === undefined) throw new Error(`flag provided but not defined: -${name}`);
    if (spec.kind === "bool") {
      value ??= "true";
    } else if (value === undefined) {
      if (i + 1 >= argv.length) throw new Error(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    const problem = checkValue(spec, value);
    if (problem !== undefined) throw new Error(`invalid value ${goQuote(value)} for flag -${name}: ${problem}`);
    values.set(name, value);
  }
  return undefined;
}

/** `ETCD_FOO_BAR=x` sets `--foo-bar=x` unless the command line set it. */
function applyEnv(env: ParseInput["env"], values: Map<string, string>, warnings: string[]): void {
  const known = new Set<string>();
  for (const spec of FLAGS) {
    const key = flagToEnv(spec.name);
    known.add(key);
    const value = env[key];
    if (value === undefined || value === "") continue;
    if (values.has(spec.name)) {
      throw new ConfigError(`conflicting environment variable "${key}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`);
    }
    const problem = checkValue(spec, value);
    if (problem !== undefined) throw new ConfigError(`invalid value ${goQuote(value)} for ${key}: ${problem}`);
    values.set(spec.name, value);
  }
  for (const key of Object.keys(env)) {
    if (key.startsWith("ETCD_") && !known.has(key) && !key.startsWith("ETCDCTL_")) warnings.push(`unrecognized environment variable ${key}=${env[key] ?? ""}`);
  }
}

/** etcd's flags.FlagToEnv. */
export function flagToEnv(name: string): string {
  return "ETCD_" + name.toUpperCase().replaceAll("-", "_");
}

/**
 * The YAML parser, loaded on first use: the package takes ~150 ms to load, and a server started
 * without --config-file (the common case) never needs it.
 */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yaml.parse(text);
}

/** A YAML file with etcd's keys (the flag names). Returns the keys it set. */
function loadConfigFile(readFile: ParseInput["readFile"], path: string, values: Map<string, string>): Set<string> {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new ConfigError(`open ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`error converting YAML to JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return new Set();
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`error unmarshaling JSON: config file ${path} is not a mapping`);
  const set = new Set<string>();
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    const spec = FLAG_BY_NAME.get(key);
    // etcd's YAML decoder ignores unknown keys (client-transport-security and the like included).
    if (spec === undefined || raw === null) continue;
    const value = Array.isArray(raw) ? raw.map(String).join(",") : String(raw);
    if (typeof raw === "object" && !Array.isArray(raw)) throw new ConfigError(`error unmarshaling JSON: key ${key} must not be a mapping`);
    const problem = checkValue(spec, value);
    if (problem !== undefined) throw new ConfigError(`error unmarshaling JSON: invalid value ${goQuote(value)} for ${key}: ${problem}`);
    values.set(key, value);
    set.add(key);
  }
  return set;
}

/** Validates a textual value for a flag; returns Go's reason text, or undefined when valid. */
function checkValue(spec: FlagSpec, value: string): string | undefined {
  switch (spec.kind) {
    case "uint":
      if (!/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(value)) return "parse error";
      return Number(value) > 2 ** 64 - 1 ? "value out of range" : undefined;
    case "int":
      if (!/^[+-]?(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(value)) return "parse error";
      return Math.abs(Number(value)) > 2 ** 63 ? "value out of range" : undefined;
    case "bool":
      return parseGoBool(value) === undefined ? "parse error" : undefined;
    case "duration":
      return parseGoDurationMs(value) === undefined ? "parse error" : undefined;
    case "choice":
      return spec.choices!.includes(value) ? undefined : "invalid value";
    case "urls":
      if (value === "") return undefined;
      try {
        parseUrls(value);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    case "string":
    case "list":
      return undefined;
  }
}

function parseGoBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

const DURATION_UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds. */
export function parseGoDurationMs(text: string): number | undefined {
  if (text === "0") return 0;
  const match = /^([+-]?)((?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+)$/.exec(text);
  if (match === null) return undefined;
  let total = 0;
  for (const part of match[2]!.matchAll(/([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * DURATION_UNIT_MS[part[2]!]!;
  }
  return match[1] === "-" ? -total : total;
}

/** etcd's types.NewURLs: comma-separated http(s)/unix(s) URLs with host:port and no path. */
export function parseUrls(text: string): URL[] {
  const parts = text.split(",").map((s) => s.trim());
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "")) throw new Error("no valid URLs given");
  const seen = new Set<string>();
  const urls: URL[] = [];
  for (const part of parts) {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new Error(`parse ${goQuote(part)}: invalid URL`);
    }
    if (!["http:", "https:", "unix:", "unixs:"].includes(url.protocol)) throw new Error(`URL scheme must be http, https, unix, or unixs: ${part}`);
    if (!/:[0-9]*$/.test(part.replace(/\/$/, "")) || url.host === "") throw new Error(`URL address does not have the form "host:port": ${part}`);
    if (url.pathname !== "/" && url.pathname !== "") throw new Error(`URL must not contain a path: ${part}`);
    if (!/\/$/.test(part) && url.pathname === "/") {
      // WHATWG URL always has a path of "/" for http; the input had none, which is what etcd wants.
    }
    const key = urlString(url);
    if (seen.has(key)) continue;
    seen.add(key);
    urls.push(url);
  }
  return urls.sort((a, b) => (urlString(a) < urlString(b) ? -1 : urlString(a) > urlString(b) ? 1 : 0));
}

/** A URL printed as etcd prints it: scheme://host:port, no trailing slash. */
export function urlString(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** etcd's types.NewURLsMap: "name1=url1,name2=url2"; a name may repeat to give several URLs. */
export function parseInitialCluster(text: string): Map<string, string[]> {
  const cluster = new Map<string, string[]>();
  for (const entry of text.split(",")) {
    const eq = entry.indexOf("=");
    if (eq < 0) throw new ConfigError(`couldn't parse initial cluster entry ${goQuote(entry)}, expected name=url`);
    const name = entry.slice(0, eq).trim();
    const urls = parseUrlsOrConfigError(entry.slice(eq + 1).trim());
    const list = cluster.get(name) ?? [];
    list.push(...urls.map(urlString));
    cluster.set(name, list);
  }
  return cluster;
}

function parseUrlsOrConfigError(text: string): URL[] {
  try {
    return parseUrls(text);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

function goQuote(text: string): string {
  return JSON.stringify(text);
}

function buildConfig(values: Map<string, string>, explicit: Set<string>): ServerConfig {
  const get = (name: string): string => values.get(name) ?? FLAG_BY_NAME.get(name)!.defaultText;
  const num = (name: string): number => Number(get(name));
  const bool = (name: string): boolean => parseGoBool(get(name)) === true;
  const urls = (name: string): URL[] => (get(name) === "" ? [] : parseUrlsOrConfigError(get(name)));
  const ms = (name: string): number => parseGoDurationMs(get(name)) ?? 0;

  for (const spec of FLAGS) {
    if (spec.unsupported === true && values.has(spec.name) && get(spec.name) !== spec.defaultText) {
      throw new ConfigError(`--${spec.name} is not supported by cairn`);
    }
  }
  if (get("proxy") !== "off") throw new ConfigError("--proxy is not supported by cairn (only 'off')");

  const name = get("name");
  const initialAdvertisePeerUrls = urls("initial-advertise-peer-urls");
  const initialClusterText = values.get("initial-cluster") ?? `${name}=${initialAdvertisePeerUrls.map(urlString).join(`,${name}=`)}`;
  const listenClientUrls = urls("listen-client-urls");
  let advertiseClientUrls = urls("advertise-client-urls");
  if (explicit.has("listen-client-urls") && !explicit.has("advertise-client-urls")) advertiseClientUrls = [];

  const heartbeatIntervalMs = num("heartbeat-interval");
  const electionTimeoutMs = num("election-timeout");
  const config: ServerConfig = {
    name,
    dataDir: get("data-dir") !== "" ? get("data-dir") : `${name}${DATA_DIR_SUFFIX}`,
    walDir: get("wal-dir"),
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls: urls("listen-peer-urls"),
    initialAdvertisePeerUrls,
    listenMetricsUrls: urls("listen-metrics-urls"),
    initialCluster: parseInitialCluster(initialClusterText),
    initialClusterState: get("initial-cluster-state") as "new" | "existing",
    initialClusterToken: get("initial-cluster-token"),
    snapshotCount: num("snapshot-count"),
    backendBatchIntervalMs: ms("backend-batch-interval"),
    backendBatchLimit: num("backend-batch-limit"),
    heartbeatIntervalMs,
    electionTimeoutMs,
    quotaBackendBytes: num("quota-backend-bytes") === 0 ? DEFAULT_QUOTA_BYTES : num("quota-backend-bytes"),
    maxRequestBytes: num("max-request-bytes"),
    maxTxnOps: num("max-txn-ops"),
    maxConcurrentStreams: num("max-concurrent-streams"),
    maxSnapshots: num("max-snapshots"),
    maxWals: num("max-wals"),
    autoCompactionMode: get("auto-compaction-mode") as "periodic" | "revision",
    autoCompactionRetention: get("auto-compaction-retention"),
    logLevel: bool("debug") ? "debug" : get("log-level"),
    logger: get("logger"),
    unsafeNoFsync: bool("unsafe-no-fsync"),
    enablePprof: bool("enable-pprof"),
    metrics: get("metrics"),
    enableGrpcGateway: bool("enable-grpc-gateway"),
    grpcKeepaliveMinTimeMs: ms("grpc-keepalive-min-time"),
    grpcKeepaliveIntervalMs: ms("grpc-keepalive-interval"),
    grpcKeepaliveTimeoutMs: ms("grpc-keepalive-timeout"),
    configFile: values.get("config-file") ?? "",
  };
  validate(config);
  return config;
}

/** The checks of etcd's embed.Config.Validate, with its messages. */
function validate(config: ServerConfig): void {
  if (config.heartbeatIntervalMs <= 0) throw new ConfigError(`--heartbeat-interval must be >0 (set to ${config.heartbeatIntervalMs}ms)`);
  if (config.electionTimeoutMs <= 0) throw new ConfigError(`--election-timeout must be >0 (set to ${config.electionTimeoutMs}ms)`);
  if (5 * config.heartbeatIntervalMs > config.electionTimeoutMs) {
    throw new ConfigError(`--election-timeout[${config.electionTimeoutMs}ms] should be at least as 5 times as --heartbeat-interval[${config.heartbeatIntervalMs}ms]`);
  }
  if (config.electionTimeoutMs > MAX_ELECTION_MS) {
    throw new ConfigError(`--election-timeout[${config.electionTimeoutMs}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`);
  }
  if (config.listenClientUrls.length > 0 && config.advertiseClientUrls.length === 0) {
    throw new ConfigError("--advertise-client-urls is required when --listen-client-urls is set explicitly");
  }
  if (config.autoCompactionMode === "revision" && !/^[0-9]+$/.test(config.autoCompactionRetention)) {
    throw new ConfigError(`invalid auto-compaction-retention ${goQuote(config.autoCompactionRetention)} (revision mode needs an integer)`);
  }
  if (!config.initialCluster.has(config.name)) {
    throw new ConfigError(`couldn't find local name ${goQuote(config.name)} in the initial cluster configuration`);
  }
  const mine = config.initialCluster.get(config.name)!.slice().sort().join(",");
  const advertised = config.initialAdvertisePeerUrls.map(urlString).sort().join(",");
  if (mine !== advertised) {
    throw new ConfigError(`--initial-cluster has ${config.name}=${mine} but missing from --initial-advertise-peer-urls=${advertised}`);
  }
}
