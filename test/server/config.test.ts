import test from "node:test";
import assert from "node:assert/strict";
import { parseConfig, parseGoDurationMs, urlString, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_QUOTA_BYTES, type ParseInput, type ServerConfig } from "../../src/server/config.js";
import { clusterIdFromMemberIds, memberIdFromPeerURLs } from "../../src/storage/membership.js";

function input(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): ParseInput {
  return {
    argv,
    env,
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error("missing"), { code: "ENOENT" });
      return text;
    },
    versionText: "cairn Version: test\n",
  };
}

function run(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): ServerConfig {
  const outcome = parseConfig(input(argv, env, files));
  assert.equal(outcome.kind, "run", outcome.kind === "exit" ? outcome.stderr : "");
  return (outcome as { config: ServerConfig }).config;
}

function fail(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): { code: number; stderr: string } {
  const outcome = parseConfig(input(argv, env, files));
  assert.equal(outcome.kind, "exit");
  return outcome as { code: number; stderr: string };
}

test("defaults follow etcd 3.4, with Cairn's data dir and loopback client URL", () => {
  const config = run([]);
  assert.equal(config.name, "default");
  assert.equal(config.dataDir, "default.cairn");
  assert.deepEqual(config.listenClientUrls.map(urlString), ["http://127.0.0.1:2379"]);
  assert.deepEqual(config.advertiseClientUrls.map(urlString), ["http://127.0.0.1:2379"]);
  assert.equal(config.maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES);
  assert.equal(config.maxRequestBytes, 1572864);
  assert.equal(config.maxTxnOps, 128);
  assert.equal(config.quotaBackendBytes, DEFAULT_QUOTA_BYTES);
  assert.equal(config.snapshotCount, 100000);
  assert.equal(config.heartbeatIntervalMs, 100);
  assert.equal(config.electionTimeoutMs, 1000);
  assert.equal(config.initialClusterToken, "etcd-cluster");
  assert.equal(config.initialClusterState, "new");
  assert.deepEqual([...config.initialCluster], [["default", ["http://localhost:2380"]]]);
  assert.equal(config.autoCompactionMode, "periodic");
  assert.equal(config.logLevel, "info");
});

test("Go flag syntax: -x, --x, --x=v, --x v, bare booleans", () => {
  const config = run(["-name", "n1", "--data-dir=/tmp/d", "--max-txn-ops", "7", "--unsafe-no-fsync", "--initial-cluster", "n1=http://localhost:2380"]);
  assert.equal(config.name, "n1");
  assert.equal(config.dataDir, "/tmp/d");
  assert.equal(config.maxTxnOps, 7);
  assert.equal(config.unsafeNoFsync, true);
  assert.equal(run(["--name", "x", "--initial-cluster", "x=http://localhost:2380"]).dataDir, "x.cairn");
});

