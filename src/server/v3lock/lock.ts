/**
 * v3lockpb.Lock as etcd 3.4 serves it (etcdserver/api/v3lock over clientv3/concurrency's Mutex):
 * Lock puts "<name>/<lease hex>" with the caller's lease (or finds it already there) and waits
 * until every key under "<name>/" created before it is deleted; the oldest key holds the lock.
 * Unlock deletes the key. A caller that goes away while waiting has its key deleted.
 */
import { create } from "@bufbuild/protobuf";
import { DeleteRangeRequestSchema, RangeRequestSchema, TxnRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { LockResponseSchema, UnlockResponseSchema, type LockRequest, type LockResponse, type UnlockRequest, type UnlockResponse } from "../../api/gen/v3lockpb/v3lock_pb.js";
import { createRevisionIs, firstCreate, leaseHex, opGet, opPut, type Abort, type LocalClient } from "./local-client.js";

export class LockService {
  constructor(private readonly client: LocalClient) {}

  async lock(request: LockRequest, abort: Abort): Promise<LockResponse> {
    const prefix = new Uint8Array(Buffer.concat([request.name, Buffer.from("/")]));
    const lease = await this.client.sessionLease(request.lease);
    const myKey = new Uint8Array(Buffer.concat([prefix, Buffer.from(leaseHex(lease))]));
    const txn = create(TxnRequestSchema, {
      compare: [createRevisionIs(myKey, 0n)],
      success: [opPut(myKey, new Uint8Array(0), { lease }), opGet(firstCreate(prefix))],
      failure: [opGet(create(RangeRequestSchema, { key: myKey })), opGet(firstCreate(prefix))],
    });
    const response = await this.client.txn(txn);
    let myRev = response.header?.revision ?? 0n;
    if (!response.succeeded) {
      const mine = response.responses[0]?.response;
      myRev = mine?.case === "responseRange" ? (mine.value.kvs[0]?.createRevision ?? 0n) : 0n;
    }
    const owner = response.responses[1]?.response;
    const ownerKvs = owner?.case === "responseRange" ? owner.value.kvs : [];
    if (ownerKvs.length === 0 || ownerKvs[0]!.createRevision === myRev) {
      return create(LockResponseSchema, { header: response.header, key: myKey });
    }
    try {
      const header = await this.client.waitDeletes(prefix, myRev - 1n, abort);
      return create(LockResponseSchema, { header, key: myKey });
    } catch (err) {
      await this.client.deleteRange(create(DeleteRangeRequestSchema, { key: myKey })).catch(() => undefined);
      throw err;
    }
  }

  async unlock(request: UnlockRequest): Promise<UnlockResponse> {
    const response = await this.client.deleteRange(create(DeleteRangeRequestSchema, { key: request.key }));
    return create(UnlockResponseSchema, { header: response.header });
  }
}
