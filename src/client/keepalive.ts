/**
 * Keeps one lease alive the way clientv3's lessor does, so a lease outlives a dropped connection or
 * a restarted server as long as the server answers again before the lease's TTL runs out:
 *
 * - a keep-alive is sent at once, then whenever the next one is due (a third of the TTL after the
 *   last answer), checked every {@link keepAliveCheckMs};
 * - each answer with a positive TTL moves the deadline to TTL seconds from now; an answer with
 *   TTL <= 0 means the lease is gone (expired or revoked);
 * - no answer before the deadline (the first one: {@link KeepAliveOptions.firstTimeoutMs}) also
 *   ends it, as clientv3's deadline loop does;
 * - a failed stream, whatever the error, is reopened {@link retryConnWaitMs} later, once an
 *   endpoint is connected.
 */
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { LeaseKeepAliveRequestSchema, type LeaseKeepAliveRequest, type LeaseKeepAliveResponse } from "../api/gen/etcdserverpb/rpc_pb.js";
import { leaseService } from "../api/grpc.js";
import type { EtcdClient } from "./client.js";

/** How often due keep-alives and deadlines are checked (clientv3: 500 ms). */
export const keepAliveCheckMs = 500;
/** Pause before a failed keep-alive stream is reopened (clientv3's retryConnWait). */
export const retryConnWaitMs = 500;

/** clientv3's firstKeepAliveTimeout: the dial timeout plus a second, or 5 s without one. */
export function firstKeepAliveTimeoutMs(client: EtcdClient): number {
  const dialTimeoutMs = client.options.dialTimeoutMs ?? 0;
  return dialTimeoutMs > 0 ? dialTimeoutMs + 1_000 : 5_000;
}

export interface KeepAliveOptions {
  /** How long to wait for the first answer (clientv3: dial timeout + 1 s, or 5 s). */
  readonly firstTimeoutMs: number;
  /** Called with every answer that renewed the lease. */
  readonly onResponse?: (response: LeaseKeepAliveResponse) => void;
}

export class LeaseKeepAlive {
  /** Resolves when the lease is gone, its deadline passed, or stop() was called. */
  readonly done: Promise<void>;
  private markDone!: () => void;
  private stream: grpc.ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse> | undefined;
  private readonly ticker: NodeJS.Timeout;
  private nextKeepAliveAt: number;
  private deadlineAt: number;
  private stopped = false;

  constructor(
    private readonly client: EtcdClient,
    readonly lease: bigint,
    private readonly options: KeepAliveOptions,
  ) {
    this.done = new Promise((resolve) => (this.markDone = resolve));
    const now = performance.now();
    this.nextKeepAliveAt = now;
    this.deadlineAt = now + options.firstTimeoutMs;
    this.ticker = setInterval(() => this.tick(), keepAliveCheckMs);
    this.open();
  }

  /** Stops sending keep-alives (the lease itself is left to expire or to be revoked). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    this.markDone();
  }

  private tick(): void {
    const now = performance.now();
    if (now > this.deadlineAt) this.stop();
    else if (now >= this.nextKeepAliveAt) this.send();
  }

  private send(): void {
    this.stream?.write(create(LeaseKeepAliveRequestSchema, { ID: this.lease }));
  }

  private open(): void {
    if (this.stopped) return;
    const stream = this.client.bidiStream(leaseService.leaseKeepAlive);
    this.stream = stream;
    stream.on("data", (response: LeaseKeepAliveResponse) => {
      if (this.stream !== stream || response.ID !== this.lease) return;
      if (response.TTL <= 0n) {
        this.stop();
        return;
      }
      const now = performance.now();
      const ttlMs = Number(response.TTL) * 1000;
      this.nextKeepAliveAt = now + ttlMs / 3;
      this.deadlineAt = now + ttlMs;
      this.options.onResponse?.(response);
    });
    const failed = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      setTimeout(() => void this.reopen(), retryConnWaitMs).unref();
    };
    stream.on("error", failed);
    stream.on("end", failed);
    if (performance.now() >= this.nextKeepAliveAt) this.send();
  }

  private async reopen(): Promise<void> {
    if (this.stopped) return;
    await Promise.race([this.client.waitForConnection(), this.done]);
    this.open();
  }
}
