/**
 * `cairnctl doctor`'s judgement: turns facts gathered from each endpoint into findings, each with
 * a severity and the action an operator should take. Pure functions, so every rule is unit-tested.
 */

export type Severity = "OK" | "WARN" | "FAIL";

export interface Finding {
  readonly severity: Severity;
  /** Short subject, e.g. "wal fsync p99". */
  readonly check: string;
  readonly detail: string;
  /** What to do; empty for OK findings. */
  readonly action: string;
}

/** What doctor learned about one endpoint; absent fields could not be measured. */
export interface EndpointFacts {
  readonly endpoint: string;
  /** Error text when the endpoint could not serve a read through raft. */
  readonly healthError?: string;
  readonly status?: {
    readonly memberId: bigint;
    readonly leader: bigint;
    readonly raftTerm: bigint;
    readonly raftIndex: bigint;
    readonly raftAppliedIndex: bigint;
    readonly dbSizeBytes: bigint;
    readonly dbSizeInUseBytes: bigint;
    readonly version: string;
    readonly errors: readonly string[];
  };
  /** Alarm names raised anywhere in the cluster, as this endpoint reports them. */
  readonly alarms?: readonly string[];
  readonly walFsyncP99Ms?: number;
  readonly backendCommitP99Ms?: number;
  /** etcd_server_quota_backend_bytes. */
  readonly quotaBytes?: number;
  /** Why /metrics could not be read, if it could not. */
  readonly metricsError?: string;
  /** Days until the server certificate presented on this endpoint expires (TLS only). */
  readonly serverCertDaysLeft?: number;
}

/** etcd's hardware guidance: WAL fsync p99 under 10 ms, backend commit p99 under 25 ms. */
export const walFsyncP99LimitMs = 10;
export const backendCommitP99LimitMs = 25;
/** Share of the quota at which doctor warns, before the NOSPACE alarm stops writes. */
export const quotaWarnRatio = 0.8;
/** Raft index gap between members above which a member is considered lagging. */
export const raftIndexSpreadLimit = 1000n;
/** Days of certificate validity left below which doctor warns. */
export const certWarnDays = 30;

const ok = (check: string, detail: string): Finding => ({ severity: "OK", check, detail, action: "" });
const warn = (check: string, detail: string, action: string): Finding => ({ severity: "WARN", check, detail, action });
const fail = (check: string, detail: string, action: string): Finding => ({ severity: "FAIL", check, detail, action });

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Findings for one endpoint. */
export function checkEndpoint(facts: EndpointFacts): Finding[] {
  const findings: Finding[] = [];
  if (facts.healthError !== undefined) {
    findings.push(fail("health", `cannot read through raft: ${facts.healthError}`, "check that the member runs and has a leader (etcd logs, network between members); restart it if it is stuck"));
  } else findings.push(ok("health", "serves linearizable reads"));
  const status = facts.status;
  if (status !== undefined) {
    if (status.leader === 0n) findings.push(fail("leader", "member sees no leader", "check connectivity between members and that a quorum is running"));
    else findings.push(ok("leader", `${status.leader.toString(16)}${status.leader === status.memberId ? " (this member)" : ""}, raft term ${status.raftTerm}`));
    if (status.raftIndex - status.raftAppliedIndex > raftIndexSpreadLimit) {
      findings.push(warn("apply backlog", `${status.raftIndex - status.raftAppliedIndex} committed entries not yet applied`, "the member applies slower than it commits: check disk latency and expensive requests (large ranges, big txns)"));
    }
    for (const error of status.errors) findings.push(fail("member error", error, "read the member's log for this error and resolve it"));
    if (facts.quotaBytes !== undefined && facts.quotaBytes > 0) {
      const ratio = Number(status.dbSizeBytes) / facts.quotaBytes;
      const detail = `${megabytes(Number(status.dbSizeBytes))} of ${megabytes(facts.quotaBytes)} quota (${(ratio * 100).toFixed(1)}%), ${megabytes(Number(status.dbSizeInUseBytes))} in use`;
      if (ratio >= quotaWarnRatio) {
        findings.push(warn("db size", detail, "compact old revisions (cairnctl compaction <rev>), then defragment one member at a time (cairnctl defrag), or raise --quota-backend-bytes"));
      } else findings.push(ok("db size", detail));
    } else {
      findings.push(ok("db size", `${megabytes(Number(status.dbSizeBytes))} (${megabytes(Number(status.dbSizeInUseBytes))} in use); quota unknown`));
    }
  }
  if (facts.alarms !== undefined) {
    if (facts.alarms.length === 0) findings.push(ok("alarms", "none"));
    for (const alarm of facts.alarms) {
      const action =
        alarm === "NOSPACE"
          ? "writes are refused: compact, defragment every member, then cairnctl alarm disarm"
          : alarm === "CORRUPT"
            ? "members disagree on data: stop the corrupt member, restore it from a snapshot of a healthy one"
            : "investigate the alarm in the member logs, then cairnctl alarm disarm";
      findings.push(fail("alarm", alarm, action));
    }
  }
  if (facts.metricsError !== undefined) findings.push(warn("metrics", `cannot read /metrics: ${facts.metricsError}`, "expose the client URL's /metrics (or --listen-metrics-urls) to this host to check disk latency"));
  findings.push(...latencyFinding("wal fsync p99", facts.walFsyncP99Ms, walFsyncP99LimitMs, "WAL fsyncs are slow: put the data dir (or --wal-dir) on a dedicated SSD and avoid noisy neighbours"));
  findings.push(...latencyFinding("backend commit p99", facts.backendCommitP99Ms, backendCommitP99LimitMs, "backend commits are slow: use faster disks, defragment a large db, and check for I/O contention"));
  if (facts.serverCertDaysLeft !== undefined) {
    const days = Math.floor(facts.serverCertDaysLeft);
    if (days < 0) findings.push(fail("server certificate", `expired ${-days} days ago`, "renew the member's serving certificate and restart it"));
    else if (days < certWarnDays) findings.push(warn("server certificate", `expires in ${days} days`, "renew the member's serving certificate before it expires (kubeadm: kubeadm certs renew etcd-server)"));
    else findings.push(ok("server certificate", `expires in ${days} days`));
  }
  return findings;
}

