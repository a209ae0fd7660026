/**
 * One watch that survives a dropped connection or a restarted server, as a clientv3 watch does: a
 * stream failing with Unavailable or Internal (but not "no leader") is reopened once an endpoint is
 * connected, and the watch is created again from the revision after the last one it saw, so no
 * event is lost or delivered twice.
 */
import { create } from "@bufbuild/protobuf";
import { WatchCreateRequestSchema, WatchRequestSchema, type WatchResponse } from "../api/gen/etcdserverpb/rpc_pb.js";
import { GrpcCode } from "../api/errors.js";
import { watchService } from "../api/grpc.js";
import { mapCallError, type EtcdClient } from "./client.js";
import { retryConnWaitMs } from "./keepalive.js";

/** Whether a failed watch stream is reopened (clientv3: "the system will be right back"). */
export function isResumable(error: unknown): boolean {
  const mapped = mapCallError(error);
  return (mapped.code === GrpcCode.UNAVAILABLE || mapped.code === GrpcCode.INTERNAL) && !mapped.is("noLeader");
}

/**
 * clientv3's nextRev after a response: where the watch is created again if its stream fails. A
 * watch of "now" (revision 0) is bound to the store revision at its creation.
 */
export function nextRevision(current: bigint, response: WatchResponse): bigint {
  let next = current;
  if (response.created) {
    if (next === 0n) next = response.header?.revision ?? 0n;
  } else next = response.header?.revision ?? 0n;
  const last = response.events.at(-1);
  return last === undefined ? next : (last.kv?.modRevision ?? 0n) + 1n;
}

export interface WatchSpec {
  readonly key: Uint8Array<ArrayBuffer>;
  readonly rangeEnd?: Uint8Array<ArrayBuffer>;
  /** 0: from now. */
  readonly startRevision: bigint;
  readonly prevKv?: boolean;
  /** Aborting ends the watch; the promise resolves. */
  readonly signal?: AbortSignal;
}

/**
 * Watches until onResponse returns true, the server cancels the watch (that response is passed to
 * onResponse first) or the signal aborts; then resolves. Rejects with the error when onResponse
 * throws or the stream fails in a way that does not resume.
 */
export function watchUntil(client: EtcdClient, spec: WatchSpec, onResponse: (response: WatchResponse) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    let from = spec.startRevision;
    let current: ReturnType<typeof open> | undefined;
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      spec.signal?.removeEventListener("abort", onAbort);
      const stream = current;
      current = undefined;
      stream?.cancel();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = () => finish();
    const open = () => {
      const stream = client.bidiStream(watchService.watch);
      stream.on("data", (response: WatchResponse) => {
        if (current !== stream) return;
        from = nextRevision(from, response);
        if (response.created && !response.canceled && response.events.length === 0) return;
        try {
          if (onResponse(response) || response.canceled) finish();
        } catch (error) {
          finish(error);
        }
      });
      stream.on("error", (error: unknown) => {
        if (current !== stream) return;
        current = undefined;
        if (mapCallError(error).code === GrpcCode.CANCELLED) finish();
        else if (isResumable(error)) {
          setTimeout(() => {
            if (finished) return;
            void client.waitForConnection().then(() => {
              if (!finished) current = open();
            });
          }, retryConnWaitMs);
        } else finish(mapCallError(error));
      });
      stream.on("end", () => {
        if (current === stream) finish();
      });
      const request = { key: spec.key, rangeEnd: spec.rangeEnd ?? new Uint8Array(), startRevision: from, prevKv: spec.prevKv ?? false };
      stream.write(create(WatchRequestSchema, { requestUnion: { case: "createRequest", value: create(WatchCreateRequestSchema, request) } }));
      return stream;
    };
    if (spec.signal?.aborted) {
      finish();
      return;
    }
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    current = open();
  });
}
