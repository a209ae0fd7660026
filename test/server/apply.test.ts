/**
 * The server's request checks and apply logic on the real MVCC store (in-memory backend): txn
 * validation (op limits, duplicate keys), compares, nested txns, Put options, Range options.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { EtcdError } from "../../src/api/errors.js";
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  PutRequestSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  RangeRequestSchema,
  TxnRequestSchema,
  type RequestOp,
  type TxnResponse,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { MemoryBackend } from "../../src/storage/backend/memory.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { AlarmStore, applyRange, applyReadOnlyTxn, BackendApplier, isTxnReadOnly } from "../../src/server/apply.js";
import { MvccKvStore } from "../../src/server/store.js";
import { checkTxnRequest } from "../../src/server/txncheck.js";
import { decodeRequest, encodeRequest, RequestIdGenerator, RequestKind } from "../../src/server/request.js";

const enc = (s: string): Uint8Array => Buffer.from(s);
const put = (key: string, value = "v"): RequestOp["request"] => ({ case: "requestPut", value: create(PutRequestSchema, { key: enc(key), value: enc(value) }) }) as RequestOp["request"];

function txn(init: object) {
  return create(TxnRequestSchema, init as never);
}

function errorName(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof EtcdError, String(err));
    return err.errorName;
  }
}

function fresh(): { store: MvccKvStore; applier: BackendApplier } {
  const store = new MvccKvStore(MvccStore.open(new MemoryBackend()));
  return { store, applier: new BackendApplier(store, new AlarmStore()) };
}

test("txn checks: op limit, empty keys, empty ops, duplicate keys as etcd 3.4", () => {
  const ops = (n: number) => Array.from({ length: n }, (_, i) => ({ request: put(`k${i}`) }));
  assert.equal(errorName(() => checkTxnRequest(txn({ success: ops(128) }), 128)), undefined);
  assert.equal(errorName(() => checkTxnRequest(txn({ success: ops(129) }), 128)), "tooManyOps");
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [{}] }), 128)), "keyNotFound");
  assert.equal(errorName(() => checkTxnRequest(txn({ compare: [{ key: new Uint8Array(0) }] }), 128)), "emptyKey");
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [{ request: put("a") }, { request: put("a") }] }), 128)), "duplicateKey");
  const del = (key: string, end = ""): RequestOp["request"] => ({ case: "requestDeleteRange", value: { key: enc(key), rangeEnd: enc(end) } }) as RequestOp["request"];
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [{ request: put("b") }, { request: del("a", "c") }] }), 128)), "duplicateKey");
  // A from-key delete is an empty interval in etcd 3.4's check: no conflict.
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [{ request: put("b") }, { request: del("a", "\u0000") }] }), 128)), undefined);
  // Both branches of one nested txn may put the same key; a sibling put may not.
  const nested = (then: string, otherwise: string) => ({ request: { case: "requestTxn", value: txn({ success: [{ request: put(then) }], failure: [{ request: put(otherwise) }] }) } });
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [nested("x", "x")] }), 128)), undefined);
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [nested("x", "y"), { request: put("x") }] }), 128)), "duplicateKey");
  // Then/else of the outer txn are independent.
  assert.equal(errorName(() => checkTxnRequest(txn({ success: [{ request: put("a") }], failure: [{ request: put("a") }] }), 128)), undefined);
});

test("apply: nested txn takes the right branches and reports the txn's revision", () => {
  const { store, applier } = fresh();
  applier.index = 1;
  applier.put(create(PutRequestSchema, { key: enc("a"), value: enc("1") }));
  const request = txn({
    compare: [{ key: enc("a"), target: Compare_CompareTarget.VALUE, result: Compare_CompareResult.EQUAL, targetUnion: { case: "value", value: enc("1") } }],
    success: [
      { request: put("b", "2") },
      { request: { case: "requestTxn", value: txn({ compare: [{ key: enc("zz"), target: Compare_CompareTarget.VERSION, result: Compare_CompareResult.GREATER, targetUnion: { case: "version", value: 0n } }], success: [{ request: put("c", "no") }], failure: [{ request: put("c", "yes") }] }) } },
      { request: { case: "requestRange", value: create(RangeRequestSchema, { key: enc("a"), rangeEnd: enc("z") }) } },
    ],
  });
  applier.index = 2;
  const response: TxnResponse = applier.txn(request);
  assert.equal(response.succeeded, true);
  assert.equal(response.header?.revision, 3n);
  const inner = response.responses[1]!.response;
  assert.equal(inner.case, "responseTxn");
  assert.equal(inner.case === "responseTxn" && inner.value.succeeded, false);
  const range = response.responses[2]!.response;
  assert.equal(range.case === "responseRange" && range.value.kvs.map((kv) => Buffer.from(kv.value).toString()).join(","), "1,2,yes");
  assert.equal(store.consistentIndex(), 2);
  assert.equal(isTxnReadOnly(request), false);
});

test("apply: ignore_value without a key fails and changes nothing; range options", () => {
  const { store, applier } = fresh();
  applier.index = 1;
  assert.equal(errorName(() => applier.put(create(PutRequestSchema, { key: enc("x"), ignoreValue: true }))), "keyNotFound");
  assert.equal(store.currentRevision(), 1);
  for (const [i, [k, v]] of [["a", "3"], ["b", "1"], ["c", "2"], ["b", "9"]].entries()) {
    applier.index = i + 2;
    applier.put(create(PutRequestSchema, { key: enc(k!), value: enc(v!) }));
  }
  const byValueDesc = store.read((view) => applyRange(view, create(RangeRequestSchema, { key: enc("a"), rangeEnd: enc("z"), sortOrder: RangeRequest_SortOrder.DESCEND, sortTarget: RangeRequest_SortTarget.VALUE, limit: 2n })));
  assert.deepEqual(byValueDesc.kvs.map((kv) => Buffer.from(kv.key).toString()), ["b", "a"]);
  assert.equal(byValueDesc.more, true);
  assert.equal(byValueDesc.count, 3n);
  const old = store.read((view) => applyRange(view, create(RangeRequestSchema, { key: enc("b"), revision: 3n })));
  assert.equal(Buffer.from(old.kvs[0]!.value).toString(), "1");
  assert.equal(errorName(() => store.read((view) => applyRange(view, create(RangeRequestSchema, { key: enc("b"), revision: 50n })))), "futureRev");
  const readOnly = store.read((view) => applyReadOnlyTxn(view, txn({ success: [{ request: { case: "requestRange", value: create(RangeRequestSchema, { key: enc("a"), countOnly: true }) } }] })));
  assert.equal(readOnly.header?.revision, 5n);
});

test("request envelope round-trips and request IDs never repeat", () => {
  const data = encodeRequest(42n, { kind: RequestKind.Put, request: create(PutRequestSchema, { key: enc("k"), value: enc("v") }) });
  const decoded = decodeRequest(data);
  assert.equal(decoded.id, 42n);
  assert.equal(decoded.request.kind, RequestKind.Put);
  const ids = new RequestIdGenerator(0xabcdn, 1_700_000_000_000);
  const seen = new Set(Array.from({ length: 1000 }, () => ids.generate()));
  assert.equal(seen.size, 1000);
  assert.throws(() => decodeRequest(new Uint8Array([99, 0, 0, 0, 0, 0, 0, 0, 1])), /unknown request kind/);
});

test("apply: a from-key delete followed by put --ignore-value fails before any write", () => {
  const { store, applier } = fresh();
  applier.index = 1;
  applier.put(create(PutRequestSchema, { key: enc("b"), value: enc("1") }));
  const request = txn({
    success: [
      { request: { case: "requestDeleteRange", value: { key: enc("a"), rangeEnd: new Uint8Array([0]) } } },
      { request: { case: "requestPut", value: create(PutRequestSchema, { key: enc("b"), ignoreValue: true }) } },
    ],
  });
  // etcd 3.4's duplicate-key check lets this through (the from-key quirk) ...
  assert.equal(errorName(() => checkTxnRequest(request, 128)), undefined);
  applier.index = 2;
  // ... and the apply refuses it as a whole: nothing is deleted.
  assert.equal(errorName(() => applier.txn(request)), "keyNotFound");
  assert.equal(store.currentRevision(), 2);
  assert.equal(store.read((view) => view.range(enc("b"), undefined, { limit: 0, revision: 0, countOnly: false })).kvs.length, 1);
});
