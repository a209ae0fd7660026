/** etcdserverpb.KV over EtcdServer. */
import type { KVHandlers } from "../api/grpc.js";
import type { EtcdServer } from "../server/server.js";
import { unary } from "./errors.js";

export function kvHandlers(server: EtcdServer): KVHandlers {
  return {
    range: unary((request) => server.range(request)),
    put: unary((request) => server.put(request)),
    deleteRange: unary((request) => server.deleteRange(request)),
    txn: unary((request) => server.txn(request)),
    compact: unary((request) => server.compact(request)),
  };
}
