/**
 * Normalizations for comparing etcdctl's and cairnctl's output: the differential suite's named
 * normalizers (named in case files), shared with the fuzzer and the Cairn transcript test.
 */

/** Normalizations every comparison gets: wall-clock stamps, clientv3's random client id, our name. */
export function baseNormalize(text: string): string {
  return text
    .replace(/"ts":"[^"]*"/g, '"ts":"<ts>"')
    .replace(/"ts":[0-9.]+/g, '"ts":<ts>')
    .replace(/endpoint:\/\/client-[0-9a-f-]{36}\//g, "endpoint://client-<uuid>/")
    .replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} /gm, "<time> ")
    .replace(/\bcairnctl\b/g, "etcdctl");
}

export const goDuration = /\b\d+(?:\.\d+)?(?:ns|µs|\u00c2\u00b5s|ms|s|m|h)\b/g;

/** Opt-in normalizations, named in case files. */
export const normalizers: Record<string, (text: string) => string> = {
  /** Round-trip times of endpoint health and check perf. */
  took: (t) => t.replace(/took = \S+/g, "took = <dur>").replace(/"took":"[^"]*"/g, '"took":"<dur>"').replace(/"took":[0-9.e-]+/g, '"took":<dur>').replace(/"Took" : \S+/g, '"Took" : <dur>'),
  /** Durations in tables: durations replaced, then padding collapsed since widths follow them. */
  "table-took": (t) => t.replace(goDuration, "<dur>").replace(/-+/g, "-").replace(/ +/g, " "),
  /** Column widths in tables, for tables whose widths follow a random id or a timing. */
  "table-width": (t) => t.replace(/-+/g, "-").replace(/ +/g, " "),
  /** Lease ids are chosen by the server from its clock; printed as hex without leading zeros, so 12–16 digits. */
  "lease-id": (t) =>
    t
      .replace(/\b[0-9a-f]{12,16}\b/g, "<hexid>")
      .replace(/"(ID|id|lease)":\d+/g, '"$1":<id>')
      .replace(/"ID" : \d+/g, '"ID" : <id>')
      .replace(/\/[0-9a-f]{12,16}\b/g, "/<hexid>"),
  /** Remaining lease time depends on when the call lands relative to the grant. */
  ttl: (t) => t.replace(/remaining\(\d+s\)/g, "remaining(<n>s)").replace(/"(ttl|TTL)":\d+/g, '"$1":<n>').replace(/"TTL" : \d+/g, '"TTL" : <n>').replace(/TTL\(\d+\)/g, "TTL(<n>)"),
  /** cheggaaa/pb progress bars redraw with carriage returns on their own clock. */
  progress: (t) => t.replace(/\r[^\n]*\n/g, "<progress>\n"),
  /** Resident memory measured by check datascale: a difference of two RSS samples, so it can be negative. */
  memory: (t) => t.replace(/memory used : -?[0-9.]+ MB/g, "memory used : <n> MB"),
  /** Member lists come in member-id order, and added members get random ids. */
  "member-order": (t) =>
    t
      .replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/g, (_m, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(",").sort().join(",")}"`)
      .split("\n")
      .sort()
      .join("\n"),
  /** Member ids of members added at run time are random; printed in hex without leading zeros. */
  "member-id": (t) => t.replace(/(Member|cluster) +[0-9a-f]{12,16}\b/g, "$1 <hexid>").replace(/\b[0-9a-f]{12,16}\b/g, "<hexid>").replace(/"ID":\d+/g, '"ID":<id>'),
  /** Database sizes move with timing of background commits. */
  "db-size": (t) =>
    t
      .replace(/\d+(\.\d+)? kB/g, "<size>")
      .replace(/"dbSize(InUse)?":\d+/g, '"dbSize$1":<n>')
      .replace(/"totalSize":\d+/g, '"totalSize":<n>')
      .replace(/"(Size|DBSize)" : \d+/g, '"$1" : <n>'),
  /**
   * A Go panic and its goroutine dump: which goroutine panics first can race (etcdctl's offline
   * defrag panics in one goroutine while another dereferences nil), so only its start is compared.
   */
  "go-panic": (t) => t.replace(/^panic: [\s\S]*$/m, "panic: <go panic and goroutine dump>\n"),
  /**
   * Completion scripts name shell functions and variables after the program (`__start_cairnctl`,
   * `CAIRNCTL_ACTIVE_HELP`), where the word-bounded base rule does not reach.
   */
  "prog-name": (t) => t.replace(/cairnctl/g, "etcdctl").replace(/CAIRNCTL/g, "ETCDCTL"),
  /** Raft indexes move with internal requests (e.g. lease checkpoints). */
  "raft-index": (t) => t.replace(/"raft(Applied)?Index":\d+/g, '"raft$1Index":<n>'),
};

export function normalize(text: string, names: readonly string[]): string {
  let result = baseNormalize(text);
  for (const name of names) {
    const fn = normalizers[name];
    if (fn === undefined) throw new Error(`unknown normalizer ${name}`);
    result = fn(result);
  }
  return result;
}
