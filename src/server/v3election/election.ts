/**
 * v3electionpb.Election as etcd 3.4 serves it (etcdserver/api/v3election over clientv3/concurrency's
 * Election). A candidate's key is "<name>/<lease hex>" with its lease; the oldest key under
 * "<name>/" is the leader and its value the proclaimed value. Campaign waits until every older
 * candidate's key is gone; Proclaim and Resign act only while the key still has the leader's create
 * revision; Observe streams the leader's value each time it changes.
 */
import { create } from "@bufbuild/protobuf";
import { EtcdError, GrpcCode } from "../../api/errors.js";
import { RangeRequestSchema, TxnRequestSchema, type ResponseHeader } from "../../api/gen/etcdserverpb/rpc_pb.js";
import {
  CampaignResponseSchema,
  LeaderKeySchema,
  LeaderResponseSchema,
  ProclaimResponseSchema,
  ResignResponseSchema,
  type CampaignRequest,
  type CampaignResponse,
  type LeaderKey,
  type LeaderRequest,
  type LeaderResponse,
  type ProclaimRequest,
  type ProclaimResponse,
  type ResignRequest,
  type ResignResponse,
} from "../../api/gen/v3electionpb/v3election_pb.js";
import type { KeyValue } from "../../api/gen/mvccpb/kv_pb.js";
import { toWire } from "../store.js";
import { EventType } from "../../storage/watch/index.js";
import { createRevisionIs, firstCreate, leaseHex, opDelete, opGet, opPut, prefixEnd, type Abort, type LocalClient } from "../v3lock/local-client.js";

/** Errors the concurrency package returns; etcd sends them with code Unknown. */
export const ELECTION_NOT_LEADER = "election: not leader";
export const ELECTION_NO_LEADER = "election: no leader";
export const MISSING_LEADER_KEY = '"leader" field must be provided';

function unknownError(message: string): EtcdError {
  return new EtcdError(GrpcCode.UNKNOWN, message, undefined);
}

export class ElectionService {
  constructor(private readonly client: LocalClient) {}

  async campaign(request: CampaignRequest, abort: Abort): Promise<CampaignResponse> {
    const prefix = withSlash(request.name);
    const lease = await this.client.sessionLease(request.lease);
    const key = concat(prefix, leaseHex(lease));
    const response = await this.client.txn(
      create(TxnRequestSchema, {
        compare: [createRevisionIs(key, 0n)],
        success: [opPut(key, request.value, { lease })],
        failure: [opGet(create(RangeRequestSchema, { key }))],
      }),
    );
    let leaderRev = response.header?.revision ?? 0n;
    if (!response.succeeded) {
      const got = response.responses[0]?.response;
      const kv = got?.case === "responseRange" ? got.value.kvs[0] : undefined;
      leaderRev = kv?.createRevision ?? 0n;
      if (kv !== undefined && Buffer.compare(kv.value, request.value) !== 0) {
        try {
          await this.proclaimAt(key, leaderRev, request.value);
        } catch (err) {
          await this.resignAt(key, leaderRev).catch(() => undefined);
          throw err;
        }
      }
    }
    try {
      await this.client.waitDeletes(prefix, leaderRev - 1n, abort);
    } catch (err) {
      if (abort.aborted) await this.resignAt(key, leaderRev).catch(() => undefined);
      throw err;
    }
    const leader = create(LeaderKeySchema, { name: request.name, key, rev: leaderRev, lease });
    // etcd answers with the header of the campaign txn (not of a proclaim it made).
    return create(CampaignResponseSchema, { header: response.header, leader });
  }

  async proclaim(request: ProclaimRequest): Promise<ProclaimResponse> {
    const leader = requireLeader(request.leader);
    const header = await this.proclaimAt(leader.key, leader.rev, request.value);
    return create(ProclaimResponseSchema, { header });
  }

  async resign(request: ResignRequest): Promise<ResignResponse> {
    const leader = requireLeader(request.leader);
    const header = await this.resignAt(leader.key, leader.rev);
    return create(ResignResponseSchema, { header });
  }

  async leader(request: LeaderRequest): Promise<LeaderResponse> {
    const response = await this.client.range(firstCreate(withSlash(request.name)));
    const kv = response.kvs[0];
    if (kv === undefined) throw unknownError(ELECTION_NO_LEADER);
    return create(LeaderResponseSchema, { header: response.header, kv });
  }

  /**
   * concurrency's observe loop: send the current leader (or wait for the first put under the
   * prefix), then every change of its key until it is deleted, then look again. Ends on abort.
   */
  async observe(request: LeaderRequest, abort: Abort, send: (response: LeaderResponse) => void): Promise<void> {
    const prefix = withSlash(request.name);
    while (!abort.aborted) {
      const response = await this.client.range(firstCreate(prefix));
      let kv: KeyValue | undefined = response.kvs[0];
      let header: ResponseHeader | undefined = response.header;
      if (kv === undefined) {
        const startRev = Number(response.header?.revision ?? 0n);
        await this.client.watch(prefix, prefixEnd(prefix), startRev, abort, (r) => {
          const put = r.events.find((e) => e.type === EventType.Put);
          if (put === undefined) return false;
          kv = toWire(put.kv);
          header = { ...response.header!, revision: kv.modRevision };
          return true;
        });
      }
      if (kv === undefined || header === undefined) return;
      send(create(LeaderResponseSchema, { header, kv }));
      const base = response.header!;
      await this.client.watch(kv.key, null, Number(header.revision) + 1, abort, (r) => {
        for (const e of r.events) {
          if (e.type === EventType.Delete) return true;
          send(create(LeaderResponseSchema, { header: { ...base, revision: BigInt(r.revision) }, kv: toWire(e.kv) }));
        }
        return false;
      });
    }
  }

  private async proclaimAt(key: Uint8Array, rev: bigint, value: Uint8Array): Promise<ResponseHeader | undefined> {
    const response = await this.client.txn(
      create(TxnRequestSchema, { compare: [createRevisionIs(key, rev)], success: [opPut(key, value, { ignoreLease: true })] }),
    );
    if (!response.succeeded) throw unknownError(ELECTION_NOT_LEADER);
    return response.header;
  }

  private async resignAt(key: Uint8Array, rev: bigint): Promise<ResponseHeader | undefined> {
    const response = await this.client.txn(create(TxnRequestSchema, { compare: [createRevisionIs(key, rev)], success: [opDelete(key)] }));
    return response.header;
  }
}

function requireLeader(leader: LeaderKey | undefined): LeaderKey {
  if (leader === undefined) throw unknownError(MISSING_LEADER_KEY);
  return leader;
}

function withSlash(name: Uint8Array): Uint8Array {
  return concat(name, "/");
}

function concat(bytes: Uint8Array, suffix: string): Uint8Array {
  return new Uint8Array(Buffer.concat([bytes, Buffer.from(suffix)]));
}

