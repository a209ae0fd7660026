/**
 * Gateway JSON decoding against messages recorded from etcd 3.4.23's gateway (POST /v3/kv/range);
 * the differential suite checks the same inputs live when etcd is installed.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { RangeRequestSchema, TxnRequestSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { goDecode } from "../../src/http/gojson.js";

const recorded: Array<[string, string | Record<string, unknown>]> = [
  ['{"key":123}', "json: cannot unmarshal number into Go value of type []uint8"],
  ['{"key":"YQ==","limit":"abc"}', "invalid character 'a' looking for beginning of value"],
  ['{"key":"!!!"}', "illegal base64 data at input byte 0"],
  ['{"key":"YWJj=","limit":1}', "illegal base64 data at input byte 4"],
  ['{"key":"YQ==","sort_order":"BOGUS"}', 'unknown value "BOGUS" for enum etcdserverpb.RangeRequest_SortOrder'],
  ['{"key":"YQ==","limit":1.5}', "json: cannot unmarshal number 1.5 into Go value of type int64"],
  ["[1]", "json: cannot unmarshal array into Go value of type map[string]json.RawMessage"],
  ['{"key":"YQ==","unknown_field":1}', { key: "YQ==" }],
  ['{"key":"YQ=="} trailing', { key: "YQ==" }],
  ["null", {}],
  ['{"key":null}', {}],
  ["", {}],
];

test("gateway JSON decoding gives etcd's answers", () => {
  for (const [body, expected] of recorded) {
    if (typeof expected === "string") assert.throws(() => goDecode(RangeRequestSchema, body), { message: expected }, body);
    else assert.deepEqual(goDecode(RangeRequestSchema, body), expected, body);
  }
  assert.throws(() => goDecode(TxnRequestSchema, '{"success":[{"request_put":{"key":5}}]}'), { message: "json: cannot unmarshal number into Go value of type []uint8" });
});
