/**
 * etcdctl's "json" output: Go's encoding/json of the response structs. Responses that clientv3
 * wraps (lease grant, keep-alive, time-to-live, leases, watch) have their Go wrapper's shape.
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { EventSchema } from "../../api/gen/mvccpb/kv_pb.js";
import { out } from "../output.js";
import { goJson, goJsonString } from "./go.js";
import { UnsupportedPrinter, type DbStatus, type EndpointHashKV, type EndpointHealth, type EndpointStatus, type WatchResult } from "./printer.js";

function line(text: string): void {
  out(`${text}\n`);
}

/** The fields of an embedded *pb.ResponseHeader, promoted into the wrapper (or null when nil). */
function embeddedHeader(header: pb.ResponseHeader | undefined): string {
  if (header === undefined) return "";
  const inner = goJson(pb.ResponseHeaderSchema, header).slice(1, -1);
  return inner === "" ? "" : `${inner},`;
}

export class JsonPrinter extends UnsupportedPrinter {
  constructor() {
    super("json");
  }

  private message<Desc extends DescMessage>(schema: Desc, message: Message): void {
    line(goJson(schema, message));
  }

  override del(r: pb.DeleteRangeResponse): void { this.message(pb.DeleteRangeResponseSchema, r); }
  override get(r: pb.RangeResponse): void { this.message(pb.RangeResponseSchema, r); }
  override put(r: pb.PutResponse): void { this.message(pb.PutResponseSchema, r); }
  override txn(r: pb.TxnResponse): void { this.message(pb.TxnResponseSchema, r); }
  override watch(r: WatchResult): void {
    const events = r.events.length === 0 ? "null" : `[${r.events.map((e) => goJson(EventSchema, e)).join(",")}]`;
    line(
      `{"Header":${goJson(pb.ResponseHeaderSchema, r.header)},"Events":${events},"CompactRevision":${r.compactRevision},` +
        `"Canceled":${r.canceled},"Created":${r.created}}`,
    );
  }
  override grant(r: pb.LeaseGrantResponse): void {
    line(`{${embeddedHeader(r.header)}"ID":${r.ID},"TTL":${r.TTL},"Error":${goJsonString(r.error)}}`);
  }
  override revoke(_id: bigint, r: pb.LeaseRevokeResponse): void { this.message(pb.LeaseRevokeResponseSchema, r); }
  override keepAlive(r: pb.LeaseKeepAliveResponse): void {
    line(`{${embeddedHeader(r.header)}"ID":${r.ID},"TTL":${r.TTL}}`);
  }
  override timeToLive(r: pb.LeaseTimeToLiveResponse): void {
    const keys = r.keys.length === 0 ? "null" : `[${r.keys.map((k) => `"${Buffer.from(k).toString("base64")}"`).join(",")}]`;
    line(`{${embeddedHeader(r.header)}"id":${r.ID},"ttl":${r.TTL},"granted-ttl":${r.grantedTTL},"keys":${keys}}`);
  }
  override leases(r: pb.LeaseLeasesResponse): void {
    const leases = `[${r.leases.map((l) => `{"id":${l.ID}}`).join(",")}]`;
    line(`{${embeddedHeader(r.header)}"leases":${leases}}`);
  }
  override memberAdd(r: pb.MemberAddResponse): void { this.message(pb.MemberAddResponseSchema, r); }
  override memberRemove(_id: bigint, r: pb.MemberRemoveResponse): void { this.message(pb.MemberRemoveResponseSchema, r); }
  override memberUpdate(_id: bigint, r: pb.MemberUpdateResponse): void { this.message(pb.MemberUpdateResponseSchema, r); }
  override memberPromote(_id: bigint, r: pb.MemberPromoteResponse): void { this.message(pb.MemberPromoteResponseSchema, r); }
  override memberList(r: pb.MemberListResponse): void { this.message(pb.MemberListResponseSchema, r); }
  override endpointHealth(list: readonly EndpointHealth[]): void {
    const items = list.map(
      (h) => `{"endpoint":${goJsonString(h.ep)},"health":${h.health},"took":${goJsonString(h.took)}${h.error === "" ? "" : `,"error":${goJsonString(h.error)}`}}`,
    );
    line(`[${items.join(",")}]`);
  }
  override endpointStatus(list: readonly EndpointStatus[]): void {
    line(`[${list.map((s) => `{"Endpoint":${goJsonString(s.ep)},"Status":${goJson(pb.StatusResponseSchema, s.resp)}}`).join(",")}]`);
  }
  override endpointHashKV(list: readonly EndpointHashKV[]): void {
    line(`[${list.map((s) => `{"Endpoint":${goJsonString(s.ep)},"HashKV":${goJson(pb.HashKVResponseSchema, s.resp)}}`).join(",")}]`);
  }
  override moveLeader(_leader: bigint, _target: bigint, r: pb.MoveLeaderResponse): void { this.message(pb.MoveLeaderResponseSchema, r); }
  override alarm(r: pb.AlarmResponse): void { this.message(pb.AlarmResponseSchema, r); }
  override dbStatus(s: DbStatus): void {
    line(`{"hash":${s.hash},"revision":${s.revision},"totalKey":${s.totalKey},"totalSize":${s.totalSize}}`);
  }
  override roleAdd(_role: string, r: pb.AuthRoleAddResponse): void { this.message(pb.AuthRoleAddResponseSchema, r); }
  override roleGet(_role: string, r: pb.AuthRoleGetResponse): void { this.message(pb.AuthRoleGetResponseSchema, r); }
  override roleDelete(_role: string, r: pb.AuthRoleDeleteResponse): void { this.message(pb.AuthRoleDeleteResponseSchema, r); }
  override roleList(r: pb.AuthRoleListResponse): void { this.message(pb.AuthRoleListResponseSchema, r); }
  override roleGrantPermission(_role: string, r: pb.AuthRoleGrantPermissionResponse): void { this.message(pb.AuthRoleGrantPermissionResponseSchema, r); }
  override roleRevokePermission(_role: string, _key: string, _end: string, r: pb.AuthRoleRevokePermissionResponse): void {
    this.message(pb.AuthRoleRevokePermissionResponseSchema, r);
  }
  override userAdd(_user: string, r: pb.AuthUserAddResponse): void { this.message(pb.AuthUserAddResponseSchema, r); }
  override userGet(_user: string, r: pb.AuthUserGetResponse): void { this.message(pb.AuthUserGetResponseSchema, r); }
  override userList(r: pb.AuthUserListResponse): void { this.message(pb.AuthUserListResponseSchema, r); }
  override userChangePassword(r: pb.AuthUserChangePasswordResponse): void { this.message(pb.AuthUserChangePasswordResponseSchema, r); }
  override userGrantRole(_user: string, _role: string, r: pb.AuthUserGrantRoleResponse): void { this.message(pb.AuthUserGrantRoleResponseSchema, r); }
  override userRevokeRole(_user: string, _role: string, r: pb.AuthUserRevokeRoleResponse): void { this.message(pb.AuthUserRevokeRoleResponseSchema, r); }
  override userDelete(_user: string, r: pb.AuthUserDeleteResponse): void { this.message(pb.AuthUserDeleteResponseSchema, r); }
}
