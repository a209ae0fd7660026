/**
 * Public surface of the MVCC store. See store.ts for the model and the apply contract.
 */
export { MvccStore, loadBuckets } from "./store.js";
export type { HashKVResult, LeaseHooks, RangeOptions, RangeResult, TxnRead, TxnWrite } from "./store.js";
export { executeRange, mvccRangeEnd, SortOrder, SortTarget } from "./range.js";
export type { RangeRequest, RangeResponse } from "./range.js";
export { CompactedError, FutureRevisionError, COMPACTED_MESSAGE, FUTURE_REVISION_MESSAGE } from "./errors.js";
export { crc32cUpdate } from "./crc32c.js";
