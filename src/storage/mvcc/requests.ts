/**
 * etcd's PutRequest and DeleteRangeRequest semantics on an MVCC write transaction
 * (etcdserver applierV3backend.Put / DeleteRange): prev_kv, ignore_value, ignore_lease, "\0"
 * range_end. Request validation (empty key, value given with ignore_value, lease given with
 * ignore_lease, lease existence) is the server's, before these run.
 */
import type { KeyValue } from "../schema.js";
import type { TxnWrite } from "./store.js";
import { mvccRangeEnd } from "./range.js";

/** ignore_value or ignore_lease was asked for a key that does not exist. */
export class KeyNotFoundError extends Error {
  readonly code = "KEY_NOT_FOUND";
  constructor() {
    super("etcdserver: key not found");
    this.name = "KeyNotFoundError";
  }
}

/** The PutRequest fields the store acts on. */
export interface PutRequest {
  key: Uint8Array;
  value: Uint8Array;
  /** Lease to attach (0n: none). */
  lease?: bigint;
  prevKv?: boolean;
  /** Keep the current value (the key must exist). */
  ignoreValue?: boolean;
  /** Keep the current lease (the key must exist). */
  ignoreLease?: boolean;
}

export interface PutResponse {
  /** Revision of the change (response header revision). */
  revision: number;
  /** The previous key-value when prev_kv was asked and the key existed. */
  prevKv: KeyValue | null;
}

/** Executes a PutRequest in `txn`. Throws KeyNotFoundError for ignore_value/ignore_lease on a missing key. */
export function executePut(txn: TxnWrite, req: PutRequest): PutResponse {
  let value = req.value;
  let lease = req.lease ?? 0n;
  let previous: KeyValue | undefined;
  if (req.ignoreValue === true || req.ignoreLease === true || req.prevKv === true) {
    previous = txn.range(req.key, null).kvs[0];
  }
  if (req.ignoreValue === true || req.ignoreLease === true) {
    if (previous === undefined) throw new KeyNotFoundError();
    if (req.ignoreValue === true) value = previous.value;
    if (req.ignoreLease === true) lease = previous.lease;
  }
  const revision = txn.put(req.key, value, lease);
  return { revision, prevKv: req.prevKv === true ? previous ?? null : null };
}

/** The DeleteRangeRequest fields. */
export interface DeleteRangeRequest {
  key: Uint8Array;
  /** Same rules as RangeRequest.range_end ("\0": every key ≥ key). */
  rangeEnd?: Uint8Array;
  prevKv?: boolean;
}

export interface DeleteRangeResponse {
  deleted: number;
  /** Revision after the delete (unchanged when nothing was deleted outside a txn). */
  revision: number;
  /** The deleted key-values when prev_kv was asked. */
  prevKvs: KeyValue[];
}

/** Executes a DeleteRangeRequest in `txn`. */
export function executeDeleteRange(txn: TxnWrite, req: DeleteRangeRequest): DeleteRangeResponse {
  const end = mvccRangeEnd(req.rangeEnd);
  const prevKvs = req.prevKv === true ? txn.range(req.key, end).kvs : [];
  const { deleted, rev } = txn.deleteRange(req.key, end);
  return { deleted, revision: rev, prevKvs };
}
