/**
 * Unit tests of the watch transport helpers: etcd's fragment split (sizes measured with the real
 * encoder) and the gateway's splitter of concatenated JSON request objects.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { WatchResponseSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { EventSchema, KeyValueSchema } from "../../src/api/gen/mvccpb/kv_pb.js";
import { fragments } from "../../src/grpc/watch.js";
import { JsonObjectSplitter } from "../../src/http/gateway-watch-lease.js";

function response(valueSizes: number[]) {
  const events = valueSizes.map((n, i) => create(EventSchema, { kv: create(KeyValueSchema, { key: Buffer.from(`k${i}`), value: Buffer.alloc(n, 120), modRevision: 5n }) }));
  return create(WatchResponseSchema, { watchId: 3n, events });
}

test("fragments: small or single-event responses stay whole; large ones split under the limit", () => {
  assert.equal(fragments(response([10, 10]), 1000).length, 1);
  assert.equal(fragments(response([5000]), 1000).length, 1, "one event is never split");
  const parts = fragments(response([300, 300, 300, 300, 300, 300, 300]), 1000);
  assert.ok(parts.length > 1);
  assert.deepEqual(parts.map((p) => p.fragment), [...parts.slice(1).map(() => true), false]);
  assert.deepEqual(parts.flatMap((p) => p.events.map((e) => Buffer.from(e.kv!.key).toString())), ["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
  for (const part of parts.slice(0, -1)) {
    // Each part is under the limit, and adding its successor's first event would reach it.
    assert.ok(toBinary(WatchResponseSchema, part).length < 1000 || part.events.length === 1);
  }
  for (let i = 0; i + 1 < parts.length; i++) {
    const grown = create(WatchResponseSchema, { ...parts[i]!, events: [...parts[i]!.events, parts[i + 1]!.events[0]!] });
    assert.ok(toBinary(WatchResponseSchema, grown).length >= 1000);
  }
});

test("JSON object splitter: objects across chunks, strings with braces, whitespace, bad input", () => {
  const s = new JsonObjectSplitter();
  assert.deepEqual(s.push('{"a":1}{"b":'), ['{"a":1}']);
  assert.deepEqual(s.push('"}{\\""}\n {"c":[1,{"d":2}]}'), ['{"b":"}{\\""}', '{"c":[1,{"d":2}]}']);
  assert.deepEqual(s.push("  "), []);
  assert.throws(() => s.push("x"), /invalid character 'x' looking for beginning of value/);
});