function latencyFinding(check: string, p99Ms: number | undefined, limitMs: number, action: string): Finding[] {
  if (p99Ms === undefined) return [];
  const detail = `${p99Ms.toFixed(1)} ms (guidance: below ${limitMs} ms)`;
  return [p99Ms >= limitMs ? warn(check, detail, action) : ok(check, detail)];
}

/** Findings across endpoints: leader agreement and raft index spread. */
export function checkCluster(all: readonly EndpointFacts[]): Finding[] {
  const statuses = all.flatMap((f) => (f.status === undefined ? [] : [f.status]));
  if (statuses.length < 2) return [];
  const findings: Finding[] = [];
  const leaders = new Set(statuses.map((s) => s.leader).filter((l) => l !== 0n));
  if (leaders.size > 1) {
    findings.push(fail("leader agreement", `members report different leaders: ${[...leaders].map((l) => l.toString(16)).join(", ")}`, "a partition is likely: check the network between members"));
  } else findings.push(ok("leader agreement", "all reachable members report the same leader"));
  const indexes = statuses.map((s) => s.raftIndex);
  const spread = indexes.reduce((a, b) => (a > b ? a : b)) - indexes.reduce((a, b) => (a < b ? a : b));
  if (spread > raftIndexSpreadLimit) {
    findings.push(warn("raft index spread", `${spread} entries between the most and least advanced member`, "a member is lagging: check its disk and network; if it never catches up, remove and re-add it"));
  } else findings.push(ok("raft index spread", `${spread}`));
  return findings;
}

/** The text report: one line per finding, actions indented under problems. */
export function formatFindings(sections: readonly { title: string; findings: readonly Finding[] }[]): string {
  let text = "";
  for (const section of sections) {
    text += `${section.title}\n`;
    for (const f of section.findings) {
      text += `  ${f.severity.padEnd(4)}  ${f.check}: ${f.detail}\n`;
      if (f.action !== "") text += `        action: ${f.action}\n`;
    }
  }
  const all = sections.flatMap((s) => s.findings);
  const failures = all.filter((f) => f.severity === "FAIL").length;
  const warnings = all.filter((f) => f.severity === "WARN").length;
  return `${text}summary: ${failures} problem(s), ${warnings} warning(s)\n`;
}
