/** etcdctl's "fields" output: one `"Name" : value` line per field, strings Go-quoted. */
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { Event_EventType, type KeyValue } from "../../api/gen/mvccpb/kv_pb.js";
import { Permission_Type } from "../../api/gen/authpb/auth_pb.js";
import { out } from "../output.js";
import { goQuote } from "./go.js";
import { UnsupportedPrinter, type DbStatus, type EndpointHashKV, type EndpointHealth, type EndpointStatus, type WatchResult } from "./printer.js";

function line(text: string): void {
  out(`${text}\n`);
}

export class FieldsPrinter extends UnsupportedPrinter {
  constructor() {
    super("fields");
  }

  private kv(prefix: string, kv: KeyValue | undefined): void {
    line(`"${prefix}Key" : ${goQuote(kv?.key ?? new Uint8Array())}`);
    line(`"${prefix}CreateRevision" : ${kv?.createRevision ?? 0n}`);
    line(`"${prefix}ModRevision" : ${kv?.modRevision ?? 0n}`);
    line(`"${prefix}Version" : ${kv?.version ?? 0n}`);
    line(`"${prefix}Value" : ${goQuote(kv?.value ?? new Uint8Array())}`);
    line(`"${prefix}Lease" : ${kv?.lease ?? 0n}`);
  }

  private header(h: pb.ResponseHeader | undefined): void {
    line(`"ClusterID" : ${h?.clusterId ?? 0n}`);
    line(`"MemberID" : ${h?.memberId ?? 0n}`);
    line(`"Revision" : ${h?.revision ?? 0n}`);
    line(`"RaftTerm" : ${h?.raftTerm ?? 0n}`);
  }

