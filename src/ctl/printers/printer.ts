/**
 * The output-format interface every cairnctl command prints through, mirroring etcdctl's printer:
 * one implementation per format (simple, json, fields, table, protobuf). A format that does not
 * support a response ends the command with `<format> not supported as output format` (exit 4).
 */
import type {
  AlarmResponse,
  AuthRoleAddResponse,
  AuthRoleDeleteResponse,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionResponse,
  AuthRoleListResponse,
  AuthRoleRevokePermissionResponse,
  AuthUserAddResponse,
  AuthUserChangePasswordResponse,
  AuthUserDeleteResponse,
  AuthUserGetResponse,
  AuthUserGrantRoleResponse,
  AuthUserListResponse,
  AuthUserRevokeRoleResponse,
  DeleteRangeResponse,
  HashKVResponse,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateResponse,
  MoveLeaderResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
  TxnResponse,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import type { Event } from "../../api/gen/mvccpb/kv_pb.js";
import { CtlExit, ExitCode } from "../exit.js";

export interface EndpointHealth {
  readonly ep: string;
  readonly health: boolean;
  /** Go Duration text of the check's round trip. */
  readonly took: string;
  /** Empty when healthy. */
  readonly error: string;
}

export interface EndpointStatus {
  readonly ep: string;
  readonly resp: StatusResponse;
}

export interface EndpointHashKV {
  readonly ep: string;
  readonly resp: HashKVResponse;
}

/** clientv3's WatchResponse as etcdctl prints it. */
export interface WatchResult {
  readonly header: ResponseHeader;
  readonly events: readonly Event[];
  readonly compactRevision: bigint;
  readonly canceled: boolean;
  readonly created: boolean;
}

/** Offline snapshot status (hash, revision, keys, size). */
export interface DbStatus {
  readonly hash: number;
  readonly revision: bigint;
  readonly totalKey: number;
  readonly totalSize: bigint;
}

export interface Printer {
  del(r: DeleteRangeResponse): void;
  get(r: RangeResponse): void;
  put(r: PutResponse): void;
  txn(r: TxnResponse): void;
  watch(r: WatchResult): void;

  grant(r: LeaseGrantResponse): void;
  revoke(id: bigint, r: LeaseRevokeResponse): void;
  keepAlive(r: LeaseKeepAliveResponse): void;
  timeToLive(r: LeaseTimeToLiveResponse, keys: boolean): void;
  leases(r: LeaseLeasesResponse): void;

  memberAdd(r: MemberAddResponse): void;
  memberRemove(id: bigint, r: MemberRemoveResponse): void;
  memberUpdate(id: bigint, r: MemberUpdateResponse): void;
  memberPromote(id: bigint, r: MemberPromoteResponse): void;
  memberList(r: MemberListResponse): void;

  endpointHealth(list: readonly EndpointHealth[]): void;
  endpointStatus(list: readonly EndpointStatus[]): void;
  endpointHashKV(list: readonly EndpointHashKV[]): void;
  moveLeader(leader: bigint, target: bigint, r: MoveLeaderResponse): void;

  alarm(r: AlarmResponse): void;
  dbStatus(s: DbStatus): void;

  roleAdd(role: string, r: AuthRoleAddResponse): void;
  roleGet(role: string, r: AuthRoleGetResponse): void;
  roleDelete(role: string, r: AuthRoleDeleteResponse): void;
  roleList(r: AuthRoleListResponse): void;
  roleGrantPermission(role: string, r: AuthRoleGrantPermissionResponse): void;
  roleRevokePermission(role: string, key: string, end: string, r: AuthRoleRevokePermissionResponse): void;

  userAdd(user: string, r: AuthUserAddResponse): void;
  userGet(user: string, r: AuthUserGetResponse): void;
  userList(r: AuthUserListResponse): void;
  userChangePassword(r: AuthUserChangePasswordResponse): void;
  userGrantRole(user: string, role: string, r: AuthUserGrantRoleResponse): void;
  userRevokeRole(user: string, role: string, r: AuthUserRevokeRoleResponse): void;
  userDelete(user: string, r: AuthUserDeleteResponse): void;
}

/** A printer that supports nothing; formats extend it and override what they print. */
export class UnsupportedPrinter implements Printer {
  constructor(readonly format: string) {}

  protected unsupported(): never {
    throw new CtlExit(ExitCode.badFeature, `${this.format} not supported as output format`);
  }

  del(_r: DeleteRangeResponse): void { this.unsupported(); }
  get(_r: RangeResponse): void { this.unsupported(); }
  put(_r: PutResponse): void { this.unsupported(); }
  txn(_r: TxnResponse): void { this.unsupported(); }
  watch(_r: WatchResult): void { this.unsupported(); }
  grant(_r: LeaseGrantResponse): void { this.unsupported(); }
  revoke(_id: bigint, _r: LeaseRevokeResponse): void { this.unsupported(); }
  keepAlive(_r: LeaseKeepAliveResponse): void { this.unsupported(); }
  timeToLive(_r: LeaseTimeToLiveResponse, _keys: boolean): void { this.unsupported(); }
  leases(_r: LeaseLeasesResponse): void { this.unsupported(); }
  memberAdd(_r: MemberAddResponse): void { this.unsupported(); }
  memberRemove(_id: bigint, _r: MemberRemoveResponse): void { this.unsupported(); }
  memberUpdate(_id: bigint, _r: MemberUpdateResponse): void { this.unsupported(); }
  memberPromote(_id: bigint, _r: MemberPromoteResponse): void { this.unsupported(); }
  memberList(_r: MemberListResponse): void { this.unsupported(); }
  endpointHealth(_list: readonly EndpointHealth[]): void { this.unsupported(); }
  endpointStatus(_list: readonly EndpointStatus[]): void { this.unsupported(); }
  endpointHashKV(_list: readonly EndpointHashKV[]): void { this.unsupported(); }
  moveLeader(_leader: bigint, _target: bigint, _r: MoveLeaderResponse): void { this.unsupported(); }
  alarm(_r: AlarmResponse): void { this.unsupported(); }
  dbStatus(_s: DbStatus): void { this.unsupported(); }
  roleAdd(_role: string, _r: AuthRoleAddResponse): void { this.unsupported(); }
  roleGet(_role: string, _r: AuthRoleGetResponse): void { this.unsupported(); }
  roleDelete(_role: string, _r: AuthRoleDeleteResponse): void { this.unsupported(); }
  roleList(_r: AuthRoleListResponse): void { this.unsupported(); }
  roleGrantPermission(_role: string, _r: AuthRoleGrantPermissionResponse): void { this.unsupported(); }
  roleRevokePermission(_role: string, _key: string, _end: string, _r: AuthRoleRevokePermissionResponse): void { this.unsupported(); }
  userAdd(_user: string, _r: AuthUserAddResponse): void { this.unsupported(); }
  userGet(_user: string, _r: AuthUserGetResponse): void { this.unsupported(); }
  userList(_r: AuthUserListResponse): void { this.unsupported(); }
  userChangePassword(_r: AuthUserChangePasswordResponse): void { this.unsupported(); }
  userGrantRole(_user: string, _role: string, _r: AuthUserGrantRoleResponse): void { this.unsupported(); }
  userRevokeRole(_user: string, _role: string, _r: AuthUserRevokeRoleResponse): void { this.unsupported(); }
  userDelete(_user: string, _r: AuthUserDeleteResponse): void { this.unsupported(); }
}

/** Rows shared by the simple and table formats (etcdctl's make*Table helpers). */
export const tables = {
  memberList(r: MemberListResponse, hex: (v: bigint) => string): { header: string[]; rows: string[][] } {
    const header = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];
    const rows = r.members.map((m) => [
      hex(m.ID),
      m.name.length === 0 ? "unstarted" : "started",
      m.name,
      m.peerURLs.join(","),
      m.clientURLs.join(","),
      m.isLearner ? "true" : "false",
    ]);
    return { header, rows };
  },
  endpointHealth(list: readonly EndpointHealth[]): { header: string[]; rows: string[][] } {
    return { header: ["endpoint", "health", "took", "error"], rows: list.map((h) => [h.ep, String(h.health), h.took, h.error]) };
  },
  endpointStatus(list: readonly EndpointStatus[], hex: (v: bigint) => string, humanize: (v: bigint) => string) {
    const header = ["endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term", "raft index", "raft applied index", "errors"];
    const rows = list.map(({ ep, resp }) => [
      ep,
      hex(resp.header?.memberId ?? 0n),
      resp.version,
      humanize(resp.dbSize),
      String(resp.leader === (resp.header?.memberId ?? 0n)),
      String(resp.isLearner),
      String(resp.raftTerm),
      String(resp.raftIndex),
      String(resp.raftAppliedIndex),
      resp.errors.join(", "),
    ]);
    return { header, rows };
  },
  endpointHashKV(list: readonly EndpointHashKV[]) {
    return { header: ["endpoint", "hash"], rows: list.map((h) => [h.ep, String(h.resp.hash)]) };
  },
  dbStatus(s: DbStatus, humanize: (v: bigint) => string) {
    return {
      header: ["hash", "revision", "total keys", "total size"],
      rows: [[s.hash.toString(16), String(s.revision), String(s.totalKey), humanize(s.totalSize)]],
    };
  },
};
