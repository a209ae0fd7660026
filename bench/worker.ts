/**
 * A load-generator worker thread: runs its share of one workload (bench/workloads.ts) against one
 * endpoint and posts back every request's latency. Protocol with bench/runner.ts: the worker sets
 * up (connections, watchers, leases) and posts "ready"; the runner posts "go" to all workers at
 * once; the worker posts "done" with its samples (transferred, not copied) or "failed".
 */
import { parentPort, workerData } from "node:worker_threads";
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import {
  LeaseGrantRequestSchema,
  LeaseKeepAliveRequestSchema,
  PutRequestSchema,
  RangeRequestSchema,
  TxnRequestSchema,
  WatchRequestSchema,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type WatchRequest,
  type WatchResponse,
} from "../src/api/gen/etcdserverpb/rpc_pb.js";
import { kvService, leaseService, watchService } from "../src/api/grpc.js";
import { bidi, openConnection, unary, waitConnected } from "./grpc.js";
import { benchKey, share, shareStart, WATCH_KEY, type LoadShape, type WatchWorkload, type Workload } from "./workloads.js";

/** What the runner gives each worker. */
export interface WorkerInput {
  readonly workload: Workload;
  readonly endpoint: string;
  readonly workerIndex: number;
  readonly workerCount: number;
  /** Stop sending new requests after this many ms; the result then covers what was sent. */
  readonly maxDurationMs: number;
  /** Requests this worker sends before "ready", unrecorded, so that neither side is measured cold. */
  readonly warmupRequests: number;
}

/** What a worker reports after its share is done. */
export interface WorkerResult {
  /** Latency of each successful request (or, for watch, each event), in ms. */
  readonly samples: Float64Array;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** From "go" until this worker's last request finished. */
  readonly elapsedMs: number;
  /** Share of the worker's time its event loop was busy (1 = saturated). */
  readonly eventLoopUtilization: number;
  /** Whether maxDurationMs cut the run short. */
  readonly truncated: boolean;
}

export type WorkerMessage =
  | { readonly type: "ready" }
  | { readonly type: "done"; readonly result: WorkerResult }
  | { readonly type: "failed"; readonly message: string };

/** Longest the watch workload waits for the last events after its last put. */
const WATCH_DRAIN_TIMEOUT_MS = 30_000;
/** Longest a connection may take to be established during setup. */
const CONNECT_TIMEOUT_MS = 10_000;
/** TTL of the leases the keep-alive workload renews; long enough never to expire during a run. */
const KEEPALIVE_LEASE_TTL_SECONDS = 600n;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Latencies and errors of one worker's requests, indexed by the worker-local request number. */
class Recorder {
  readonly samples: Float64Array;
  private recorded = 0;
  errors = 0;
  firstError: string | undefined;
  truncated = false;

  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }

  record(latencyMs: number): void {
    if (this.recorded < this.samples.length) this.samples[this.recorded] = latencyMs;
    this.recorded += 1;
  }

  fail(error: unknown): void {
    this.errors += 1;
    this.firstError ??= describe(error);
  }

  /** The recorded samples, without the unused tail. */
  result(): Float64Array {
    return this.samples.subarray(0, Math.min(this.recorded, this.samples.length));
  }
}

/** A bidirectional stream used as request → next response (LeaseKeepAlive). */
class PingPong<Req, Res> {
  private readonly waiting: { resolve: (response: Res) => void; reject: (error: Error) => void }[] = [];

  constructor(private readonly stream: grpc.ClientDuplexStream<Req, Res>) {
    stream.on("data", (response: Res) => this.waiting.shift()?.resolve(response));
    stream.on("error", (error: Error) => {
      for (const waiter of this.waiting.splice(0)) waiter.reject(error);
    });
  }

  send(request: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.stream.write(request);
    });
  }

  close(): void {
    this.stream.end();
    this.stream.cancel();
  }
}

/** One client's request function: sends request number `index` (global) and resolves when answered. */
type Send = (index: number) => Promise<unknown>;

interface Prepared {
  /** One send function per client of this worker. */
  readonly clients: readonly Send[];
  readonly cleanup: () => void;
}

function randomBelow(n: number): number {
  return Math.floor(Math.random() * n);
}

async function openConnections(endpoint: string, count: number): Promise<grpc.Client[]> {
  const connections = Array.from({ length: Math.max(count, 1) }, () => openConnection(endpoint));
  await Promise.all(connections.map((c) => waitConnected(c, CONNECT_TIMEOUT_MS)));
  return connections;
}

