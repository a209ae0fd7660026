/**
 * etcdctl's "protobuf" output: the response's protobuf encoding, written raw. Where etcdctl hands
 * the printer a clientv3 wrapper instead of a protobuf message, it fails or prints only the
 * promoted header; both are reproduced.
 */
import { create, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { CtlExit, ExitCode } from "../exit.js";
import { out } from "../output.js";
import { type WatchResult } from "./printer.js";
import { WholeMessagePrinter } from "./message.js";

export class ProtobufPrinter extends WholeMessagePrinter {
  constructor() {
    super("protobuf");
  }

  protected override message<Desc extends DescMessage>(schema: Desc, message: Message): void {
    out(toBinary(schema, message as never));
  }

  private header(header: pb.ResponseHeader | undefined): void {
    this.message(pb.ResponseHeaderSchema, header ?? create(pb.ResponseHeaderSchema));
  }

  /** etcdctl cannot marshal clientv3's value wrappers; its message contains Go pointers, so only the type is kept. */
  private cannotMarshal(goType: string): never {
    throw new CtlExit(ExitCode.badFeature, `marshal unsupported for type ${goType}`);
  }

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
}
