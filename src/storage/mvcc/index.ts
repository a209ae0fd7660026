/**
 * Public surface of the MVCC store. See store.ts for the model and the apply contract, range.ts
 * and requests.ts for etcd's request semantics on top of it.
 */
export { MvccStore, loadBuckets } from "./store.js";
export type { HashKVResult, LeaseHooks, RangeOptions, RangeResult, TxnRead, TxnWrite } from "./store.js";
export { executeRange, mvccRangeEnd, SortOrder, SortTarget } from "./range.js";
export type { RangeRequest, RangeResponse } from "./range.js";
export { executePut, executeDeleteRange, KeyNotFoundError } from "./requests.js";
export type { PutRequest, PutResponse, DeleteRangeRequest, DeleteRangeResponse } from "./requests.js";
export { CompactedError, FutureRevisionError, COMPACTED_MESSAGE, FUTURE_REVISION_MESSAGE } from "./errors.js";
export { crc32cUpdate } from "./crc32c.js";