async function prepare(input: WorkerInput, workload: Exclude<Workload, WatchWorkload>): Promise<Prepared> {
  const { workerIndex, workerCount } = input;
  const conns = await openConnections(input.endpoint, share(workload.conns, workerIndex, workerCount));
  const clientCount = Math.max(share(workload.clients, workerIndex, workerCount), 1);
  const connFor = (client: number): grpc.Client => conns[client % conns.length] as grpc.Client;
  const closeAll = (): void => conns.forEach((c) => c.close());
  switch (workload.kind) {
    case "put": {
      const value = Buffer.alloc(workload.valSize, 0x61);
      const send = (conn: grpc.Client): Send => (index) => {
        const keyIndex = workload.sequential ? index % workload.keySpace : randomBelow(workload.keySpace);
        return unary(conn, kvService.put, create(PutRequestSchema, { key: benchKey(keyIndex, workload.keySize), value }));
      };
      return { clients: Array.from({ length: clientCount }, (_, c) => send(connFor(c))), cleanup: closeAll };
    }
    case "range": {
      const serializable = workload.consistency === "s";
      const send = (conn: grpc.Client): Send => () =>
        unary(conn, kvService.range, create(RangeRequestSchema, {
          key: benchKey(randomBelow(workload.keySpace), workload.keySize),
          serializable,
        }));
      return { clients: Array.from({ length: clientCount }, (_, c) => send(connFor(c))), cleanup: closeAll };
    }
    case "txn-put": {
      const value = Buffer.alloc(workload.valSize, 0x62);
      const send = (conn: grpc.Client): Send => () => {
        const keys = new Set<number>();
        while (keys.size < Math.min(workload.txnOps, workload.keySpace)) keys.add(randomBelow(workload.keySpace));
        const success = [...keys].map((k) => ({
          request: { case: "requestPut" as const, value: create(PutRequestSchema, { key: benchKey(k, workload.keySize), value }) },
        }));
        return unary(conn, kvService.txn, create(TxnRequestSchema, { success }));
      };
      return { clients: Array.from({ length: clientCount }, (_, c) => send(connFor(c))), cleanup: closeAll };
    }
    case "lease-keepalive": {
      const streams: PingPong<LeaseKeepAliveRequest, LeaseKeepAliveResponse>[] = [];
      const clients: Send[] = [];
      for (let c = 0; c < clientCount; c += 1) {
        const conn = connFor(c);
        const lease = await unary(conn, leaseService.leaseGrant, create(LeaseGrantRequestSchema, { TTL: KEEPALIVE_LEASE_TTL_SECONDS }));
        const stream = new PingPong(bidi(conn, leaseService.leaseKeepAlive));
        streams.push(stream);
        const request = create(LeaseKeepAliveRequestSchema, { ID: lease.ID });
        clients.push(() => stream.send(request));
      }
      return {
        clients,
        cleanup: () => {
          streams.forEach((s) => s.close());
          closeAll();
        },
      };
    }
  }
}

/** Runs this worker's share of a request-driven workload with its clients; resolves with the recorder. */
async function runRequests(input: WorkerInput, workload: LoadShape, prepared: Prepared): Promise<Recorder> {
  const { workerIndex, workerCount } = input;
  const total = share(workload.total, workerIndex, workerCount);
  const first = shareStart(workload.total, workerIndex, workerCount);
  const rate = workload.rate > 0 ? workload.rate / workerCount : 0;
  const intervalMs = rate > 0 ? 1000 / rate : 0;
  const recorder = new Recorder(total);
  const started = performance.now();
  let nextTicket = 0;
  const clientLoop = async (send: Send): Promise<void> => {
    for (;;) {
      const ticket = nextTicket;
      if (ticket >= total) return;
      if (performance.now() - started > input.maxDurationMs) {
        recorder.truncated = true;
        return;
      }
      nextTicket += 1;
      if (intervalMs > 0) {
        const waitMs = started + ticket * intervalMs - performance.now();
        if (waitMs > 0) await sleep(waitMs);
      }
      const before = performance.now();
      try {
        await send(first + ticket);
        recorder.record(performance.now() - before);
      } catch (error) {
        recorder.fail(error);
      }
    }
  };
  await Promise.all(prepared.clients.map(clientLoop));
  return recorder;
}

/** Sends count requests spread over the clients, ignoring results. */
async function warmUp(prepared: Prepared, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    prepared.clients.map(async (send) => {
      while (next < count) {
        next += 1;
        await send(next).catch(() => undefined);
      }
    }),
  );
}

interface PreparedWatch {
  readonly run: () => Promise<Recorder>;
  readonly cleanup: () => void;
}

/**
 * Sets up etcd's watch-latency: streams × watchersPerStream watchers on one key, then (on "go")
 * puts at putRate from a separate connection; each event's latency is its arrival time minus the
 * send time of the put that made it (the put's number is in the value's first 4 bytes).
 */
