/**
 * A small Prometheus registry and the server's metrics, named as etcd 3.4 names them so that
 * dashboards and alerts written for etcd work unchanged. Rendered in the Prometheus text format
 * (version 0.0.4) by `render()`.
 */

type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra !== undefined) pairs.push(extra);
  if (pairs.length === 0) return "";
  return "{" + pairs.map(([k, v]) => `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`).join(",") + "}";
}

/** Formats a sample value as Go's strconv.FormatFloat(v, 'g', -1, 64) does for typical values. */
function num(value: number): string {
  if (value === Infinity) return "+Inf";
  if (Number.isInteger(value) && Math.abs(value) < 1e21) {
    return Math.abs(value) >= 1e6 ? value.toExponential().replace(/e\+?(-?)(\d)$/, "e+$10$2").replace("e+-", "e-") : String(value);
  }
  return String(value);
}

/** A monotonically increasing count. */
export class Counter implements Metric {
  readonly type = "counter";
  private value = 0;
  constructor(readonly name: string, readonly help: string, private readonly labels: Labels = {}) {}
  inc(by = 1): void {
    this.value += by;
  }
  get(): number {
    return this.value;
  }
  lines(): string[] {
    return [`${this.name}${labelText(this.labels)} ${num(this.value)}`];
  }
}

/** A value that goes up and down; `sample` (if given) is read at render time. */
export class Gauge implements Metric {
  readonly type = "gauge";
  private value = 0;
  constructor(readonly name: string, readonly help: string, private readonly sample?: () => number, private readonly labels: Labels = {}) {}
  set(value: number): void {
    this.value = value;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
  get(): number {
    return this.sample !== undefined ? this.sample() : this.value;
  }
  lines(): string[] {
    return [`${this.name}${labelText(this.labels)} ${num(this.get())}`];
  }
}

/** A histogram with fixed upper bounds, as prometheus.Histogram. */
export class Histogram implements Metric {
  readonly type = "histogram";
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]!) this.counts[i]!++;
  }
  getCount(): number {
    return this.count;
  }
  lines(): string[] {
    const out = this.bounds.map((bound, i) => `${this.name}_bucket${labelText({}, ["le", num(bound)])} ${this.counts[i]}`);
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${num(this.sum)}`, `${this.name}_count ${this.count}`);
    return out;
  }
}

/** prometheus.ExponentialBuckets. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(v);
  return out;
}

/** Holds metrics and renders them sorted by name, as the Go client does. */
export class Registry {
  private readonly metrics = new Map<string, Metric[]>();
  register<M extends Metric>(metric: M): M {
    const list = this.metrics.get(metric.name) ?? [];
    list.push(metric);
    this.metrics.set(metric.name, list);
    return metric;
  }
  render(): string {
    const out: string[] = [];
    for (const name of [...this.metrics.keys()].sort()) {
      const list = this.metrics.get(name)!;
      out.push(`# HELP ${name} ${list[0]!.help}`, `# TYPE ${name} ${list[0]!.type}`);
      for (const metric of list) out.push(...metric.lines());
    }
    return out.join("\n") + "\n";
  }
}

/** The metrics the server updates, with etcd's names. Gauges that mirror state are sampled. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly hasLeader: Gauge;
  readonly isLeader: Gauge;
  readonly leaderChanges = this.registry.register(new Counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen."));
  readonly proposalsCommitted: Gauge;
  readonly proposalsApplied: Gauge;
  readonly proposalsPending = this.registry.register(new Gauge("etcd_server_proposals_pending", "The current number of pending proposals to commit."));
  readonly proposalsFailed = this.registry.register(new Counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen."));
  readonly slowApplies = this.registry.register(new Counter("etcd_server_slow_apply_total", "The total number of slow apply requests (likely overloaded from slow disk)."));
  readonly slowReadIndex = this.registry.register(new Counter("etcd_server_slow_read_indexes_total", "The total number of pending read indexes not in sync with leader's or timed out read index requests."));
  readonly readIndexFailed = this.registry.register(new Counter("etcd_server_read_indexes_failed_total", "The total number of failed read indexes seen."));
  readonly healthSuccess = this.registry.register(new Counter("etcd_server_health_success", "The total number of successful health checks"));
  readonly healthFailures = this.registry.register(new Counter("etcd_server_health_failures", "The total number of failed health checks"));
  readonly walFsyncSeconds = this.registry.register(new Histogram("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.", exponentialBuckets(0.001, 2, 14)));
  readonly backendCommitSeconds = this.registry.register(new Histogram("etcd_disk_backend_commit_duration_seconds", "The latency distributions of commit called by backend.", exponentialBuckets(0.001, 2, 14)));
  readonly walWriteBytes = this.registry.register(new Gauge("etcd_disk_wal_write_bytes_total", "Total number of bytes written in WAL."));
  readonly putTotal = this.registry.register(new Counter("etcd_mvcc_put_total", "Total number of puts seen by this member."));
  readonly deleteTotal = this.registry.register(new Counter("etcd_mvcc_delete_total", "Total number of deletes seen by this member."));
  readonly rangeTotal = this.registry.register(new Counter("etcd_mvcc_range_total", "Total number of ranges seen by this member."));
  readonly txnTotal = this.registry.register(new Counter("etcd_mvcc_txn_total", "Total number of txns seen by this member."));

  constructor(sample: {
    hasLeader: () => boolean;
    isLeader: () => boolean;
    committedIndex: () => number;
    appliedIndex: () => number;
    dbTotalSizeBytes: () => number;
    dbInUseBytes: () => number;
    keysTotal: () => number;
    currentRevision: () => number;
    compactRevision: () => number;
    quotaBytes: number;
    version: string;
    memberIdHex: string;
  }) {
    const r = this.registry;
    this.hasLeader = r.register(new Gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", () => (sample.hasLeader() ? 1 : 0)));
    this.isLeader = r.register(new Gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", () => (sample.isLeader() ? 1 : 0)));
    this.proposalsCommitted = r.register(new Gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.", sample.committedIndex));
    this.proposalsApplied = r.register(new Gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", sample.appliedIndex));
    r.register(new Gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.", () => sample.quotaBytes));
    r.register(new Gauge("etcd_server_version", "Which version is running. 1 for 'server_version' label with current version.", () => 1, { server_version: sample.version }));
    r.register(new Gauge("etcd_server_id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.", () => 1, { server_id: sample.memberIdHex }));
    r.register(new Gauge("etcd_cluster_version", "Which version is running. 1 for 'cluster_version' label with current cluster version", () => 1, { cluster_version: "3.4" }));
    r.register(new Gauge("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", sample.dbTotalSizeBytes));
    r.register(new Gauge("etcd_mvcc_db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.", sample.dbInUseBytes));
    r.register(new Gauge("etcd_debugging_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", sample.dbTotalSizeBytes));
    r.register(new Gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.", sample.keysTotal));
    r.register(new Gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.", sample.currentRevision));
    r.register(new Gauge("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.", sample.compactRevision));
    r.register(new Gauge("etcd_debugging_server_committed_index", "The current committed raft index.", sample.committedIndex));
  }
}
