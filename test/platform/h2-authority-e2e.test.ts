/**
 * Real etcdctl 3.4 with an endpoint written as a URL (`--endpoints=http://127.0.0.1:PORT`) against a
 * spawned cairn: grpc-go then sends `:authority: http://127.0.0.1:PORT`, which Node's HTTP/2 server
 * refuses unless the listener repairs it. Skipped without etcdctl, mandatory when CI=true.
 */
import test, { type TestContext } from "node:test";
import assert from "node:assert/strict";
import { etcdctl, hasCommand, startMember, type CtlResult, type Member } from "../e2e/harness.js";

function requireEtcdctl(t: TestContext): boolean {
  if (hasCommand("etcdctl")) return true;
  const reason = "etcdctl 3.4 not installed (apt-get install -y etcd-client)";
  if (process.env["CI"] === "true") throw new Error(`${reason}; mandatory when CI=true`);
  t.skip(reason);
  return false;
}

function assertOk(result: CtlResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed: ${result.stderr}${result.stdout}`);
  assert.doesNotMatch(result.stderr, /PROTOCOL_ERROR/, what);
}

test("etcdctl with http:// endpoints works against cairn", async (t) => {
  if (!requireEtcdctl(t)) return;
  let member: Member | undefined;
  try {
    member = await startMember("cairn");
    const url = member.url;

    const status = await etcdctl(url, ["-w", "json", "endpoint", "status"]);
    assertOk(status, "endpoint status");
    const parsed = JSON.parse(status.stdout) as { Endpoint: string; Status: { version: string; header: { member_id: number } } }[];
    assert.equal(parsed[0]?.Endpoint, url);
    assert.equal(parsed[0]?.Status.version, "3.4.23");

    const health = await etcdctl(url, ["endpoint", "health"]);
    assertOk(health, "endpoint health");
    assert.match(health.stdout + health.stderr, new RegExp(`${url.replace(/[.]/g, "\\.")} is healthy`));

    assertOk(await etcdctl(url, ["put", "authority-key", "authority-value"]), "put");
    const get = await etcdctl(url, ["get", "authority-key"]);
    assertOk(get, "get");
    assert.equal(get.stdout, "authority-key\nauthority-value\n");

    const hashkv = await etcdctl(url, ["-w", "json", "endpoint", "hashkv"]);
    assertOk(hashkv, "endpoint hashkv");
    const hashes = JSON.parse(hashkv.stdout) as { Endpoint: string; HashKV: { hash: number } }[];
    assert.equal(hashes[0]?.Endpoint, url);
    assert.equal(typeof hashes[0]?.HashKV.hash, "number");

    // One client per endpoint, each with its own connection and URL authority.
    const two = await etcdctl(`${url},${url}`, ["endpoint", "status"]);
    assertOk(two, "endpoint status on two endpoints");
    assert.equal(two.stdout.trim().split("\n").length, 2);
  } finally {
    await member?.stop();
  }
});
