/**
 * The raft driver and server in-process: writes go through Raft and the WAL; a restart replays the
 * WAL from the store's consistent index, so a store that lost everything is rebuilt exactly and a
 * store that kept everything applies nothing twice.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutRequestSchema, RangeRequestSchema, TxnRequestSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { realClock } from "../../src/platform/clock.js";
import { EtcdServer } from "../../src/server/server.js";
import { MvccKvStore, openKvStore } from "../../src/server/store.js";
import type { KvStore } from "../../src/server/kv.js";

const enc = (s: string): Uint8Array => Buffer.from(s);

function newServer(walDir: string, store: KvStore, snapshotCount = 100_000): EtcdServer {
  return new EtcdServer({
    memberId: 0x1234n,
    clusterId: 0x5678n,
    members: [{ id: 0x1234n, name: "default", peerUrls: ["http://localhost:2380"], clientUrls: [], isLearner: false }],
    walDir,
    walMetadata: enc("{}"),
    tickMs: 10,
    electionTicks: 10,
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    quotaBackendBytes: 2 * 1024 * 1024 * 1024,
    requestTimeoutMs: 10_000,
    snapshotCount,
    maxWals: 5,
    clock: realClock,
    store,
  });
}

async function snapshotOf(server: EtcdServer): Promise<string> {
  const r = await server.range(create(RangeRequestSchema, { key: enc("k"), rangeEnd: enc("l") }));
  return `rev=${r.header?.revision} ` + r.kvs.map((kv) => `${Buffer.from(kv.key)}=${Buffer.from(kv.value)}@${kv.modRevision}/v${kv.version}`).join(" ");
}

test("restart replays the WAL into an empty store and skips what a durable store already has", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-restart-"));
  try {
    const walDir = join(dir, "wal");
    let server = newServer(walDir, await openKvStore(join(dir, "db"), { unsafeNoFsync: false }));
    server.start();
    // Concurrent writers: one Ready (one fdatasync) carries many proposals.
    await Promise.all(Array.from({ length: 50 }, (_, i) => server.put(create(PutRequestSchema, { key: enc(`k${i % 7}`), value: enc(`v${i}`) }))));
    await server.txn(create(TxnRequestSchema, { success: [{ request: { case: "requestPut", value: { key: enc("k-txn"), value: enc("t") } } }] }));
    const before = await snapshotOf(server);
    const fsyncs = server.metrics.walFsyncSeconds.getCount();
    assert.ok(fsyncs < 51, `expected group commit to share fsyncs, got ${fsyncs} for 51 writes`);
    await server.stop();

    // Same durable store: nothing is applied twice (revision and versions unchanged).
    server = newServer(walDir, await openKvStore(join(dir, "db"), { unsafeNoFsync: false }));
    server.start();
    assert.equal(await snapshotOf(server), before);
    await server.stop();

    // A store that lost everything: the WAL rebuilds it exactly.
    const empty = new MvccKvStore(MvccStore.open(new MemoryBackend()));
    server = newServer(walDir, empty);
    server.start();
    assert.equal(await snapshotOf(server), before);
    await server.put(create(PutRequestSchema, { key: enc("k0"), value: enc("after") }));
    assert.match(await snapshotOf(server), /k0=after/);
    await server.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const snapshotCount of [10, 1]) test(`a snapshot marker bounds the replay; restart after it keeps every write (snapshot-count ${snapshotCount})`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-snap-"));
  try {
    const walDir = join(dir, "wal");
    let server = newServer(walDir, await openKvStore(join(dir, "db"), { unsafeNoFsync: false }), snapshotCount);
    server.start();
    for (let i = 0; i < 40; i++) await server.put(create(PutRequestSchema, { key: enc(`k${i % 5}`), value: enc(`v${i}`) }));
    // Let the asynchronous checkpoint behind the last snapshot finish (it fsyncs: up to 20 s, as a
    // loaded disk can take well over the second this used to allow).
    for (let i = 0; i < 2000 && server.latestSnapshotIndex() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    // With snapshot-count 1 the last snapshot sits at the last entry: nothing follows it in the WAL.
    for (let i = 0; i < 2000 && server.latestSnapshotIndex() < 40; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(server.latestSnapshotIndex() >= 10, `no snapshot taken (index ${server.latestSnapshotIndex()})`);
    const before = await snapshotOf(server);
    await server.stop();
    server = newServer(walDir, await openKvStore(join(dir, "db"), { unsafeNoFsync: false }), snapshotCount);
    server.start();
    assert.equal(await snapshotOf(server), before);
    await server.put(create(PutRequestSchema, { key: enc("k9"), value: enc("after") }));
    assert.match(await snapshotOf(server), /k9=after/);
    await server.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
