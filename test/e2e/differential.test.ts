/**
 * Differential test: the same etcdctl commands and HTTP/gRPC calls against real etcd 3.4.23 and
 * against cairn, started side by side; outputs must be identical after normalizing IDs, ports,
 * terms, indexes, sizes and timings. `CAIRN_E2E_SUBJECT=etcd` runs etcd against etcd, which checks
 * that the normalization hides nothing else.
 */
import test, { type TestContext } from "node:test";
import assert from "node:assert/strict";
import { etcdctl, requireEtcd, startMember, type Member } from "./harness.js";
import { errorLines, normalize, normalizeStatusSimple, type Identity } from "./normalize.js";

/** One step: etcdctl arguments (and optional stdin), or an HTTP call. */
type Step = { ctl: string[]; input?: string; status?: boolean; table?: boolean } | { http: string; method?: string; body?: unknown; ignoreHash?: boolean };

const kvSteps: Step[] = [
  { ctl: ["put", "foo", "bar"] },
  { ctl: ["put", "foo", "bar2", "--prev-kv"] },
  { ctl: ["put", "foo", "bar3", "--prev-kv", "-w", "json"] },
  { ctl: ["get", "foo"] },
  { ctl: ["get", "foo", "-w", "json"] },
  { ctl: ["get", "foo", "-w", "fields"] },
  { ctl: ["put", "a", "1"] },
  { ctl: ["put", "b", "2"] },
  { ctl: ["put", "c", "3"] },
  { ctl: ["put", "c", "33"] },
  { ctl: ["put", "d", "4"] },
  { ctl: ["put", "e", "5"] },
  { ctl: ["put", "e", "5", "-w", "fields"] },
  { ctl: ["get", "a", "d"] },
  { ctl: ["get", "a", "--prefix"] },
  { ctl: ["get", "b", "--from-key"] },
  { ctl: ["get", "", "--from-key", "--limit", "2", "-w", "json"] },
  { ctl: ["get", "a", "z", "--sort-by", "VERSION", "--order", "DESCEND"] },
  { ctl: ["get", "a", "z", "--sort-by", "MODIFY", "--order", "ASCEND", "-w", "json"] },
  { ctl: ["get", "a", "z", "--sort-by", "CREATE", "--order", "DESCEND", "--limit", "3", "-w", "json"] },
  { ctl: ["get", "a", "z", "--sort-by", "VALUE", "--order", "DESCEND"] },
  { ctl: ["get", "a", "z", "--sort-by", "KEY", "--order", "DESCEND", "-w", "fields"] },
  { ctl: ["get", "a", "z", "--keys-only"] },
  { ctl: ["get", "a", "z", "--count-only", "-w", "json"] },
  { ctl: ["get", "a", "z", "--print-value-only"] },
  { ctl: ["get", "foo", "--rev", "2", "-w", "json"] },
  { ctl: ["get", "c", "--rev", "5"] },
  { ctl: ["get", "a", "z", "--consistency", "s", "-w", "json"] },
  { ctl: ["get", "a", "z", "--min-mod-rev", "6", "--max-mod-rev", "8", "-w", "json"] },
  { ctl: ["get", "a", "z", "--min-create-rev", "6", "--max-create-rev", "7", "-w", "json"] },
  { ctl: ["get", "foo", "--rev", "1000"] },
  { ctl: ["get", "nothing-here", "-w", "json"] },
  { ctl: ["put", "", "x"] },
  { ctl: ["put", "foo", "--ignore-value"] },
  { ctl: ["put", "foo", "--ignore-lease"] },
  { ctl: ["put", "nosuch", "--ignore-value"] },
  { ctl: ["get", "foo", "-w", "json"] },
  { ctl: ["del", "a"] },
  { ctl: ["del", "zzz"] },
  { ctl: ["del", "b", "d", "--prev-kv"] },
  { ctl: ["del", "e", "--from-key", "--prev-kv", "-w", "json"] },
  { ctl: ["put", "t1", "v1"] },
  { ctl: ["put", "t2", "v2"] },
  { ctl: ["txn", "-w", "json"], input: 'value("t1") = "v1"\n\nput t3 v3\nget t1\n\nput t3 no\n\n' },
  { ctl: ["txn"], input: 'value("t1") = "zz"\n\nput t3 yes\n\nget t2\ndel t1\n\n' },
  { ctl: ["txn", "-w", "json"], input: 'version("t2") > "0"\nmod("t2") < "1000"\ncreate("t2") != "0"\n\nget t --prefix\n\n\n' },
  { ctl: ["txn", "-w", "fields"], input: 'lease("t2") = "0"\nvalue("nope") = "x"\n\nput t4 a\n\nput t4 b\n\n' },
  { ctl: ["txn", "-w", "json"], input: 'value("t3") > "a"\n\nput dup 1\nput dup 2\n\n\n' },
  { ctl: ["txn", "-w", "json"], input: 'create("t") > "0"\n\nget t --prefix --keys-only\n\n\n' },
  { ctl: ["compaction", "5"] },
  { ctl: ["get", "foo", "--rev", "3"] },
  { ctl: ["get", "foo", "--rev", "5", "-w", "json"] },
  { ctl: ["compaction", "3"] },
  { ctl: ["compaction", "7", "--physical"] },
  { ctl: ["get", "", "--from-key", "-w", "json"] },
  { ctl: ["endpoint", "status"], status: true },
  { ctl: ["endpoint", "status", "-w", "json"] },
  { ctl: ["endpoint", "status", "-w", "fields"] },
  { ctl: ["endpoint", "health"] },
  { ctl: ["endpoint", "health", "-w", "json"] },
  { ctl: ["endpoint", "hashkv", "-w", "json"] },
  { ctl: ["endpoint", "hashkv", "--rev", "9", "-w", "fields"] },
  { ctl: ["member", "list"] },
  { ctl: ["member", "list", "-w", "json"] },
  { ctl: ["member", "list", "-w", "fields"] },
  { ctl: ["alarm", "list"] },
  { ctl: ["alarm", "list", "-w", "json"] },
  { ctl: ["defrag"] },
  { ctl: ["get", "t", "--prefix", "-w", "json"] },
  { ctl: ["get", "t", "--prefix", "--limit", "1", "-w", "fields"] },
  { ctl: ["get", "t", "--prefix", "-w", "table"], table: true },
  { ctl: ["member", "list", "-w", "table"], table: true },
  { ctl: ["endpoint", "hashkv"] },
  { ctl: ["endpoint", "hashkv", "-w", "table"], table: true },
  { ctl: ["endpoint", "health", "-w", "table"], table: true },
  { ctl: ["put", "leased", "v", "--lease", "1234abcd"] },
  { ctl: ["del", "t", "--prefix", "-w", "json"] },
  { ctl: ["compaction", "2"] },
  { ctl: ["compaction", "99999"] },
  { ctl: ["compaction", "abc"] },
  { ctl: ["put"] },
  { ctl: ["get"] },
  { ctl: ["txn", "-w", "json"], input: 'value("x") = \n\n\n' },
  { ctl: ["alarm", "disarm"] },
  { ctl: ["defrag", "-w", "json"] },
  { http: "/health" },
  { http: "/version" },
  { http: "/nope" },
  { http: "/health", method: "POST" },
  { http: "/v3/kv/put", body: { key: b64("h1"), value: b64("hv") } },
  { http: "/v3/kv/range", body: { key: b64("h1") } },
  { http: "/v3/kv/range", body: { key: b64("a"), range_end: b64("z"), sort_order: "DESCEND", limit: "2" } },
  { http: "/v3/kv/range", body: { key: b64("h1"), revision: "100000" } },
  { http: "/v3/kv/range", body: {} },
  { http: "/v3/kv/range", body: "garbage" },
  { http: "/v3/kv/txn", body: { compare: [{ key: b64("h1"), target: "VALUE", result: "EQUAL", value: b64("hv") }], success: [{ request_put: { key: b64("h2"), value: b64("x") } }] } },
  { http: "/v3/kv/deleterange", body: { key: b64("h1"), prev_kv: true } },
  { http: "/v3/kv/compaction", body: { revision: "3" } },
  { http: "/v3/maintenance/status", body: {} },
  { http: "/v3/kv/txn", body: { success: [{ request_txn: { success: [{ request_put: { key: b64("n1"), value: b64("n") } }, { request_range: { key: b64("n1") } }] } }] } },
  { http: "/v3/kv/txn", body: { success: [{ request_put: { key: b64("d1"), value: b64("1") } }, { request_put: { key: b64("d1"), value: b64("2") } }] } },
  { http: "/v3/kv/deleterange", body: { key: b64("a"), range_end: b64("z"), prev_kv: true } },
  { http: "/v3/kv/compaction", body: { revision: "10", physical: true } },
  { http: "/v3/kv/range", body: { key: b64("a"), range_end: "AA==", count_only: true } },
  { http: "/v3/kv/range", body: { key: b64("a"), range_end: "AA==", keys_only: true, sort_target: "MOD", sort_order: "ASCEND" } },
  { http: "/v3/kv/put", body: { key: b64("x"), value: b64("y"), prev_kv: true, ignore_lease: true } },
  { http: "/v3/kv/put", body: "" },
  { http: "/v3/kv/put", body: '{"key": "eA==", ' },
  // Hash covers every bucket, and etcd's members and cluster buckets hold data Cairn keeps elsewhere.
  { http: "/v3/maintenance/hash", body: {}, ignoreHash: true },
  { http: "/v3/maintenance/alarm", body: { action: "GET" } },
  { http: "/v3/cluster/member/list", body: {} },
  { http: "/v3/kv/nope", body: {} },
  // Wrong types and odd JSON: Go's decoder messages (or acceptance) as etcd's gateway gives them.
  ...[
    '{"key":123}', '{"key":"YQ==","limit":"abc"}', '{"key":"!!!"}', '{"key":"YQ","limit":1}', '{"key":"YQ=","limit":1}', '{"key":"YWJj=","limit":1}',
    '{"key":"YQ==","sort_order":"BOGUS"}', '{"key":"YQ==","unknown_field":1}', '{"key":"YQ==","limit":1.5}', '{"key":"YQ==","limit":"5"}',
    '{"key":"YQ==","sort_order":2}', "[1]", "7", '"s"', '{"key":"YQ=="} trailing', "null", '{"key":null}', '{"key":"YQ==","serializable":"yes"}',
    '{"key":"YQ==","limit":"1.5"}', '{"key":"YQ==","revision":-1}',
  ].map((body) => ({ http: "/v3/kv/range", body })),
  { http: "/v3/kv/txn", body: '{"compare":[{"key":"YQ==","target":"NOPE"}]}' },
  { http: "/v3/kv/txn", body: '{"compare":{"key":"YQ=="}}' },
  { http: "/v3/kv/txn", body: '{"success":[{"request_put":{"key":5}}]}' },
  { http: "/v3/kv/txn", body: '{"success":[{"request_put":{"key":"eA==","value":"eQ==","lease":"x"}}]}' },
  { http: "/v3/kv/range", method: "GET" },
];

