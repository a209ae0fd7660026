/** etcdctl's default "simple" output format. */
import type * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { AlarmType } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { Event_EventType, type KeyValue } from "../../api/gen/mvccpb/kv_pb.js";
import { Permission_Type, type Permission } from "../../api/gen/authpb/auth_pb.js";
import { out, err } from "../output.js";
import { hex, hex16, hexSpace16, humanizeBytes } from "./go.js";
import { tables, type DbStatus, type EndpointHashKV, type EndpointHealth, type EndpointStatus, type Printer, type WatchResult } from "./printer.js";

const latin1 = (bytes: Uint8Array) => Buffer.from(bytes);

/** Go's `\xNN` rendering used by --hex. */
function hexEscaped(bytes: Uint8Array): string {
  return [...bytes].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("");
}

/** The smallest key greater than every key with this prefix (clientv3.GetPrefixRangeEnd). */
export function prefixRangeEnd(key: Uint8Array): Uint8Array<ArrayBuffer> {
  const end = Uint8Array.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

export class SimplePrinter implements Printer {
  /** Print only values (get --print-value-only). */
  valueOnly = false;

  constructor(readonly isHex: boolean) {}

  private kv(kv: KeyValue | undefined): void {
    const key = kv?.key ?? new Uint8Array();
    const value = kv?.value ?? new Uint8Array();
    if (!this.valueOnly) {
      out(this.isHex ? hexEscaped(key) : latin1(key));
      out("\n");
    }
    out(this.isHex ? hexEscaped(value) : latin1(value));
    out("\n");
  }

  del(r: pb.DeleteRangeResponse): void {
    out(`${r.deleted}\n`);
    for (const kv of r.prevKvs) this.kv(kv);
  }
  get(r: pb.RangeResponse): void {
    for (const kv of r.kvs) this.kv(kv);
  }
  put(r: pb.PutResponse): void {
    out("OK\n");
    if (r.prevKv !== undefined) this.kv(r.prevKv);
  }
  txn(r: pb.TxnResponse): void {
    out(r.succeeded ? "SUCCESS\n" : "FAILURE\n");
    for (const op of r.responses) {
      out("\n");
      const response = op.response;
      if (response.case === "responseDeleteRange") this.del(response.value);
      else if (response.case === "responsePut") this.put(response.value);
      else if (response.case === "responseRange") this.get(response.value);
      else out(`unexpected response ${JSON.stringify(op)}\n`);
    }
  }
  watch(r: WatchResult): void {
    for (const e of r.events) {
      out(`${Event_EventType[e.type]}\n`);
      if (e.prevKv !== undefined) this.kv(e.prevKv);
      this.kv(e.kv);
    }
  }
  grant(r: pb.LeaseGrantResponse): void {
    out(`lease ${hex16(r.ID)} granted with TTL(${r.TTL}s)\n`);
  }
  revoke(id: bigint, _r: pb.LeaseRevokeResponse): void {
    out(`lease ${hex16(id)} revoked\n`);
  }
  keepAlive(r: pb.LeaseKeepAliveResponse): void {
    out(`lease ${hex16(r.ID)} keepalived with TTL(${r.TTL})\n`);
  }
  timeToLive(r: pb.LeaseTimeToLiveResponse, keys: boolean): void {
    if (r.grantedTTL === 0n && r.TTL === -1n) {
      out(`lease ${hex16(r.ID)} already expired\n`);
      return;
    }
    let text = `lease ${hex16(r.ID)} granted with TTL(${r.grantedTTL}s), remaining(${r.TTL}s)`;
    if (keys) text += `, attached keys([${r.keys.map((k) => Buffer.from(k).toString("latin1")).join(" ")}])`;
    out(Buffer.from(`${text}\n`, "latin1"));
  }
  leases(r: pb.LeaseLeasesResponse): void {
    out(`found ${r.leases.length} leases\n`);
    for (const lease of r.leases) out(`${hex16(lease.ID)}\n`);
  }
  memberAdd(r: pb.MemberAddResponse): void {
    out(`Member ${hexSpace16(r.member?.ID ?? 0n)} added to cluster ${hexSpace16(r.header?.clusterId ?? 0n)}\n`);
  }
  memberRemove(id: bigint, r: pb.MemberRemoveResponse): void {
    out(`Member ${hexSpace16(id)} removed from cluster ${hexSpace16(r.header?.clusterId ?? 0n)}\n`);
  }
  memberUpdate(id: bigint, r: pb.MemberUpdateResponse): void {
    out(`Member ${hexSpace16(id)} updated in cluster ${hexSpace16(r.header?.clusterId ?? 0n)}\n`);
  }
  memberPromote(id: bigint, r: pb.MemberPromoteResponse): void {
    out(`Member ${hexSpace16(id)} promoted in cluster ${hexSpace16(r.header?.clusterId ?? 0n)}\n`);
  }
  memberList(r: pb.MemberListResponse): void {
    for (const row of tables.memberList(r, hex).rows) out(`${row.join(", ")}\n`);
  }
  endpointHealth(list: readonly EndpointHealth[]): void {
    for (const h of list) {
      if (h.error === "") err(`${h.ep} is healthy: successfully committed proposal: took = ${h.took}\n`);
      else err(`${h.ep} is unhealthy: failed to commit proposal: ${h.error}\n`);
    }
  }
  endpointStatus(list: readonly EndpointStatus[]): void {
    for (const row of tables.endpointStatus(list, hex, humanizeBytes).rows) out(`${row.join(", ")}\n`);
  }
  endpointHashKV(list: readonly EndpointHashKV[]): void {
    for (const row of tables.endpointHashKV(list).rows) out(`${row.join(", ")}\n`);
  }
  moveLeader(leader: bigint, target: bigint, _r: pb.MoveLeaderResponse): void {
    out(`Leadership transferred from ${hex(leader)} to ${hex(target)}\n`);
  }
  alarm(r: pb.AlarmResponse): void {
    // gogo's String() of AlarmMember: compact text format, zero fields left out, trailing space.
    for (const a of r.alarms) {
      let text = "";
      if (a.memberID !== 0n) text += `memberID:${a.memberID} `;
      if (a.alarm !== AlarmType.NONE) text += `alarm:${AlarmType[a.alarm]} `;
      out(`${text}\n`);
    }
  }
  dbStatus(s: DbStatus): void {
    for (const row of tables.dbStatus(s, humanizeBytes).rows) out(`${row.join(", ")}\n`);
  }
  roleAdd(role: string): void {
    out(`Role ${role} created\n`);
  }
  roleGet(role: string, r: pb.AuthRoleGetResponse): void {
    out(`Role ${role}\nKV Read:\n`);
    const printPerm = (perm: Permission) => {
      const key = Buffer.from(perm.key).toString("latin1");
      if (perm.rangeEnd.length === 0) {
        out(Buffer.from(`\t${key}\n`, "latin1"));
        return;
      }
      const end = Buffer.from(perm.rangeEnd).toString("latin1");
      let text = end !== "\x00" ? `\t[${key}, ${end})` : `\t[${key}, <open ended>`;
      if (Buffer.from(prefixRangeEnd(perm.key)).toString("latin1") === end) text += ` (prefix ${key})`;
      out(Buffer.from(`${text}\n`, "latin1"));
    };
    for (const perm of r.perm) if (perm.permType === Permission_Type.READ || perm.permType === Permission_Type.READWRITE) printPerm(perm);
    out("KV Write:\n");
    for (const perm of r.perm) if (perm.permType === Permission_Type.WRITE || perm.permType === Permission_Type.READWRITE) printPerm(perm);
  }
  roleList(r: pb.AuthRoleListResponse): void {
    for (const role of r.roles) out(`${role}\n`);
  }
  roleDelete(role: string): void {
    out(`Role ${role} deleted\n`);
  }
  roleGrantPermission(role: string): void {
    out(`Role ${role} updated\n`);
  }
  roleRevokePermission(role: string, key: string, end: string): void {
    if (end.length === 0) out(`Permission of key ${key} is revoked from role ${role}\n`);
    else if (end !== "\x00") out(`Permission of range [${key}, ${end}) is revoked from role ${role}\n`);
    else out(`Permission of range [${key}, <open ended> is revoked from role ${role}\n`);
  }
  userAdd(user: string): void {
    out(`User ${user} created\n`);
  }
  userGet(user: string, r: pb.AuthUserGetResponse): void {
    out(`User: ${user}\nRoles:${r.roles.map((role) => ` ${role}`).join("")}\n`);
  }
  userList(r: pb.AuthUserListResponse): void {
    for (const user of r.users) out(`${user}\n`);
  }
  userChangePassword(): void {
    out("Password updated\n");
  }
  userGrantRole(user: string, role: string): void {
    out(`Role ${role} is granted to user ${user}\n`);
  }
  userRevokeRole(user: string, role: string): void {
    out(`Role ${role} is revoked from user ${user}\n`);
  }
  userDelete(user: string): void {
    out(`User ${user} deleted\n`);
  }
}
