/**
 * cairnctl doctor: its rules on hand-made facts (every threshold on both sides), the /metrics
 * histogram math against a hand-computed quantile, and one run against a real etcd.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import {
  backendCommitP99LimitMs,
  checkCluster,
  checkEndpoint,
  formatFindings,
  walFsyncP99LimitMs,
  type EndpointFacts,
} from "../../src/ctl/doctor/checks.js";
import { gauge, histogramQuantile, parseMetrics } from "../../src/ctl/doctor/metrics.js";
import { skipWithoutEtcd, startEtcd } from "../client/etcd.js";
import { haveOpenssl, makePki } from "../client/tls.js";
import { rmSync } from "node:fs";

const healthy: EndpointFacts = {
  endpoint: "127.0.0.1:2379",
  status: {
    memberId: 1n,
    leader: 1n,
    raftTerm: 2n,
    raftIndex: 10n,
    raftAppliedIndex: 10n,
    dbSizeBytes: 20_000n,
    dbSizeInUseBytes: 16_000n,
    version: "3.4.23",
    errors: [],
  },
  alarms: [],
  walFsyncP99Ms: 1,
  backendCommitP99Ms: 2,
  quotaBytes: 2_147_483_648,
  serverCertDaysLeft: 300,
};

const severities = (facts: EndpointFacts) => Object.fromEntries(checkEndpoint(facts).map((f) => [f.check, f.severity]));

test("a healthy endpoint has only OK findings", () => {
  assert.ok(checkEndpoint(healthy).every((f) => f.severity === "OK" && f.action === ""));
});

test("each rule fires on its side of the threshold", () => {
  assert.equal(severities({ ...healthy, healthError: "context deadline exceeded" }).health, "FAIL");
  assert.equal(severities({ ...healthy, status: { ...healthy.status!, leader: 0n } }).leader, "FAIL");
  assert.equal(severities({ ...healthy, alarms: ["NOSPACE"] }).alarm, "FAIL");
  assert.equal(severities({ ...healthy, walFsyncP99Ms: walFsyncP99LimitMs })["wal fsync p99"], "WARN");
  assert.equal(severities({ ...healthy, walFsyncP99Ms: walFsyncP99LimitMs - 0.1 })["wal fsync p99"], "OK");
  assert.equal(severities({ ...healthy, backendCommitP99Ms: backendCommitP99LimitMs })["backend commit p99"], "WARN");
  assert.equal(severities({ ...healthy, status: { ...healthy.status!, dbSizeBytes: 1_800_000_000n } })["db size"], "WARN");
  assert.equal(severities({ ...healthy, serverCertDaysLeft: 3 })["server certificate"], "WARN");
  assert.equal(severities({ ...healthy, serverCertDaysLeft: -1 })["server certificate"], "FAIL");
  assert.equal(severities({ ...healthy, metricsError: "ECONNREFUSED" }).metrics, "WARN");
  const noAlarm = checkEndpoint({ ...healthy, alarms: ["CORRUPT"] }).find((f) => f.check === "alarm");
  assert.match(noAlarm!.action, /restore/);
});

test("cluster rules: leader agreement and raft index spread", () => {
  const other = { ...healthy, status: { ...healthy.status!, memberId: 2n, raftIndex: 5000n } };
  const findings = checkCluster([healthy, other]);
  assert.equal(findings.find((f) => f.check === "raft index spread")?.severity, "WARN");
  const split = checkCluster([healthy, { ...other, status: { ...other.status, leader: 2n, raftIndex: 10n } }]);
  assert.equal(split.find((f) => f.check === "leader agreement")?.severity, "FAIL");
  assert.deepEqual(checkCluster([healthy]), []);
  assert.match(formatFindings([{ title: "x", findings: split }]), /summary: 1 problem\(s\), 0 warning\(s\)/);
});

test("histogram quantile interpolates inside the bucket", () => {
  const text = [
    "# HELP etcd_disk_wal_fsync_duration_seconds x",
    'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 50',
    'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 90',
    'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"} 100',
    'etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 100',
    "etcd_server_quota_backend_bytes 2.147483648e+09",
  ].join("\n");
  const samples = parseMetrics(text);
  // rank 99 falls in (0.002, 0.004] holding 10 observations: 0.002 + 0.002 * 9/10.
  assert.ok(Math.abs(histogramQuantile(samples, "etcd_disk_wal_fsync_duration_seconds", 0.99)! - 0.0038) < 1e-12);
  assert.equal(histogramQuantile(samples, "missing", 0.99), undefined);
  assert.equal(gauge(samples, "etcd_server_quota_backend_bytes"), 2147483648);
});

test("doctor against real etcd reports every check", { skip: skipWithoutEtcd() }, async () => {
  const etcd = await startEtcd();
  try {
    // Like etcdctl, cairnctl refuses a flag that an ETCDCTL_* variable also sets, so drop them.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCDCTL_")));
    const result = spawnSync(resolve("bin/cairnctl"), [`--endpoints=${etcd.endpoint}`, "doctor"], { encoding: "utf8", env });
    assert.equal(result.stderr, "");
    for (const check of ["health", "leader", "db size", "alarms", "wal fsync p99", "backend commit p99"]) {
      assert.match(result.stdout, new RegExp(`  (OK|WARN)\\s+${check}: `), `missing ${check} in:\n${result.stdout}`);
    }
    assert.match(result.stdout, /alarms: none/);
    assert.equal(result.status, 0);
  } finally {
    await etcd.stop();
  }
});

test("doctor over TLS reports the serving certificate's expiry", { skip: skipWithoutEtcd() || (haveOpenssl() ? false : "openssl not found") }, async () => {
  const pki = makePki();
  const etcd = await startEtcd({ tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } });
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCDCTL_")));
    const tlsFlags = [`--cacert=${pki.caFile}`, `--cert=${pki.clientCertFile}`, `--key=${pki.clientKeyFile}`];
    const result = spawnSync(resolve("bin/cairnctl"), [`--endpoints=${etcd.clientUrl}`, ...tlsFlags, "doctor"], { encoding: "utf8", env });
    assert.equal(result.stderr, "");
    // makePki() issues certificates valid for one day: below the 30-day warning threshold.
    assert.match(result.stdout, /  WARN\s+server certificate: expires in [01] days\n\s+action: renew/);
    // /metrics is read over the same TLS settings: the latency checks have numbers, not errors.
    assert.match(result.stdout, /  (OK|WARN)\s+wal fsync p99: \d/);
    assert.equal(result.status, 0);
  } finally {
    await etcd.stop();
    rmSync(pki.dir, { recursive: true, force: true });
  }
});
