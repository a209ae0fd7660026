/**
 * Differential test against real etcd 3.4: the same sequence of puts (some with a lease), deletes,
 * range deletes and physical compactions is applied to etcd (through etcdctl) and to an MvccStore
 * on LMDB; HashKV at the current and at historical revisions, and Range with etcdctl's options,
 * must give identical results. Skips with a printed reason when etcd is absent (fails under CI=true).
 */
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdProcess, etcdAvailability } from "./etcd-harness.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { executeRange, SortOrder, SortTarget, type RangeRequest } from "../../src/storage/mvcc/range.js";
import { CompactedError } from "../../src/storage/mvcc/errors.js";

const availability = etcdAvailability();
const bytes = (s: string) => new TextEncoder().encode(s);

/** A small deterministic generator (the workload must not depend on ambient randomness). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface HashKV {
  hash: number;
  compact_revision: number;
  header: { revision: number };
}

function etcdHashKV(etcd: EtcdProcess, rev: number): HashKV | "compacted" {
  try {
    const out = JSON.parse(etcd.ctl("endpoint", "hashkv", "-w", "json", `--rev=${rev}`)) as { HashKV: HashKV }[];
    return out[0]!.HashKV;
  } catch (error) {
    if (/required revision has been compacted/.test(String(error))) return "compacted";
    throw error;
  }
}

function storeHashKV(store: MvccStore, rev: number): { hash: number; compact_revision: number; revision: number } | "compacted" {
  try {
    const r = store.hashKV(rev);
    return { hash: r.hash, compact_revision: r.compactRevision, revision: r.revision };
  } catch (error) {
    if (error instanceof CompactedError) return "compacted";
    throw error;
  }
}

test("HashKV and Range equal etcd 3.4's after the same mixed workload", { skip: availability.available ? false : availability.reason, timeout: 300_000 }, async (t) => {
  const etcd = await EtcdProcess.start();
  t.after(() => etcd.stop());
  const dir = mkdtempSync(join(tmpdir(), "cairn-mvcc-diff-"));
  const store = MvccStore.open(new LmdbBackend({ path: dir }));
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const leaseGrant = JSON.parse(etcd.ctl("lease", "grant", "3600", "-w", "json")) as { ID: number };
  // etcdctl prints the lease ID as a JSON number; recover it exactly from the text form.
  const leaseText = etcd.ctl("lease", "list");
  const leaseHex = /([0-9a-f]{16})/.exec(leaseText)?.[1] ?? BigInt(leaseGrant.ID).toString(16);
  const leaseId = BigInt("0x" + leaseHex);

  const random = lcg(20261123);
  const keys = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, "0")}`);
  let compacted = 0;
  const checkpoints: number[] = [];
  let txns = 0;
  for (let step = 0; step < 90; step++) {
    const choice = random();
    const key = keys[Math.floor(random() * keys.length)]!;
    if (choice < 0.5) {
      const value = `v${step}-${Math.floor(random() * 1000)}`;
      etcd.ctl("put", key, value);
      store.put(bytes(key), bytes(value));
    } else if (choice < 0.6) {
      const value = `leased${step}`;
      etcd.ctl("put", `--lease=${leaseHex}`, key, value);
      store.put(bytes(key), bytes(value), leaseId);
    } else if (choice < 0.75) {
      etcd.ctl("del", key);
      store.deleteRange(bytes(key), null);
    } else if (choice < 0.82) {
      const other = keys[Math.floor(random() * keys.length)]!;
      const [from, to] = key < other ? [key, other] : [other, key];
      etcd.ctl("del", from, to);
      store.deleteRange(bytes(from), bytes(to));
    } else if (choice < 0.88) {
      // A transaction: several changes share one main revision with increasing sub revisions.
      // etcd refuses a txn that touches a key twice, so: put k1, delete [k2, k3), put k4, k1 < k2 < k3 < k4.
      const picked = [...new Set([0, 1, 2, 3, 4, 5].map(() => keys[Math.floor(random() * keys.length)]!))].sort();
      if (picked.length < 4) continue;
      const [k1, k2, k3, k4] = picked as [string, string, string, string];
      txns++;
      etcd.ctlWithInput(`\nput ${k1} t${step}a\ndel ${k2} ${k3}\nput ${k4} t${step}b\n\n\n`, "txn");
      const txn = store.write();
      txn.put(bytes(k1), bytes(`t${step}a`), 0n);
      txn.deleteRange(bytes(k2), bytes(k3));
      txn.put(bytes(k4), bytes(`t${step}b`), 0n);
      txn.end();
    } else if (choice < 0.93 && store.revision - 2 > compacted) {
      const at = compacted + 1 + Math.floor(random() * (store.revision - 1 - compacted));
      etcd.ctl("compaction", "--physical", String(at));
      store.compact(at);
      compacted = at;
    } else {
      checkpoints.push(store.revision);
    }
    const fromEtcd = etcdHashKV(etcd, 0);
    assert.notEqual(fromEtcd, "compacted");
    if (fromEtcd === "compacted") return;
    assert.deepEqual(storeHashKV(store, 0), { hash: fromEtcd.hash, compact_revision: fromEtcd.compact_revision, revision: fromEtcd.header.revision }, `after step ${step}`);
  }
  assert.ok(compacted > 0, "the workload compacted at least once");
  assert.ok(txns > 0, "the workload ran multi-op transactions");

  // Historical revisions, including compacted ones.
  for (let rev = 1; rev <= store.revision; rev += 3) {
    const fromEtcd = etcdHashKV(etcd, rev);
    const mine = storeHashKV(store, rev);
    if (fromEtcd === "compacted") assert.equal(mine, "compacted", `rev ${rev}`);
    else assert.deepEqual(mine, { hash: fromEtcd.hash, compact_revision: fromEtcd.compact_revision, revision: fromEtcd.header.revision }, `rev ${rev}`);
  }

  // Many keys with equal sort values: etcd's sort.Sort is not stable, and its order must be matched.
  for (let i = 0; i < 40; i++) {
    const key = `s${String(i).padStart(2, "0")}`;
    const value = ["v", "w", "x"][i % 3]!;
    etcd.ctl("put", key, value);
    store.put(bytes(key), bytes(value));
    if (i % 4 === 0) {
      etcd.ctl("put", key, value);
      store.put(bytes(key), bytes(value));
    }
  }

  // Range with etcdctl's options.
  const rangeCases: { args: string[]; req: RangeRequest }[] = [
    { args: ["k", "--prefix"], req: { key: bytes("k"), rangeEnd: bytes("l") } },
    { args: ["k03", "--from-key"], req: { key: bytes("k03"), rangeEnd: Uint8Array.of(0) } },
    { args: ["k", "--prefix", "--limit=3"], req: { key: bytes("k"), rangeEnd: bytes("l"), limit: 3 } },
    { args: ["k", "--prefix", "--keys-only"], req: { key: bytes("k"), rangeEnd: bytes("l"), keysOnly: true } },
    { args: ["k", "--prefix", "--sort-by=MODIFY", "--order=DESCEND", "--limit=4"], req: { key: bytes("k"), rangeEnd: bytes("l"), sortTarget: SortTarget.Mod, sortOrder: SortOrder.Descend, limit: 4 } },
    { args: ["k", "--prefix", "--sort-by=VERSION"], req: { key: bytes("k"), rangeEnd: bytes("l"), sortTarget: SortTarget.Version } },
    { args: ["k", "--prefix", "--sort-by=CREATE", "--order=DESCEND"], req: { key: bytes("k"), rangeEnd: bytes("l"), sortTarget: SortTarget.Create, sortOrder: SortOrder.Descend } },
    { args: ["k", "--prefix", "--sort-by=VALUE", "--order=ASCEND"], req: { key: bytes("k"), rangeEnd: bytes("l"), sortTarget: SortTarget.Value, sortOrder: SortOrder.Ascend } },
    { args: ["k", "--prefix", `--rev=${compacted}`], req: { key: bytes("k"), rangeEnd: bytes("l"), revision: compacted } },
    { args: ["k", "--prefix", `--rev=${compacted + 2}`, "--limit=2"], req: { key: bytes("k"), rangeEnd: bytes("l"), revision: compacted + 2, limit: 2 } },
    { args: [keys[5]!], req: { key: bytes(keys[5]!) } },
    { args: ["s", "--prefix", "--sort-by=VERSION"], req: { key: bytes("s"), rangeEnd: bytes("t"), sortTarget: SortTarget.Version } },
    { args: ["s", "--prefix", "--sort-by=VERSION", "--order=DESCEND"], req: { key: bytes("s"), rangeEnd: bytes("t"), sortTarget: SortTarget.Version, sortOrder: SortOrder.Descend } },
    { args: ["s", "--prefix", "--sort-by=VALUE", "--order=DESCEND"], req: { key: bytes("s"), rangeEnd: bytes("t"), sortTarget: SortTarget.Value, sortOrder: SortOrder.Descend } },
    // etcdctl sends no order with --sort-by alone: etcd then applies the limit before sorting.
    { args: ["s", "--prefix", "--sort-by=VALUE", "--limit=7"], req: { key: bytes("s"), rangeEnd: bytes("t"), sortTarget: SortTarget.Value, limit: 7 } },
    { args: ["s", "--prefix", "--sort-by=VALUE", "--order=ASCEND", "--limit=7"], req: { key: bytes("s"), rangeEnd: bytes("t"), sortTarget: SortTarget.Value, sortOrder: SortOrder.Ascend, limit: 7 } },
    { args: ["", "--from-key", "--sort-by=VERSION"], req: { key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), sortTarget: SortTarget.Version } },
  ];
  for (const { args, req } of rangeCases) {
    const fromEtcd = JSON.parse(etcd.ctl("get", ...args, "-w", "json")) as {
      header: { revision: number }; kvs?: { key: string; value?: string; create_revision: number; mod_revision: number; version: number; lease?: number }[]; more?: boolean; count?: number;
    };
    const mine = executeRange(store.read(), req);
    const label = args.join(" ");
    assert.equal(mine.revision, fromEtcd.header.revision, label);
    assert.equal(mine.count, fromEtcd.count ?? 0, label);
    assert.equal(mine.more, fromEtcd.more ?? false, label);
    assert.deepEqual(
      mine.kvs.map((kv) => [Buffer.from(kv.key).toString("base64"), kv.value.length === 0 ? undefined : Buffer.from(kv.value).toString("base64"), kv.createRevision, kv.modRevision, kv.version, kv.lease !== 0n]),
      (fromEtcd.kvs ?? []).map((kv) => [kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, (kv.lease ?? 0) !== 0]),
      label,
    );
  }
});