function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}

async function identityOf(member: Member): Promise<Identity> {
  const out = await etcdctl(member.endpoint, ["member", "list", "-w", "json"]);
  const memberId = BigInt(/"member_id":(\d+)/.exec(out.stdout)![1]!);
  const clusterId = BigInt(/"cluster_id":(\d+)/.exec(out.stdout)![1]!);
  return { port: member.clientPort, peerPort: member.peerPort, memberId, clusterId };
}

async function runStep(member: Member, id: Identity, step: Step): Promise<string> {
  if ("ctl" in step) {
    const r = await etcdctl(member.endpoint, step.ctl, step.input);
    let stdout = normalize(r.stdout, id);
    if (step.status === true) stdout = normalizeStatusSimple(stdout);
    // Column widths follow the widest cell, and IDs have no fixed width: compare cells, not padding.
    if (step.table === true) stdout = stdout.replace(/[0-9.]+(ms|µs|s)\b/g, "<T>").replace(/-+/g, "-").replace(/ +/g, " ");
    return `exit=${r.code}\n${stdout}${errorLines(normalize(r.stderr, id))}`;
  }
  const init: RequestInit = { method: step.method ?? (step.body === undefined ? "GET" : "POST") };
  if (step.body !== undefined) init.body = typeof step.body === "string" ? step.body : JSON.stringify(step.body);
  const res = await fetch(member.url + step.http, init);
  let text = normalize(await res.text(), id);
  if (step.ignoreHash === true) text = text.replace(/"hash":\d+/, '"hash":<HASH>');
  return `status=${res.status} type=${res.headers.get("content-type")}\n${text}`;
}

