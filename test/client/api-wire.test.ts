/**
 * Wire types and the error table: a protobuf round trip with known bytes, and the table's codes and
 * messages checked against what a real etcd 3.4 sends for requests that provoke them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  AuthRoleGetRequestSchema,
  AuthUserGetRequestSchema,
  CompactionRequestSchema,
  LeaseRevokeRequestSchema,
  MemberRemoveRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
  RangeRequest_SortOrder,
  TxnRequestSchema,
} from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { KeyValueSchema } from "../../src/api/gen/mvccpb/kv_pb.js";
import { allServices, authService, clusterService, kvService, leaseService } from "../../src/api/grpc.js";
import { EtcdError, etcdError, etcdErrors, fromServiceError, GrpcCode, toServiceError } from "../../src/api/errors.js";
import { skipWithoutEtcd, startEtcd } from "./etcd.js";

test("KeyValue encodes with etcd's field numbers", () => {
  const kv = create(KeyValueSchema, {
    key: new TextEncoder().encode("a"),
    createRevision: 2n,
    modRevision: 3n,
    version: 1n,
    value: new TextEncoder().encode("b"),
  });
  const bytes = toBinary(KeyValueSchema, kv);
  // field 1 bytes "a", 2 varint 2, 3 varint 3, 4 varint 1, 5 bytes "b"
  assert.deepEqual([...bytes], [0x0a, 1, 0x61, 0x10, 2, 0x18, 3, 0x20, 1, 0x2a, 1, 0x62]);
  const back = fromBinary(KeyValueSchema, bytes);
  assert.equal(back.modRevision, 3n);
  assert.equal(new TextDecoder().decode(back.value), "b");
});

test("service definitions carry etcd's method paths and codecs", () => {
  assert.equal(kvService.range.path, "/etcdserverpb.KV/Range");
  assert.equal(kvService.deleteRange.path, "/etcdserverpb.KV/DeleteRange");
  const paths = allServices.flatMap((s) => Object.values(s.definition).map((m) => m.path));
  assert.ok(paths.includes("/etcdserverpb.Watch/Watch"));
  assert.ok(paths.includes("/etcdserverpb.Maintenance/HashKV"));
  assert.ok(paths.includes("/v3lockpb.Lock/Lock"));
  assert.ok(paths.includes("/v3electionpb.Election/Observe"));
  assert.equal(paths.length, 5 + 1 + 5 + 5 + 7 + 16 + 2 + 5);
  const watch = allServices.find((s) => s.name === "Watch")!.definition.watch;
  assert.equal(watch.requestStream && watch.responseStream, true);
  const request = create(RangeRequestSchema, { key: new Uint8Array([1]), limit: 5n, sortOrder: RangeRequest_SortOrder.DESCEND });
  const decoded = kvService.range.requestDeserialize(kvService.range.requestSerialize(request));
  assert.equal(decoded.limit, 5n);
  assert.equal(decoded.sortOrder, RangeRequest_SortOrder.DESCEND);
});

test("error table round-trips through a grpc status", () => {
  for (const name of Object.keys(etcdErrors) as (keyof typeof etcdErrors)[]) {
    const sent = toServiceError(etcdError(name));
    const received = fromServiceError({ ...sent, message: `${sent.code} X: ${sent.details}` });
    assert.equal(received.errorName, name);
    assert.equal(received.code, etcdErrors[name].code);
  }
  const unknown = fromServiceError({ code: GrpcCode.UNAVAILABLE, details: "connection refused" });
  assert.equal(unknown.errorName, undefined);
  assert.equal(unknown.code, GrpcCode.UNAVAILABLE);
  assert.ok(unknown instanceof EtcdError);
});

type Unary = (request: unknown, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;

function call(client: grpc.Client, method: string, request: unknown): Promise<unknown> {
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  return new Promise((resolve, reject) => fn(request, (error, response) => (error ? reject(error) : resolve(response))));
}

async function expectEtcdError(promise: Promise<unknown>, name: keyof typeof etcdErrors): Promise<void> {
  try {
    await promise;
  } catch (error) {
    const mapped = fromServiceError(error);
    assert.equal(mapped.errorName, name, `got ${mapped.code} ${mapped.message}`);
    assert.equal(mapped.code, etcdErrors[name].code);
    assert.equal((error as grpc.ServiceError).code, etcdErrors[name].code);
    return;
  }
  assert.fail(`expected ${name}`);
}

test("error table matches real etcd", { skip: skipWithoutEtcd() }, async () => {
  const etcd = await startEtcd({ extraArgs: ["--max-txn-ops=2", "--max-request-bytes=1024"] });
  const clients: grpc.Client[] = [];
  try {
    const make = (def: grpc.ServiceDefinition, name: string) => {
      const Ctor = grpc.makeGenericClientConstructor(def, name);
      const client = new Ctor(etcd.endpoint, grpc.credentials.createInsecure());
      clients.push(client);
      return client;
    };
    const kv = make(kvService, "KV");
    const lease = make(leaseService, "Lease");
    const auth = make(authService, "Auth");
    const cluster = make(clusterService, "Cluster");
    const enc = (s: string) => new TextEncoder().encode(s);
    await expectEtcdError(call(kv, "put", create(PutRequestSchema, {})), "emptyKey");
    await expectEtcdError(call(kv, "range", create(RangeRequestSchema, { key: enc("a"), revision: 1000n })), "futureRev");
    for (let i = 0; i < 3; i++) await call(kv, "put", create(PutRequestSchema, { key: enc("k"), value: enc(`${i}`) }));
    await call(kv, "compact", create(CompactionRequestSchema, { revision: 3n }));
    await expectEtcdError(call(kv, "range", create(RangeRequestSchema, { key: enc("k"), revision: 2n })), "compacted");
    await expectEtcdError(call(kv, "put", create(PutRequestSchema, { key: enc("big"), value: new Uint8Array(4096) })), "requestTooLarge");
    const put = (key: string) => ({ request: { case: "requestPut" as const, value: create(PutRequestSchema, { key: enc(key) }) } });
    await expectEtcdError(call(kv, "txn", create(TxnRequestSchema, { success: [put("a"), put("b"), put("c")] })), "tooManyOps");
    await expectEtcdError(call(kv, "txn", create(TxnRequestSchema, { success: [put("a"), put("a")] })), "duplicateKey");
    await expectEtcdError(call(lease, "leaseRevoke", create(LeaseRevokeRequestSchema, { ID: 12345n })), "leaseNotFound");
    await expectEtcdError(call(auth, "userGet", create(AuthUserGetRequestSchema, { name: "nobody" })), "userNotFound");
    await expectEtcdError(call(auth, "roleGet", create(AuthRoleGetRequestSchema, { role: "nobody" })), "roleNotFound");
    await expectEtcdError(call(cluster, "memberRemove", create(MemberRemoveRequestSchema, { ID: 1n })), "memberNotFound");
  } finally {
    for (const client of clients) client.close();
    await etcd.stop();
  }
});
