/**
 * etcdctl's "json" output: Go's encoding/json of the response structs. Responses that clientv3
 * wraps (lease grant, keep-alive, time-to-live, leases, watch) have their Go wrapper's shape.
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { EventSchema } from "../../api/gen/mvccpb/kv_pb.js";
import { out } from "../output.js";
import { goJson, goJsonString } from "./go.js";
import { type DbStatus, type EndpointHashKV, type EndpointHealth, type EndpointStatus, type WatchResult } from "./printer.js";
import { WholeMessagePrinter } from "./message.js";

function line(text: string): void {
  out(`${text}\n`);
}

/** The fields of an embedded *pb.ResponseHeader, promoted into the wrapper (or null when nil). */
function embeddedHeader(header: pb.ResponseHeader | undefined): string {
  if (header === undefined) return "";
  const inner = goJson(pb.ResponseHeaderSchema, header).slice(1, -1);
  return inner === "" ? "" : `${inner},`;
}

export class JsonPrinter extends WholeMessagePrinter {
  constructor() {
    super("json");
  }

  protected override message<Desc extends DescMessage>(schema: Desc, message: Message): void {
    line(goJson(schema, message));
  }

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
  override dbStatus(s: DbStatus): void {
    line(`{"hash":${s.hash},"revision":${s.revision},"totalKey":${s.totalKey},"totalSize":${s.totalSize}}`);
  }
}