/** Starts etcd and the subject with `flags`, runs `steps` on both, and returns the differences. */
async function compareSteps(t: TestContext, steps: readonly Step[], flags: string[] = []): Promise<void> {
  const subject = process.env["CAIRN_E2E_SUBJECT"] === "etcd" ? "etcd" : "cairn";
  const etcd = await startMember("etcd", { flags });
  let other: Member | undefined;
  try {
    other = await startMember(subject, { flags });
    const ids = [await identityOf(etcd), await identityOf(other)] as const;
    const differences: string[] = [];
    for (const step of steps) {
      const [expected, actual] = [await runStep(etcd, ids[0], step), await runStep(other, ids[1], step)];
      if (expected !== actual) differences.push(`step ${JSON.stringify(step)}\n--- etcd\n${expected}\n--- ${subject}\n${actual}`);
    }
    t.diagnostic(`${steps.length} steps, ${differences.length} differences`);
    if (differences.length > 0) differences.push(`${subject} stderr (tail):\n${other.stderrChunks.join("").slice(-3000)}`);
    assert.equal(differences.length, 0, differences.join("\n\n"));
  } finally {
    await etcd.stop();
    await other?.stop();
  }
}

test("etcdctl and HTTP give the same answers from etcd and cairn", { timeout: 240_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  await compareSteps(t, kvSteps);
});

/** With a 1-byte quota every write raises NOSPACE: alarms, refused writes, health, disarm. */
const quotaSteps: Step[] = [
  { ctl: ["put", "a", "b"] },
  { ctl: ["alarm", "list"] },
  { ctl: ["alarm", "list", "-w", "json"] },
  { ctl: ["endpoint", "status", "-w", "json"] },
  { ctl: ["endpoint", "health"] },
  { http: "/health" },
  { http: "/health?exclude=NOSPACE" },
  { ctl: ["get", "a", "-w", "json"] },
  { ctl: ["del", "a"] },
  { ctl: ["txn", "-w", "json"], input: '\nput x y\n\n\n' },
  { ctl: ["txn", "-w", "json"], input: '\nget x\n\n\n' },
  { ctl: ["alarm", "disarm"] },
  { ctl: ["alarm", "list"] },
  { ctl: ["put", "a", "b"] },
  { ctl: ["alarm", "list"] },
];

test("NOSPACE alarm behaves as etcd's (--quota-backend-bytes 1)", { timeout: 120_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  await compareSteps(t, quotaSteps, ["--quota-backend-bytes", "1"]);
});
