/**
 * Base of the printers that print most responses as one whole protobuf message (json: Go's
 * encoding/json of the message; protobuf: its wire bytes). The response → schema dispatch is
 * written once here; each printer supplies how a message is written and overrides the rest.
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { UnsupportedPrinter } from "./printer.js";

export abstract class WholeMessagePrinter extends UnsupportedPrinter {
  /** Writes one response message in this printer's format. */
  protected abstract message<Desc extends DescMessage>(schema: Desc, message: Message): void;

  override del(r: pb.DeleteRangeResponse): void { this.message(pb.DeleteRangeResponseSchema, r); }
  override get(r: pb.RangeResponse): void { this.message(pb.RangeResponseSchema, r); }
  override put(r: pb.PutResponse): void { this.message(pb.PutResponseSchema, r); }
  override txn(r: pb.TxnResponse): void { this.message(pb.TxnResponseSchema, r); }
  override memberAdd(r: pb.MemberAddResponse): void { this.message(pb.MemberAddResponseSchema, r); }
  override memberRemove(_id: bigint, r: pb.MemberRemoveResponse): void { this.message(pb.MemberRemoveResponseSchema, r); }
  override memberUpdate(_id: bigint, r: pb.MemberUpdateResponse): void { this.message(pb.MemberUpdateResponseSchema, r); }
  override memberPromote(_id: bigint, r: pb.MemberPromoteResponse): void { this.message(pb.MemberPromoteResponseSchema, r); }
  override memberList(r: pb.MemberListResponse): void { this.message(pb.MemberListResponseSchema, r); }
  override moveLeader(_leader: bigint, _target: bigint, r: pb.MoveLeaderResponse): void { this.message(pb.MoveLeaderResponseSchema, r); }
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