async function prepareWatch(input: WorkerInput, workload: WatchWorkload): Promise<PreparedWatch> {
  const conns = await openConnections(input.endpoint, workload.conns);
  const putConn = (await openConnections(input.endpoint, 1))[0] as grpc.Client;
  const watchers = workload.streams * workload.watchersPerStream;
  let expected = workload.putTotal * watchers;
  const recorder = new Recorder(expected);
  const sentAt = new Float64Array(workload.putTotal);
  let received = 0;
  let onAllReceived: (() => void) | undefined;
  const streams: grpc.ClientDuplexStream<WatchRequest, WatchResponse>[] = [];
  const created: Promise<void>[] = [];
  for (let s = 0; s < workload.streams; s += 1) {
    const stream = bidi(conns[s % conns.length] as grpc.Client, watchService.watch);
    streams.push(stream);
    let createdCount = 0;
    created.push(
      new Promise<void>((resolve, reject) => {
        stream.on("error", (error: Error) => {
          recorder.fail(error);
          reject(error);
        });
        stream.on("data", (response: WatchResponse) => {
          const now = performance.now();
          if (response.created) {
            createdCount += 1;
            if (createdCount === workload.watchersPerStream) resolve();
          }
          for (const event of response.events) {
            const value = event.kv?.value;
            if (value === undefined || value.length < 4) continue;
            const putIndex = Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(0);
            recorder.record(now - (sentAt[putIndex] ?? now));
            received += 1;
          }
          if (received >= expected) onAllReceived?.();
        });
      }),
    );
    for (let w = 0; w < workload.watchersPerStream; w += 1) {
      stream.write(create(WatchRequestSchema, { requestUnion: { case: "createRequest", value: { key: Buffer.from(WATCH_KEY) } } }));
    }
  }
  await Promise.all(created);
  const run = async (): Promise<Recorder> => {
    const allReceived = new Promise<void>((resolve) => {
      onAllReceived = resolve;
    });
    const intervalMs = 1000 / Math.max(workload.putRate, 1);
    const started = performance.now();
    const puts: Promise<void>[] = [];
    for (let i = 0; i < workload.putTotal; i += 1) {
      if (performance.now() - started > input.maxDurationMs) {
        // Events of puts never sent are not missing: expect only those of the puts made.
        expected = i * watchers;
        recorder.truncated = true;
        break;
      }
      const waitMs = started + i * intervalMs - performance.now();
      if (waitMs > 0) await sleep(waitMs);
      const value = Buffer.alloc(Math.max(workload.valSize, 4), 0x63);
      value.writeUInt32BE(i, 0);
      sentAt[i] = performance.now();
      puts.push(
        unary(putConn, kvService.put, create(PutRequestSchema, { key: Buffer.from(WATCH_KEY), value })).then(
          () => undefined,
          (error: unknown) => recorder.fail(error),
        ),
      );
    }
    await Promise.all(puts);
    if (received < expected) {
      const timedOut = sleep(WATCH_DRAIN_TIMEOUT_MS).then(() => "timeout" as const);
      if ((await Promise.race([allReceived, timedOut])) === "timeout") {
        recorder.errors += expected - received;
        recorder.firstError ??= `${expected - received} of ${expected} watch events missing after ${WATCH_DRAIN_TIMEOUT_MS} ms`;
      }
    }
    return recorder;
  };
  return {
    run,
    cleanup: () => {
      for (const stream of streams) stream.cancel();
      conns.forEach((c) => c.close());
      putConn.close();
    },
  };
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => parentPort?.once("message", () => resolve()));
}

async function main(): Promise<void> {
  const input = workerData as WorkerInput;
  const port = parentPort;
  if (port === null) throw new Error("bench/worker.js must run as a worker thread");
  const workload = input.workload;
  let run: () => Promise<Recorder>;
  let cleanup: () => void;
  if (workload.kind === "watch") {
    const prepared = await prepareWatch(input, workload);
    run = prepared.run;
    cleanup = prepared.cleanup;
  } else {
    const prepared = await prepare(input, workload);
    await warmUp(prepared, input.warmupRequests);
    run = () => runRequests(input, workload, prepared);
    cleanup = prepared.cleanup;
  }
  port.postMessage({ type: "ready" } satisfies WorkerMessage);
  await waitForGo();
  const eluBefore = performance.eventLoopUtilization();
  const started = performance.now();
  const recorder = await run();
  const elapsedMs = performance.now() - started;
  const eventLoopUtilization = performance.eventLoopUtilization(eluBefore).utilization;
  cleanup();
  const samples = recorder.result().slice();
  const result: WorkerResult = {
    samples,
    errors: recorder.errors,
    firstError: recorder.firstError,
    elapsedMs,
    eventLoopUtilization,
    truncated: recorder.truncated,
  };
  port.postMessage({ type: "done", result } satisfies WorkerMessage, [samples.buffer]);
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ type: "failed", message: describe(error) } satisfies WorkerMessage);
});
