/**
 * Child process for commit-fail.test.ts: a batched store over a backend whose commits fail, driven
 * as an RPC would drive it (HashKV commits first; the RPC layer catches the error and answers the
 * client). With the store's default fatal handler the process must die instead of carrying on.
 */
import { create } from "@bufbuild/protobuf";
import { PutRequestSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { AlarmStore, BackendApplier } from "../../src/server/apply.js";
import { MvccKvStore } from "../../src/server/store.js";

class FailingBackend extends MemoryBackend {
  failing = false;
  override commit(): void {
    if (this.failing) throw new Error("injected: disk full");
    super.commit();
  }
}

const backend = new FailingBackend();
const store = new MvccKvStore(MvccStore.open(backend));
store.setBatchPolicy({ intervalMs: 3_600_000, limit: 1_000_000, clock: { after: () => () => undefined } });
const applier = new BackendApplier(store, new AlarmStore());
applier.index = 1;
applier.put(create(PutRequestSchema, { key: Buffer.from("k"), value: Buffer.from("v") }));
backend.failing = true;
try {
  store.hashKV(0);
} catch (err) {
  process.stdout.write(`rpc answered: ${(err as Error).message}\n`);
}
setImmediate(() => process.stdout.write("carried on\n"));
