/**
 * The operators' NOSPACE runbook (shared/seeds: "mvcc: database space exceeded" → endpoint status,
 * compact at the current revision, defrag, alarm disarm) against cairn and real etcd side by side,
 * both started with the same small --quota-backend-bytes. Every etcdctl output of the runbook is
 * compared after normalising member IDs, endpoints and revision numbers (the two engines' files
 * grow differently, so the quota is hit after a different number of writes).
 *
 * A second test measures defragmentation on a larger store: file size before and after, how long
 * defrag took, and the longest stall of a read loop running meanwhile (reported, never asserted).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { etcdctl, requireEtcd, startMember, type Member } from "./harness.js";
import { ctlOk, endpointStatus, hashKV } from "./snapshot-helpers.js";

const QUOTA_BYTES = 400_000;
const VALUE_BYTES = 5000;
/** Upper bound on puts while filling up (the quota is reached well before). */
const MAX_FILL_PUTS = 1000;

function b64(text: string): string {
  return Buffer.from(text).toString("base64");
}

/** POSTs to the grpc-gateway; returns the HTTP status and the parsed body. */
async function gateway(member: Member, path: string, body: unknown): Promise<{ status: number; body: { error?: string; message?: string } }> {
  const response = await fetch(`${member.url}${path}`, { method: "POST", body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string } };
}

/** Puts until the member refuses; returns how many puts were accepted. */
async function fillUntilRefused(member: Member): Promise<number> {
  const value = b64("a".repeat(VALUE_BYTES));
  for (let i = 0; i < MAX_FILL_PUTS; i++) {
    const reply = await gateway(member, "/v3/kv/put", { key: b64(`key${i % 10}`), value });
    if (reply.status !== 200) {
      assert.match(reply.body.error ?? reply.body.message ?? "", /database space exceeded/);
      return i;
    }
  }
  throw new Error(`${member.kind} accepted ${MAX_FILL_PUTS} puts under a ${QUOTA_BYTES}-byte quota`);
}

function normalize(text: string, member: Member): string {
  return text
    .replaceAll(member.endpoint, "<endpoint>")
    .replace(/memberID:\d+/g, "memberID:<id>")
    .replace(/compacted revision \d+/g, "compacted revision <rev>")
    .replace(/^compact \d+/, "compact <rev>")
    .replace(/a{100,}/g, (run) => `<${run.length} × a>`);
}

/** Runs one runbook step; records exit code and normalized output (stdout, last stderr line). */
async function step(member: Member, transcript: string[], args: string[]): Promise<void> {
  const result = await etcdctl(member.endpoint, args);
  const lastError = result.stderr.trim().split("\n").filter((l) => l.startsWith("Error:")).pop() ?? "";
  transcript.push(`$ etcdctl ${normalize(args.join(" "), member)}\n[exit ${result.code}]\n${normalize(result.stdout, member)}${lastError}`);
}

interface RunbookNumbers {
  acceptedPuts: number;
  dbBeforeDefrag: number;
  dbAfterDefrag: number;
}

async function runbook(member: Member): Promise<{ transcript: string[]; numbers: RunbookNumbers }> {
  const transcript: string[] = [];
  const acceptedPuts = await fillUntilRefused(member);
  // Refused writes, allowed reads and deletes, the raised alarm.
  await step(member, transcript, ["put", "key1", "more"]);
  await step(member, transcript, ["alarm", "list"]);
  await step(member, transcript, ["get", "key1", "--print-value-only"]);
  await step(member, transcript, ["del", "key9"]);
  await step(member, transcript, ["put", "key9", "back"]);
  const before = await endpointStatus(member.endpoint);
  transcript.push(`status errors: ${normalize(before.errors.join(","), member)}`);
  // The runbook: compact at the current revision, defrag, disarm.
  await step(member, transcript, ["compact", String(before.revision)]);
  const hashBefore = await hashKV(member.endpoint);
  const dbBeforeDefrag = (await endpointStatus(member.endpoint)).dbSize;
  await step(member, transcript, ["defrag"]);
  const after = await endpointStatus(member.endpoint);
  assert.deepEqual(await hashKV(member.endpoint), hashBefore, `${member.kind}: defrag changed nothing in the key space`);
  // Still alarmed until disarmed, even with space available.
  await step(member, transcript, ["put", "key1", "more"]);
  await step(member, transcript, ["alarm", "disarm"]);
  await step(member, transcript, ["alarm", "list"]);
  await step(member, transcript, ["put", "key1", "more"]);
  await step(member, transcript, ["get", "key1", "--print-value-only"]);
  transcript.push(`status errors: ${(await endpointStatus(member.endpoint)).errors.join(",")}`);
  return { transcript, numbers: { acceptedPuts, dbBeforeDefrag, dbAfterDefrag: after.dbSize } };
}

