/**
 * A failed backend commit is fatal, as in etcd: the store refuses everything after it and reports
 * it to its fatal handler, whose default ends the process even when the commit was started by an
 * RPC (HashKV here) that caught the error to answer its client.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { AlarmStore, BackendApplier } from "../../src/server/apply.js";
import { BackendCommitError, MvccKvStore } from "../../src/server/store.js";

class FailingBackend extends MemoryBackend {
  failing = false;
  override commit(): void {
    if (this.failing) throw new Error("injected: disk full");
    super.commit();
  }
}

const put = (key: string) => create(PutRequestSchema, { key: Buffer.from(key), value: Buffer.from("v") });

test("a failed commit goes to the fatal handler once and the store refuses what follows", () => {
  const backend = new FailingBackend();
  const store = new MvccKvStore(MvccStore.open(backend));
  store.setBatchPolicy({ intervalMs: 3_600_000, limit: 1_000_000, clock: { after: () => () => undefined } });
  const fatal: BackendCommitError[] = [];
  store.onFatal = (err) => fatal.push(err);
  const applier = new BackendApplier(store, new AlarmStore());
  applier.index = 1;
  applier.put(put("a"));
  backend.failing = true;
  assert.throws(() => store.hashKV(0), BackendCommitError);
  assert.equal(fatal.length, 1);
  assert.match(fatal[0]!.message, /backend commit failed.*injected: disk full/);
  // Even once the engine would commit again, the store carries on with nothing.
  backend.failing = false;
  assert.throws(() => store.hash(), BackendCommitError);
  assert.throws(() => store.snapshotView(), BackendCommitError);
  applier.index = 2;
  assert.throws(() => applier.put(put("b")), BackendCommitError);
  assert.equal(fatal.length, 1, "the failure is reported once");
});

test("with the default handler, a commit failure caught by an RPC still ends the process", () => {
  const child = join(import.meta.dirname, "commit-fail-child.js");
  const result = spawnSync(process.execPath, [child], { encoding: "utf8", timeout: 30_000 });
  assert.notEqual(result.status, 0, `exit ${result.status}: ${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /rpc answered: backend commit failed/);
  assert.doesNotMatch(result.stdout, /carried on/);
  assert.match(result.stderr, /BackendCommitError: backend commit failed, stopping .*injected: disk full/);
});
