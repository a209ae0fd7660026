/**
 * The cairn process as an operator sees it: flag errors next to etcd's, --version/--help, /metrics
 * with etcd's metric names on the client URL and on --listen-metrics-urls, and a clean exit on
 * SIGTERM that keeps the data.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { etcdctl, freePort, hasCommand, startMember } from "./harness.js";

const CAIRN = resolve(import.meta.dirname, "../../../bin/cairn");

test("unknown and malformed flags fail like etcd's", (t) => {
  const cases = [["--bogus"], ["--snapshot-count=abc"], ["--name"], ["--initial-cluster-state=foo"]];
  for (const args of cases) {
    const cairn = spawnSync(CAIRN, args, { encoding: "utf8" });
    assert.equal(cairn.status, 2, `cairn ${args.join(" ")}`);
    if (!hasCommand("etcd")) continue;
    const etcd = spawnSync("etcd", args, { encoding: "utf8" });
    assert.equal(cairn.status, etcd.status);
    assert.equal(cairn.stderr.split("\n")[0], etcd.stderr.split("\n")[0]);
  }
  const semantic = spawnSync(CAIRN, ["--listen-client-urls", "http://127.0.0.1:1"], { encoding: "utf8" });
  assert.equal(semantic.status, 1);
  assert.match(semantic.stderr, /error verifying flags, --advertise-client-urls is required when --listen-client-urls is set explicitly/);
  const version = spawnSync(CAIRN, ["--version"], { encoding: "utf8" });
  assert.equal(version.status, 0);
  assert.match(version.stdout, /etcd API Version: 3\.4\.23/);
  const help = spawnSync(CAIRN, ["--help"], { encoding: "utf8" });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--quota-backend-bytes '0'/);
  if (!hasCommand("etcd")) t.diagnostic("etcd absent: compared cairn's exit codes only");
});

const REQUIRED_METRICS = [
  "etcd_server_has_leader 1",
  "etcd_server_leader_changes_seen_total",
  "etcd_server_proposals_committed_total",
  "etcd_server_proposals_applied_total",
  "etcd_server_proposals_pending",
  "etcd_server_proposals_failed_total",
  "etcd_mvcc_db_total_size_in_bytes",
  "etcd_disk_wal_fsync_duration_seconds_bucket",
  "etcd_disk_backend_commit_duration_seconds_bucket",
  "etcd_debugging_mvcc_keys_total",
];

test("/metrics on the client URL and on --listen-metrics-urls; SIGTERM exits cleanly and keeps data", { timeout: 60_000 }, async () => {
  const metricsPort = await freePort();
  const member = await startMember("cairn", { flags: ["--listen-metrics-urls", `http://127.0.0.1:${metricsPort}`] });
  try {
    const put = await fetch(`${member.url}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: "bQ==", value: "dg==" }) });
    assert.equal(put.status, 200);
    // The backend commits applied entries in batches (--backend-batch-interval, 100 ms as etcd):
    // wait for the batch holding the put before reading the commit histogram.
    for (let i = 0; i < 100 && /^etcd_disk_backend_commit_duration_seconds_count 0$/m.test(await (await fetch(`${member.url}/metrics`)).text()); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const base of [member.url, `http://127.0.0.1:${metricsPort}`]) {
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      for (const name of REQUIRED_METRICS) assert.ok(text.includes(name), `${base}/metrics lacks ${name}`);
      assert.match(text, /^etcd_debugging_mvcc_keys_total 1$/m);
      assert.match(text, /^# TYPE etcd_disk_wal_fsync_duration_seconds histogram$/m);
      // Both histograms have observations: the put went through the WAL and a backend commit.
      assert.doesNotMatch(text, /^etcd_disk_wal_fsync_duration_seconds_count 0$/m);
      assert.doesNotMatch(text, /^etcd_disk_backend_commit_duration_seconds_count 0$/m);
      assert.match(text, /^etcd_server_proposals_applied_total [1-9]/m);
    }
    const health = await fetch(`http://127.0.0.1:${metricsPort}/health`);
    assert.equal(await health.text(), '{"health":"true"}');
    const code = await member.kill("SIGTERM");
    assert.equal(code, 0);
    const again = await startMember("cairn", { dataDir: member.dataDir, clientPort: member.clientPort, peerPort: member.peerPort });
    try {
      if (hasCommand("etcdctl")) {
        const get = await etcdctl(again.endpoint, ["get", "m", "--print-value-only"]);
        assert.equal(get.stdout, "v\n");
      } else {
        const res = await fetch(`${again.url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "bQ==" }) });
        assert.match(await res.text(), /"value":"dg=="/);
      }
    } finally {
      await again.kill();
    }
  } finally {
    await member.stop();
  }
});

test("--wal-dir keeps the WAL apart; a SIGKILLed member restarts from it with the same identity", { timeout: 60_000 }, async () => {
  const { mkdtempSync, readdirSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const walDir = mkdtempSync(join(tmpdir(), "cairn-waldir-"));
  const member = await startMember("cairn", { flags: ["--wal-dir", walDir] });
  try {
    const put = await fetch(`${member.url}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: "dw==", value: "MQ==" }) });
    const header = (await put.json()) as { header: { member_id: string; cluster_id: string } };
    assert.ok(readdirSync(walDir).some((name) => name.endsWith(".wal")), "no WAL segment in --wal-dir");
    await member.kill("SIGKILL");
    const again = await startMember("cairn", { dataDir: member.dataDir, clientPort: member.clientPort, peerPort: member.peerPort, flags: ["--wal-dir", walDir] });
    try {
      const res = await fetch(`${again.url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "dw==" }) });
      const body = (await res.json()) as { header: { member_id: string; cluster_id: string }; kvs: Array<{ value: string }> };
      assert.equal(body.kvs[0]?.value, "MQ==");
      assert.equal(body.header.member_id, header.header.member_id);
      assert.equal(body.header.cluster_id, header.header.cluster_id);
    } finally {
      await again.kill();
    }
  } finally {
    await member.stop();
    rmSync(walDir, { recursive: true, force: true });
  }
});
