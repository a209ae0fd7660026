/**
 * etcdctl's "protobuf" output: the response's protobuf encoding, written raw. Where etcdctl hands
 * the printer a clientv3 wrapper instead of a protobuf message, it fails or prints only the
 * promoted header; both are reproduced.
 */
import { create, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { CtlExit, ExitCode } from "../exit.js";
import { out } from "../output.js";
import { UnsupportedPrinter, type WatchResult } from "./printer.js";

export class ProtobufPrinter extends UnsupportedPrinter {
  constructor() {
    super("protobuf");
  }

  private message<Desc extends DescMessage>(schema: Desc, message: Message): void {
    out(toBinary(schema, message as never));
  }

  private header(header: pb.ResponseHeader | undefined): void {
    this.message(pb.ResponseHeaderSchema, header ?? create(pb.ResponseHeaderSchema));
  }

  /** etcdctl cannot marshal clientv3's value wrappers; its message contains Go pointers, so only the type is kept. */
  private cannotMarshal(goType: string): never {
    throw new CtlExit(ExitCode.badFeature, `marshal unsupported for type ${goType}`);
  }

  override del(r: pb.DeleteRangeResponse): void { this.message(pb.DeleteRangeResponseSchema, r); }
  override get(r: pb.RangeResponse): void { this.message(pb.RangeResponseSchema, r); }
  override put(r: pb.PutResponse): void { this.message(pb.PutResponseSchema, r); }
  override txn(r: pb.TxnResponse): void { this.message(pb.TxnResponseSchema, r); }
  override watch(r: WatchResult): void {
    this.message(
      pb.WatchResponseSchema,
      create(pb.WatchResponseSchema, {
        header: r.header,
        events: [...r.events],
        compactRevision: r.compactRevision,
        canceled: r.canceled,
        created: r.created,
      }),
    );
  }
  override grant(): void { this.cannotMarshal("clientv3.LeaseGrantResponse"); }
  override revoke(): void { this.cannotMarshal("etcdserverpb.LeaseRevokeResponse"); }
  override keepAlive(): void { this.cannotMarshal("clientv3.LeaseKeepAliveResponse"); }
  override timeToLive(r: pb.LeaseTimeToLiveResponse): void { this.header(r.header); }
  override leases(r: pb.LeaseLeasesResponse): void { this.header(r.header); }
  override memberAdd(r: pb.MemberAddResponse): void { this.message(pb.MemberAddResponseSchema, r); }
  override memberRemove(_id: bigint, r: pb.MemberRemoveResponse): void { this.message(pb.MemberRemoveResponseSchema, r); }
  override memberUpdate(_id: bigint, r: pb.MemberUpdateResponse): void { this.message(pb.MemberUpdateResponseSchema, r); }
  override memberPromote(_id: bigint, r: pb.MemberPromoteResponse): void { this.message(pb.MemberPromoteResponseSchema, r); }
  override memberList(r: pb.MemberListResponse): void { this.message(pb.MemberListResponseSchema, r); }
  override moveLeader(_l: bigint, _t: bigint, r: pb.MoveLeaderResponse): void { this.message(pb.MoveLeaderResponseSchema, r); }
  override alarm(r: pb.AlarmResponse): void { this.message(pb.AlarmResponseSchema, r); }
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