  override del(r: pb.DeleteRangeResponse): void {
    this.header(r.header);
    line(`"Deleted" : ${r.deleted}`);
    for (const kv of r.prevKvs) this.kv("Prev", kv);
  }
  override get(r: pb.RangeResponse): void {
    this.header(r.header);
    for (const kv of r.kvs) this.kv("", kv);
    line(`"More" : ${r.more}`);
    line(`"Count" : ${r.count}`);
  }
  override put(r: pb.PutResponse): void {
    this.header(r.header);
    if (r.prevKv !== undefined) this.kv("Prev", r.prevKv);
  }
  override txn(r: pb.TxnResponse): void {
    this.header(r.header);
    line(`"Succeeded" : ${r.succeeded}`);
    for (const op of r.responses) {
      const response = op.response;
      if (response.case === "responseDeleteRange") this.del(response.value);
      else if (response.case === "responsePut") this.put(response.value);
      else if (response.case === "responseRange") this.get(response.value);
      else line(`"Unknown" : ${goQuote(JSON.stringify(op))}`);
    }
  }
  override watch(r: WatchResult): void {
    this.header(r.header);
    for (const e of r.events) {
      line(`"Type" : ${Event_EventType[e.type]}`);
      if (e.prevKv !== undefined) this.kv("Prev", e.prevKv);
      this.kv("", e.kv);
    }
  }
  override grant(r: pb.LeaseGrantResponse): void {
    this.header(r.header);
    line(`"ID" : ${r.ID}`);
    line(`"TTL" : ${r.TTL}`);
  }
  override revoke(_id: bigint, r: pb.LeaseRevokeResponse): void {
    this.header(r.header);
  }
  override keepAlive(r: pb.LeaseKeepAliveResponse): void {
    this.header(r.header);
    line(`"ID" : ${r.ID}`);
    line(`"TTL" : ${r.TTL}`);
  }
  override timeToLive(r: pb.LeaseTimeToLiveResponse): void {
    this.header(r.header);
    line(`"ID" : ${r.ID}`);
    line(`"TTL" : ${r.TTL}`);
    line(`"GrantedTTL" : ${r.grantedTTL}`);
    for (const k of r.keys) line(`"Key" : ${goQuote(k)}`);
  }
  override leases(r: pb.LeaseLeasesResponse): void {
    this.header(r.header);
    for (const lease of r.leases) line(`"ID" : ${lease.ID}`);
  }
  override memberList(r: pb.MemberListResponse): void {
    this.header(r.header);
    for (const m of r.members) {
      line(`"ID" : ${m.ID}`);
      line(`"Name" : ${goQuote(m.name)}`);
      for (const u of m.peerURLs) line(`"PeerURL" : ${goQuote(u)}`);
      for (const u of m.clientURLs) line(`"ClientURL" : ${goQuote(u)}`);
      line(`"IsLearner" : ${m.isLearner}`);
      line("");
    }
  }
  override endpointHealth(list: readonly EndpointHealth[]): void {
    for (const h of list) {
      line(`"Endpoint" : ${goQuote(h.ep)}`);
      line(`"Health" : ${h.health}`);
      line(`"Took" : ${h.took}`);
      line(`"Error" : ${h.error}`);
      line("");
    }
  }
  override endpointStatus(list: readonly EndpointStatus[]): void {
    for (const { ep, resp } of list) {
      this.header(resp.header);
      line(`"Version" : ${goQuote(resp.version)}`);
      line(`"DBSize" : ${resp.dbSize}`);
      line(`"Leader" : ${resp.leader}`);
      line(`"IsLearner" : ${resp.isLearner}`);
      line(`"RaftIndex" : ${resp.raftIndex}`);
      line(`"RaftTerm" : ${resp.raftTerm}`);
      line(`"RaftAppliedIndex" : ${resp.raftAppliedIndex}`);
      line(`"Errors" : [${resp.errors.join(" ")}]`);
      line(`"Endpoint" : ${goQuote(ep)}`);
      line("");
    }
  }
  override endpointHashKV(list: readonly EndpointHashKV[]): void {
    for (const { ep, resp } of list) {
      this.header(resp.header);
      line(`"Endpoint" : ${goQuote(ep)}`);
      line(`"Hash" : ${resp.hash}`);
      line("");
    }
  }
  override alarm(r: pb.AlarmResponse): void {
    this.header(r.header);
    for (const a of r.alarms) {
      line(`"MemberID" : ${a.memberID}`);
      line(`"AlarmType" : ${pb.AlarmType[a.alarm]}`);
      line("");
    }
  }
  override dbStatus(s: DbStatus): void {
    line(`"Hash" : ${s.hash}`);
    line(`"Revision" : ${s.revision}`);
    line(`"Keys" : ${s.totalKey}`);
    line(`"Size" : ${s.totalSize}`);
  }
  override roleAdd(_role: string, r: pb.AuthRoleAddResponse): void { this.header(r.header); }
  override roleGet(_role: string, r: pb.AuthRoleGetResponse): void {
    this.header(r.header);
    for (const p of r.perm) {
      // etcdctl passes the name as a separate Println operand after a trailing space: two spaces.
      line(`"PermType" :  ${Permission_Type[p.permType]}`);
      line(`"Key" : ${goQuote(p.key)}`);
      line(`"RangeEnd" : ${goQuote(p.rangeEnd)}`);
    }
  }
  override roleDelete(_role: string, r: pb.AuthRoleDeleteResponse): void { this.header(r.header); }
  override roleList(r: pb.AuthRoleListResponse): void {
    this.header(r.header);
    line(`"Roles" :${r.roles.map((role) => ` ${goQuote(role)}`).join("")}`);
  }
  override roleGrantPermission(_role: string, r: pb.AuthRoleGrantPermissionResponse): void { this.header(r.header); }
  override roleRevokePermission(_role: string, _key: string, _end: string, r: pb.AuthRoleRevokePermissionResponse): void {
    this.header(r.header);
  }
  override userAdd(_user: string, r: pb.AuthUserAddResponse): void { this.header(r.header); }
  override userChangePassword(r: pb.AuthUserChangePasswordResponse): void { this.header(r.header); }
  override userGrantRole(_user: string, _role: string, r: pb.AuthUserGrantRoleResponse): void { this.header(r.header); }
  override userRevokeRole(_user: string, _role: string, r: pb.AuthUserRevokeRoleResponse): void { this.header(r.header); }
  override userDelete(_user: string, r: pb.AuthUserDeleteResponse): void { this.header(r.header); }
}
