/**
 * A global flag wins over its ETCDCTL_* variable, silently: cairnctl's deliberate difference from
 * etcdctl 3.4, which exits with "conflicting environment variable ... is shadowed by corresponding
 * command-line flag". cairnctl only (etcdctl would fail every case here). Each behavioural case
 * also checks that the variable alone does take effect, so a flag that merely ignored the
 * environment could not pass.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { globalFlagDefs } from "../../src/ctl/global.js";
import { skipWithoutEtcd, startEtcd, type EtcdProcess } from "../client/etcd.js";
import { haveOpenssl, makePki, type TestPki } from "../client/tls.js";

const cairnctl = resolve("bin/cairnctl");

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs cairnctl with exactly the ETCDCTL_* variables given. */
function run(args: readonly string[], vars: Readonly<Record<string, string>>): Run {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ETCDCTL_")) env[key] = value;
  const result = spawnSync(cairnctl, args, { env: { ...env, ...vars }, encoding: "utf8", input: "" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function etcdctl(etcd: EtcdProcess, args: readonly string[]): void {
  const result = spawnSync("etcdctl", [`--endpoints=${etcd.clientUrl}`, ...args], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
}

/** For every global flag: a value for its variable and a different one for the flag. */
const bothWays: Readonly<Record<string, readonly [env: string, flag: string, shown: string]>> = {
  cacert: ["/env/ca.pem", "/flag/ca.pem", "/flag/ca.pem"],
  cert: ["/env/cert.pem", "/flag/cert.pem", "/flag/cert.pem"],
  "command-timeout": ["9s", "4s", "4s"],
  debug: ["false", "true", "true"],
  "dial-timeout": ["9s", "3s", "3s"],
  "discovery-srv": ["a..b", "", ""],
  "discovery-srv-name": ["envname", "flagname", "flagname"],
  endpoints: ["10.0.0.1:1", "127.0.0.1:2", "[127.0.0.1:2]"],
  hex: ["true", "false", "false"],
  "insecure-discovery": ["false", "true", "true"],
  "insecure-skip-tls-verify": ["false", "true", "true"],
  "insecure-transport": ["false", "true", "true"],
  "keepalive-time": ["9s", "7s", "7s"],
  "keepalive-timeout": ["9s", "8s", "8s"],
  key: ["/env/key.pem", "/flag/key.pem", "/flag/key.pem"],
  password: ["envpw", "flagpw", "flagpw"],
  user: ["envuser:x", "flaguser:y", "flaguser:y"],
  "write-out": ["json", "fields", "fields"],
};

const envKey = (name: string) => `ETCDCTL_${name.toUpperCase().replace(/-/g, "_")}`;

describe("ctl flags win over ETCDCTL_* variables", () => {
  test("every global flag, as --debug reports the values in effect", () => {
    assert.deepEqual(Object.keys(bothWays).sort(), globalFlagDefs.map((d) => d.name).sort(), "a global flag is missing here");
    const vars = Object.fromEntries(Object.entries(bothWays).map(([name, [env]]) => [envKey(name), env]));
    const flags = Object.entries(bothWays).map(([name, [, flag]]) => `--${name}=${flag}`);
    const result = run([...flags, "get", "foo"], vars);
    const expected = Object.entries(bothWays)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, [, , shown]]) => `${envKey(name)}=${shown}\n`)
      .join("");
    assert.ok(result.stderr.startsWith(expected), result.stderr);
    // The run then stops at the (flag's) missing certificate file, not at the variable's.
    assert.equal(result.stderr.slice(expected.length), "Error: open /flag/cert.pem: no such file or directory\n");
    assert.equal(result.code, 128);
  });

  describe("against etcd", { skip: skipWithoutEtcd() }, () => {
    let etcd: EtcdProcess;
    before(async () => {
      etcd = await startEtcd();
      etcdctl(etcd, ["put", "foo", "b\u0001r"]);
    });
    after(async () => {
      await etcd?.stop();
    });

    test("--endpoints", () => {
      assert.equal(run(["get", "foo", "--command-timeout=1s"], { ETCDCTL_ENDPOINTS: "127.0.0.1:1" }).code, 1);
      assert.deepEqual(run([`--endpoints=${etcd.endpoint}`, "get", "foo"], { ETCDCTL_ENDPOINTS: "127.0.0.1:1" }), { code: 0, stdout: "foo\nb\u0001r\n", stderr: "" });
    });

    test("--write-out and --hex", () => {
      const vars = { ETCDCTL_ENDPOINTS: etcd.endpoint, ETCDCTL_WRITE_OUT: "json", ETCDCTL_HEX: "true" };
      assert.match(run(["get", "foo"], vars).stdout, /^\{"header":/);
      assert.deepEqual(run(["get", "foo", "-w", "simple", "--hex=false"], vars), { code: 0, stdout: "foo\nb\u0001r\n", stderr: "" });
      assert.equal(run(["get", "foo", "-w", "simple"], vars).stdout, "\\x66\\x6f\\x6f\n\\x62\\x01\\x72\n");
    });

    test("--command-timeout", () => {
      const vars = { ETCDCTL_ENDPOINTS: etcd.endpoint, ETCDCTL_COMMAND_TIMEOUT: "1ns" };
      assert.match(run(["get", "foo"], vars).stderr, /Error: context deadline exceeded\n$/);
      assert.equal(run(["get", "foo", "--command-timeout=5s"], vars).code, 0);
    });
  });

  describe("against etcd with auth", { skip: skipWithoutEtcd() }, () => {
    let etcd: EtcdProcess;
    before(async () => {
      etcd = await startEtcd();
      etcdctl(etcd, ["user", "add", "root:rootpw"]);
      etcdctl(etcd, ["put", "foo", "bar"]);
      etcdctl(etcd, ["auth", "enable"]);
    });
    after(async () => {
      await etcd?.stop();
    });

    test("--user", () => {
      const vars = { ETCDCTL_ENDPOINTS: etcd.endpoint, ETCDCTL_USER: "root:wrong" };
      assert.match(run(["get", "foo"], vars).stderr, /Error: etcdserver: authentication failed, invalid user ID or password\n$/);
      assert.deepEqual(run(["--user=root:rootpw", "get", "foo"], vars), { code: 0, stdout: "foo\nbar\n", stderr: "" });
    });

    test("--password", () => {
      const vars = { ETCDCTL_ENDPOINTS: etcd.endpoint, ETCDCTL_USER: "root", ETCDCTL_PASSWORD: "wrong" };
      assert.match(run(["get", "foo"], vars).stderr, /authentication failed/);
      assert.deepEqual(run(["--password=rootpw", "get", "foo"], vars), { code: 0, stdout: "foo\nbar\n", stderr: "" });
    });
  });

  const noTls = skipWithoutEtcd() || (haveOpenssl() ? false : "openssl not found");
  describe("against etcd with TLS", { skip: noTls }, () => {
    let etcd: EtcdProcess;
    let pki: TestPki;
    before(async () => {
      pki = makePki();
      etcd = await startEtcd({ tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } });
    });
    after(async () => {
      await etcd?.stop();
      if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
    });

    test("--cacert, --cert and --key", () => {
      const good = { ETCDCTL_ENDPOINTS: etcd.clientUrl, ETCDCTL_CACERT: pki.caFile, ETCDCTL_CERT: pki.clientCertFile, ETCDCTL_KEY: pki.clientKeyFile };
      assert.deepEqual(run(["put", "k", "v"], good), { code: 0, stdout: "OK\n", stderr: "" });
      const bad = { ...good, ETCDCTL_CACERT: "/nonexistent/ca.pem", ETCDCTL_CERT: "/nonexistent/cert.pem", ETCDCTL_KEY: "/nonexistent/key.pem" };
      assert.equal(run(["get", "k"], bad).stderr, "Error: open /nonexistent/cert.pem: no such file or directory\n");
      const flags = [`--cacert=${pki.caFile}`, `--cert=${pki.clientCertFile}`, `--key=${pki.clientKeyFile}`];
      assert.deepEqual(run([...flags, "get", "k"], bad), { code: 0, stdout: "k\nv\n", stderr: "" });
    });
  });
});
