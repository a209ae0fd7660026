/** Byte layouts of the storage schema, checked against bytes etcd 3.4 writes. */
import test from "node:test";
import assert from "node:assert/strict";
import {
  decodeKeyValue, decodeLease, decodeRevisionKey, encodeKeyValue, encodeLease, encodeLeaseKey, encodeMemberJson,
  decodeMemberJson, encodeRevisionKey, isTombstoneKey, encodeAlarmKey, decodeAlarmKey,
} from "../../src/storage/schema.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const text = (s: string) => new TextEncoder().encode(s);

test("revision keys are big-endian main, '_', big-endian sub, optional 't'", () => {
  assert.equal(hex(encodeRevisionKey({ main: 0x0102, sub: 3 })), "0000000000000102" + "5f" + "0000000000000003");
  const tomb = encodeRevisionKey({ main: 5, sub: 0 }, true);
  assert.equal(tomb.length, 18);
  assert.ok(isTombstoneKey(tomb));
  assert.ok(!isTombstoneKey(encodeRevisionKey({ main: 5, sub: 0 })));
  assert.deepEqual(decodeRevisionKey(tomb), { main: 5, sub: 0 });
});

test("KeyValue encodes as gogoproto does: field order, zero fields omitted", () => {
  const kv = { key: text("foo"), createRevision: 2, modRevision: 2, version: 1, value: text("bar"), lease: 0n };
  assert.equal(hex(encodeKeyValue(kv)), "0a03666f6f" + "1002" + "1802" + "2001" + "2a03626172");
  assert.deepEqual(decodeKeyValue(encodeKeyValue(kv)), kv);
  // A tombstone value carries only the key.
  assert.equal(hex(encodeKeyValue({ key: text("a"), createRevision: 0, modRevision: 0, version: 0, value: new Uint8Array(0), lease: 0n })), "0a0161");
  // Lease IDs are int64 varints; large ones need 9 bytes, 300 needs two.
  const leased = encodeKeyValue({ key: text("k"), createRevision: 300, modRevision: 300, version: 1, value: new Uint8Array(0), lease: 0x694d7b3f1c2a8e05n });
  assert.equal(hex(leased).slice(0, 16), "0a016b10ac0218ac");
  assert.equal(decodeKeyValue(leased).lease, 0x694d7b3f1c2a8e05n);
});

test("lease key and value", () => {
  assert.equal(hex(encodeLeaseKey(0x10n)), "0000000000000010");
  assert.equal(hex(encodeLease({ id: 0x10n, ttlSeconds: 60, remainingTtlSeconds: 0 })), "0810" + "103c");
  assert.deepEqual(decodeLease(encodeLease({ id: -2n, ttlSeconds: 5, remainingTtlSeconds: 4 })), { id: -2n, ttlSeconds: 5, remainingTtlSeconds: 4 });
});

test("member JSON and alarm key", () => {
  const m = { id: 0x8e9e05c52164694dn, peerUrls: ["http://localhost:2380"], isLearner: false, name: "default", clientUrls: ["http://localhost:2379"] };
  assert.equal(new TextDecoder().decode(encodeMemberJson(m)),
    '{"id":10276657743932975437,"peerURLs":["http://localhost:2380"],"name":"default","clientURLs":["http://localhost:2379"]}');
  assert.deepEqual(decodeMemberJson(encodeMemberJson(m)), m);
  assert.equal(hex(encodeAlarmKey({ memberId: 1n, alarm: 1 })), "08011001");
  assert.deepEqual(decodeAlarmKey(encodeAlarmKey({ memberId: 2n ** 63n, alarm: 2 })), { memberId: 2n ** 63n, alarm: 2 });
});