test("NOSPACE runbook: cairn and etcd answer every step alike, and defrag frees the quota", async (t) => {
  if (!requireEtcd(t)) return;
  const members: Member[] = [];
  t.after(async () => {
    for (const m of members) await m.stop();
  });
  const flags = ["--quota-backend-bytes", String(QUOTA_BYTES)];
  const etcd = await startMember("etcd", { flags });
  members.push(etcd);
  const cairn = await startMember("cairn", { flags });
  members.push(cairn);
  const [e, c] = [await runbook(etcd), await runbook(cairn)];
  t.diagnostic(`etcd: ${JSON.stringify(e.numbers)}`);
  t.diagnostic(`cairn: ${JSON.stringify(c.numbers)}`);
  assert.deepEqual(c.transcript, e.transcript);
  for (const [kind, numbers] of [["etcd", e.numbers], ["cairn", c.numbers]] as const) {
    assert.ok(numbers.dbAfterDefrag < numbers.dbBeforeDefrag, `${kind}: defrag shrank the file (${numbers.dbBeforeDefrag} → ${numbers.dbAfterDefrag})`);
    assert.ok(numbers.dbAfterDefrag < QUOTA_BYTES, `${kind}: back under the quota`);
  }
});

/** Writes `batches` txns of `perTxn` puts of `valueBytes` each, over `keys` distinct keys. */
async function bulkLoad(member: Member, batches: number, perTxn: number, valueBytes: number, keys: number): Promise<void> {
  const value = b64("v".repeat(valueBytes));
  let n = 0;
  for (let b = 0; b < batches; b++) {
    const success = [];
    for (let i = 0; i < perTxn; i++) success.push({ requestPut: { key: b64(`/bulk/${n++ % keys}`), value } });
    const reply = await gateway(member, "/v3/kv/txn", { success });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  }
}

/** Runs reads back to back until `stop()`; returns the longest single read in milliseconds. */
function readLoop(member: Member): { stop: () => Promise<{ maxMs: number; reads: number }> } {
  let running = true;
  let maxMs = 0;
  let reads = 0;
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      const reply = await gateway(member, "/v3/kv/range", { key: b64("/bulk/1") });
      assert.equal(reply.status, 200);
      maxMs = Math.max(maxMs, performance.now() - start);
      reads++;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { maxMs, reads };
    },
  };
}

test("defrag measurement: sizes before/after and the longest read stall while it runs (cairn and etcd)", async (t) => {
  if (!requireEtcd(t)) return;
  for (const kind of ["etcd", "cairn"] as const) {
    const member = await startMember(kind);
    try {
      // 400 txns × 10 puts × 4 KiB over 500 keys: ~16 MB written, ~2 MB live after compaction.
      await bulkLoad(member, 400, 10, 4096, 500);
      const { revision } = await endpointStatus(member.endpoint);
      await ctlOk(member.endpoint, ["compact", String(revision)]);
      const hashBefore = await hashKV(member.endpoint);
      const sizeBefore = (await endpointStatus(member.endpoint)).dbSize;
      const reads = readLoop(member);
      await new Promise((r) => setTimeout(r, 50));
      const start = performance.now();
      await ctlOk(member.endpoint, ["defrag"]);
      const defragMs = performance.now() - start;
      const { maxMs, reads: count } = await reads.stop();
      const sizeAfter = (await endpointStatus(member.endpoint)).dbSize;
      assert.deepEqual(await hashKV(member.endpoint), hashBefore);
      assert.ok(sizeAfter < sizeBefore, `${kind}: ${sizeBefore} → ${sizeAfter}`);
      t.diagnostic(`${kind}: db ${sizeBefore} → ${sizeAfter} bytes; etcdctl defrag ${defragMs.toFixed(0)} ms; longest read during it ${maxMs.toFixed(1)} ms over ${count} reads`);
    } finally {
      await member.stop();
    }
  }
});
