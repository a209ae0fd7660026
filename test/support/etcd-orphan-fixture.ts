/**
 * Fixture for etcd-cleanup.test.ts (mode and security from CAIRN_FIXTURE_MODE and
 * CAIRN_FIXTURE_SECURITY, since the test runner takes arguments as files): starts an etcd through the test helpers, prints its data
 * directory as one JSON line, waits for the file CAIRN_FIXTURE_GO (so the test can first see etcd
 * running),
 * then ends the way the mode says without stopping etcd:
 *   throw         an uncaught error
 *   failing-test  a node:test test that fails
 *   wait          nothing; the test kills this process (SIGTERM or SIGKILL)
 * With security "tls" the etcd serves TLS with client certificates, as the ctl TLS cases do.
 */
import { existsSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";
import { startEtcd } from "../client/etcd.js";
import { makePki } from "../client/tls.js";

const mode = process.env.CAIRN_FIXTURE_MODE;
const security = process.env.CAIRN_FIXTURE_SECURITY;

async function start(): Promise<void> {
  const pki = security === "tls" ? makePki() : undefined;
  const etcd = await startEtcd(pki === undefined ? {} : { tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } });
  process.stdout.write(`${JSON.stringify({ dataDir: etcd.dataDir })}\n`);
  // The go-ahead is a file, since the test runner gives a test file no stdin.
  while (!existsSync(process.env.CAIRN_FIXTURE_GO!)) await new Promise((resolve) => setTimeout(resolve, 20));
}

if (mode === "failing-test") {
  test("a case that fails and never stops its etcd", async () => {
    await start();
    assert.fail("deliberate failure");
  });
} else if (mode === "throw") {
  await start();
  throw new Error("deliberate uncaught error");
} else {
  await start();
  setInterval(() => undefined, 1000);
}
