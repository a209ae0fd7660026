/**
 * `make-mirror [options] <destination>`: copies a prefix to another cluster, then follows changes
 * (etcdctl's make_mirror_command.go with clientv3/mirror's syncer).
 */
import { create } from "@bufbuild/protobuf";
import {
  DeleteRangeRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
  RequestOpSchema,
  TxnRequestSchema,
  type RequestOp,
  type WatchResponse,
} from "../../api/gen/etcdserverpb/rpc_pb.js";
import { Event_EventType } from "../../api/gen/mvccpb/kv_pb.js";
import { etcdError } from "../../api/errors.js";
import { kvService } from "../../api/grpc.js";
import { EtcdClient, mapCallError } from "../../client/client.js";
import { watchUntil } from "../../client/watch.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, exitWithError } from "../exit.js";
import { out } from "../output.js";
import { prefixRangeEnd } from "../printers/simple.js";
import { flag, openSession } from "./common.js";

/** Keys fetched per range request while copying the base state (clientv3/mirror's batchLimit). */
const batchLimit = 1000n;
/** How often the running total is printed. */
const reportIntervalMs = 30_000;

export const makeMirrorCommand: CommandSpec = {
  use: "make-mirror [options] <destination>",
  short: "Makes a mirror at the destination etcd cluster",
  flags: [
    flag("prefix", "string", "", "Key-value prefix to mirror"),
    flag("dest-prefix", "string", "", "destination prefix to mirror a prefix to a different prefix in the destination cluster"),
    flag("no-dest-prefix", "bool", "false", "mirror key-values to the root of the destination cluster"),
    flag("dest-cert", "string", "", "Identify secure client using this TLS certificate file for the destination cluster"),
    flag("dest-key", "string", "", "Identify secure client using this TLS key file"),
    flag("dest-cacert", "string", "", "Verify certificates of TLS enabled secure servers using this CA bundle"),
    flag("dest-insecure-transport", "bool", "true", "Disable transport security for client connections"),
  ],
  async run(invocation) {
    const { args, flags } = invocation;
    if (args.length !== 1) throw new CtlExit(ExitCode.badArgs, "make-mirror takes one destination argument");
    const session = await openSession(invocation);
    const destTls = {
      ...(flags.string("dest-cacert") === "" ? {} : { caFile: flags.string("dest-cacert") }),
      ...(flags.string("dest-cert") === "" ? {} : { certFile: flags.string("dest-cert") }),
      ...(flags.string("dest-key") === "" ? {} : { keyFile: flags.string("dest-key") }),
    };
    const useTls = Object.keys(destTls).length > 0 || !flags.bool("dest-insecure-transport");
    const dest = await EtcdClient.connect({
      endpoints: [args[0]!],
      ...(session.config.options.keepaliveTimeMs === undefined ? {} : { keepaliveTimeMs: session.config.options.keepaliveTimeMs }),
      ...(useTls ? { tls: destTls } : {}),
      ...(session.config.options.onAttemptFailed === undefined ? {} : { onAttemptFailed: session.config.options.onAttemptFailed }),
    });
    const prefix = flags.string("prefix");
    let destPrefix = flags.string("dest-prefix");
    const noDestPrefix = flags.bool("no-dest-prefix");
    let total = 0;
    const timer = setInterval(() => out(`${total}\n`), reportIntervalMs);
    const rename = (key: Uint8Array) => {
      const text = Buffer.from(key).toString("latin1");
      const index = text.indexOf(prefix);
      const renamed = index === -1 ? text : text.slice(0, index) + destPrefix + text.slice(index + prefix.length);
      return Buffer.from(renamed, "latin1");
    };
    try {
      const prefixBytes = Buffer.from(prefix);
      const rangeEnd = prefix === "" ? new Uint8Array([0]) : prefixRangeEnd(prefixBytes);
      let key: Uint8Array<ArrayBuffer> = prefix === "" ? new Uint8Array([0]) : Uint8Array.from(prefixBytes);
      let revision = 0n;
      let first = true;
      for (;;) {
        const page = await session.client.unary(kvService.range, create(RangeRequestSchema, { key, rangeEnd, limit: batchLimit, revision }));
        if (first) {
          revision = page.header!.revision;
          first = false;
          if (noDestPrefix && destPrefix.length > 0) {
            throw new CtlExit(ExitCode.badArgs, "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one");
          }
          if (!noDestPrefix && destPrefix.length === 0) destPrefix = prefix;
        }
        for (const kv of page.kvs) {
          await dest.unary(kvService.put, create(PutRequestSchema, { key: rename(kv.key), value: kv.value }));
          total += 1;
        }
        if (!page.more || page.kvs.length === 0) break;
        key = Uint8Array.from([...page.kvs[page.kvs.length - 1]!.key, 0]);
      }
      await followUpdates(session.client, dest, { key: prefix === "" ? new Uint8Array([0]) : Uint8Array.from(prefixBytes), rangeEnd, startRevision: revision + 1n }, rename, () => (total += 1));
    } catch (error) {
      if (error instanceof CtlExit) throw error;
      exitWithError(ExitCode.error, mapCallError(error));
    } finally {
      clearInterval(timer);
    }
    exitWithError(ExitCode.error, new Error("<nil>"));
  },
};

/**
 * Applies watched changes to the destination, one transaction per source revision, in order. The
 * watch resumes across reconnects of the source; a compaction that overtakes it ends the mirror.
 */
function followUpdates(
  source: EtcdClient,
  dest: EtcdClient,
  watch: { key: Uint8Array<ArrayBuffer>; rangeEnd: Uint8Array<ArrayBuffer>; startRevision: bigint },
  rename: (key: Uint8Array) => Uint8Array<ArrayBuffer>,
  count: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = new AbortController();
    let chain = Promise.resolve();
    const commit = (ops: RequestOp[]) => dest.unary(kvService.txn, create(TxnRequestSchema, { success: ops })).then(() => undefined);
    const apply = async (response: WatchResponse) => {
      let ops: RequestOp[] = [];
      let lastRevision = 0n;
      for (const event of response.events) {
        const next = event.kv?.modRevision ?? 0n;
        if (lastRevision !== 0n && next > lastRevision) {
          await commit(ops);
          ops = [];
        }
        lastRevision = next;
        const key = rename(event.kv?.key ?? new Uint8Array());
        ops.push(
          event.type === Event_EventType.PUT
            ? create(RequestOpSchema, { request: { case: "requestPut", value: create(PutRequestSchema, { key, value: event.kv?.value ?? new Uint8Array() }) } })
            : create(RequestOpSchema, { request: { case: "requestDeleteRange", value: create(DeleteRangeRequestSchema, { key }) } }),
        );
        count();
      }
      if (ops.length > 0) await commit(ops);
    };
    const watching = watchUntil(source, { ...watch, signal: stop.signal }, (response) => {
      if (response.compactRevision !== 0n) throw etcdError("compacted");
      chain = chain.then(() => apply(response));
      chain.catch((error: unknown) => {
        stop.abort();
        reject(error);
      });
      return false;
    });
    watching.then(() => chain.then(() => resolve()), reject);
  });
}