test("unknown flag, missing argument and malformed value exit 2 with Go's messages", () => {
  let out = fail(["--bogus"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /^flag provided but not defined: -bogus\nUsage:/);
  out = fail(["--snapshot-count=abc"]);
  assert.equal(out.code, 2);
  assert.match(out.stderr, /^invalid value "abc" for flag -snapshot-count: parse error/);
  out = fail(["--name"]);
  assert.match(out.stderr, /^flag needs an argument: -name/);
  out = fail(["--initial-cluster-state=foo"]);
  assert.match(out.stderr, /^invalid value "foo" for flag -initial-cluster-state: invalid value/);
  out = fail(["--listen-client-urls", "ftp://x:1", "--advertise-client-urls", "http://x:1"]);
  assert.match(out.stderr, /URL scheme must be http, https, unix, or unixs: ftp:\/\/x:1/);
});

test("semantic errors exit 1 as etcd's 'error verifying flags'", () => {
  let out = fail(["--listen-client-urls", "http://127.0.0.1:12345"]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly\. See 'cairn --help'\./);
  out = fail(["--election-timeout", "100"]);
  assert.match(out.stderr, /--election-timeout\[100ms\] should be at least as 5 times as --heartbeat-interval\[100ms\]/);
  out = fail(["extra"]);
  assert.match(out.stderr, /'extra' is not a valid flag/);
  out = fail(["--cert-file", "/x.pem"]);
  assert.match(out.stderr, /--cert-file is not supported by cairn/);
});

test("--help prints every flag with its default; --version prints the version", () => {
  const help = parseConfig(input(["--help"]));
  assert.equal(help.kind, "exit");
  if (help.kind !== "exit") return;
  assert.equal(help.code, 0);
  for (const flag of ["--name 'default'", "--max-request-bytes '1572864'", "--max-txn-ops '128'", "--quota-backend-bytes '0'", "--listen-metrics-urls ''"]) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const version = parseConfig(input(["--version"]));
  assert.deepEqual(version, { kind: "exit", code: 0, stdout: "cairn Version: test\n", stderr: "" });
});

test("ETCD_* environment variables fill unset flags; conflicts and bad values are refused", () => {
  const config = run([], { ETCD_NAME: "envname", ETCD_INITIAL_CLUSTER: "envname=http://localhost:2380", ETCD_MAX_REQUEST_BYTES: "100" });
  assert.equal(config.name, "envname");
  assert.equal(config.maxRequestBytes, 100);
  let out = fail([], { ETCD_SNAPSHOT_COUNT: "x" });
  assert.match(out.stderr, /invalid value "x" for ETCD_SNAPSHOT_COUNT: parse error/);
  out = fail(["--max-txn-ops", "3"], { ETCD_MAX_TXN_OPS: "4" });
  assert.match(out.stderr, /conflicting environment variable "ETCD_MAX_TXN_OPS" is shadowed/);
});

test("--config-file (or ETCD_CONFIG_FILE) replaces flags and environment", () => {
  const yaml = [
    "name: fromfile",
    "data-dir: /var/lib/x",
    "listen-client-urls: http://127.0.0.1:4001,http://127.0.0.1:4002",
    "advertise-client-urls: http://127.0.0.1:4001",
    "initial-cluster: fromfile=http://localhost:2380",
    "max-txn-ops: 9",
    "quota-backend-bytes: 1048576",
    "client-transport-security:",
    "  client-cert-auth: false",
  ].join("\n");
  const config = run(["--config-file", "/c.yml", "--name", "ignored"], { ETCD_MAX_TXN_OPS: "1" }, { "/c.yml": yaml });
  assert.equal(config.name, "fromfile");
  assert.equal(config.dataDir, "/var/lib/x");
  assert.equal(config.maxTxnOps, 9);
  assert.equal(config.quotaBackendBytes, 1048576);
  assert.deepEqual(config.listenClientUrls.map(urlString), ["http://127.0.0.1:4001", "http://127.0.0.1:4002"]);
  assert.equal(run([], { ETCD_CONFIG_FILE: "/c.yml" }, { "/c.yml": yaml }).name, "fromfile");
  assert.match(fail(["--config-file", "/missing.yml"]).stderr, /open \/missing\.yml: no such file or directory/);
  assert.match(fail(["--config-file", "/bad.yml"], {}, { "/bad.yml": "max-txn-ops: abc" }).stderr, /invalid value "abc" for max-txn-ops/);
});

test("Go durations", () => {
  assert.equal(parseGoDurationMs("100ms"), 100);
  assert.equal(parseGoDurationMs("2h"), 7_200_000);
  assert.equal(parseGoDurationMs("1m30s"), 90_000);
  assert.equal(parseGoDurationMs("0"), 0);
  assert.equal(parseGoDurationMs("5"), undefined);
});

test("member and cluster IDs are derived as etcd derives them", () => {
  // Measured on etcd 3.4.23: --initial-cluster default=http://127.0.0.1:23801, token etcd-cluster.
  const id = memberIdFromPeerURLs(["http://127.0.0.1:23801"], "etcd-cluster");
  assert.equal(id, 13668033151171901709n);
  assert.equal(clusterIdFromMemberIds([id]), 15118495548433857066n);
});
