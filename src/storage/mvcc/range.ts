/**
 * etcd's RangeRequest semantics on top of an MVCC read view (etcdserver applierV3backend.Range):
 * "\0" range_end, limit with the `more` flag, sort order and target, min/max mod/create revision
 * filters, keys_only and count_only. `count` is the number of keys in the range before the
 * revision filters and the limit, exactly as etcd reports it.
 */
import type { KeyValue } from "../schema.js";
import type { TxnRead } from "./store.js";
import { goSort } from "./go-sort.js";

/** etcdserverpb.RangeRequest.SortOrder numbers. */
export enum SortOrder {
  None = 0,
  Ascend = 1,
  Descend = 2,
}

/** etcdserverpb.RangeRequest.SortTarget numbers. */
export enum SortTarget {
  Key = 0,
  Version = 1,
  Create = 2,
  Mod = 3,
  Value = 4,
}

/** The RangeRequest fields that shape a read (serializable is the server's business). */
export interface RangeRequest {
  key: Uint8Array;
  /** Empty or absent: only `key`; "\0": every key ≥ `key`; otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  /** Maximum kvs returned (0: no limit). */
  limit?: number;
  /** Read at this revision (0: current). */
  revision?: number;
  sortOrder?: SortOrder;
  sortTarget?: SortTarget;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

/** The RangeResponse fields the store computes (the header revision is `revision`). */
export interface RangeResponse {
  kvs: KeyValue[];
  /** More keys matched than `limit` allowed. */
  more: boolean;
  /** Keys in the range at the read revision. */
  count: number;
  /** Store revision of the read (response header revision). */
  revision: number;
}

/** Maps a request range_end to the MVCC-level end: null = single key, empty = to the last key. */
export function mvccRangeEnd(rangeEnd: Uint8Array | undefined): Uint8Array | null {
  if (rangeEnd === undefined || rangeEnd.length === 0) return null;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return new Uint8Array(0);
  return rangeEnd;
}

/** Executes a RangeRequest against `txn`. Throws the store's CompactedError / FutureRevisionError. */
export function executeRange(txn: TxnRead, req: RangeRequest): RangeResponse {
  const sortOrder = req.sortOrder ?? SortOrder.None;
  const sortTarget = req.sortTarget ?? SortTarget.Key;
  const minMod = req.minModRevision ?? 0;
  const maxMod = req.maxModRevision ?? 0;
  const minCreate = req.minCreateRevision ?? 0;
  const maxCreate = req.maxCreateRevision ?? 0;
  const requestLimit = req.limit ?? 0;

  // With sorting or filtering everything is fetched, then sorted and cut; otherwise one extra kv
  // is fetched so that `more` can be told.
  let limit = requestLimit;
  if (sortOrder !== SortOrder.None || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0) limit = 0;
  if (limit > 0) limit += 1;

  const result = txn.range(req.key, mvccRangeEnd(req.rangeEnd), { limit, rev: req.revision ?? 0, count: req.countOnly ?? false });
  let kvs = result.kvs;
  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);

  // etcd sorts ascending by default when a non-key target is given without an order.
  const order = sortTarget !== SortTarget.Key && sortOrder === SortOrder.None ? SortOrder.Ascend : sortOrder;
  if (order !== SortOrder.None) {
    const compare = comparator(sortTarget);
    // Go's sort.Sort (not stable), so that keys with equal sort values come out in etcd's order;
    // DESCEND is sort.Reverse: Less(i, j) = Less(j, i).
    kvs = [...kvs];
    goSort(kvs, order === SortOrder.Ascend ? (a, b) => compare(a, b) < 0 : (a, b) => compare(b, a) < 0);
  }
  let more = false;
  if (requestLimit > 0 && kvs.length > requestLimit) {
    kvs = kvs.slice(0, requestLimit);
    more = true;
  }
  if (req.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
  return { kvs, more, count: result.count, revision: result.rev };
}

function comparator(target: SortTarget): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case SortTarget.Key:
      return (a, b) => Buffer.compare(a.key, b.key);
    case SortTarget.Version:
      return (a, b) => a.version - b.version;
    case SortTarget.Create:
      return (a, b) => a.createRevision - b.createRevision;
    case SortTarget.Mod:
      return (a, b) => a.modRevision - b.modRevision;
    case SortTarget.Value:
      return (a, b) => Buffer.compare(a.value, b.value);
  }
}
