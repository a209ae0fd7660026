/**
 * `cairn`: parses etcd's flags, opens the member's WAL and backend, and serves gRPC and HTTP on
 * every client URL (and /metrics, /health on every metrics URL) until SIGTERM or SIGINT.
 */
import { mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { EtcdError, etcdError } from "../api/errors.js";
import { CompactionRequestSchema } from "../api/gen/etcdserverpb/rpc_pb.js";
import { createGrpcEndpoint } from "../grpc/server.js";
import { createGateway } from "../http/gateway.js";
import { createWatchLeaseGateway } from "../http/gateway-watch-lease.js";
import { defaultWatchOptions } from "../grpc/watch.js";
import { createHttpServer, type HttpBackend } from "../http/router.js";
import { realClock } from "../platform/clock.js";
import { listenMultiplexed } from "../platform/listener.js";
import { createLogger } from "../platform/log.js";
import { newCompactor, parseCompactionRetention } from "./compactor.js";
import { parseConfig, urlString, type ServerConfig } from "./config.js";
import { clusterIdFromMemberIds, formatId } from "../storage/membership.js";
import { initialMembers, type Member } from "./membership.js";
import { resolveQuotaBytes } from "./quota.js";
import { RaftNode } from "./raftnode.js";
import { CLUSTER_VERSION, EtcdServer, SERVER_VERSION } from "./server.js";
import { minLeaseTtlSeconds } from "./lease/lessor.js";
import { openServingStore } from "./lease/open-store.js";

const VERSION_TEXT = `cairn Version: 0.1.0\netcd API Version: ${SERVER_VERSION}\nNode Version: ${process.version}\nOS/Arch: ${process.platform}/${process.arch}\n`;

/** The identity a member's WAL records at creation; a restart takes it from there, not from flags. */
interface WalIdentity {
  memberId: string;
  clusterId: string;
  members: Array<{ id: string; name: string; peerUrls: string[] }>;
}

function identity(config: ServerConfig, walDir: string): { memberId: bigint; clusterId: bigint; members: Member[]; metadata: Uint8Array } {
  const stored = RaftNode.readMetadata(walDir);
  if (stored !== undefined) {
    const parsed = JSON.parse(Buffer.from(stored).toString("utf8")) as WalIdentity;
    const memberId = BigInt(parsed.memberId);
    const members = parsed.members.map((m) => ({ id: BigInt(m.id), name: m.name, peerUrls: m.peerUrls, clientUrls: [] as string[], isLearner: false }));
    for (const m of members) if (m.id === memberId) m.clientUrls = config.advertiseClientUrls.map(urlString);
    return { memberId, clusterId: BigInt(parsed.clusterId), members, metadata: stored };
  }
  const members = initialMembers(config.initialCluster, config.initialClusterToken);
  const self = members.find((m) => m.name === config.name)!;
  self.clientUrls = config.advertiseClientUrls.map(urlString);
  const clusterId = clusterIdFromMemberIds(members.map((m) => m.id));
  const record: WalIdentity = {
    memberId: self.id.toString(),
    clusterId: clusterId.toString(),
    members: members.map((m) => ({ id: m.id.toString(), name: m.name, peerUrls: m.peerUrls })),
  };
  return { memberId: self.id, clusterId, members, metadata: new TextEncoder().encode(JSON.stringify(record)) };
}

async function main(): Promise<void> {
  const outcome = parseConfig({ argv: process.argv.slice(2), env: process.env, readFile: (p) => readFileSync(p, "utf8"), versionText: VERSION_TEXT });
  if (outcome.kind === "exit") {
    process.stdout.write(outcome.stdout);
    process.stderr.write(outcome.stderr);
    process.exit(outcome.code);
  }
  const config = outcome.config;
  const log = createLogger("cairn", config.logLevel);
  for (const warning of outcome.warnings) log.warn(warning);
  if (config.listenPeerUrls.length > 0) log.info("peer URLs are accepted but not served yet: this member runs a group of one");

  const memberDir = join(config.dataDir, "member");
  const walDir = config.walDir !== "" ? config.walDir : join(memberDir, "wal");
  mkdirSync(join(memberDir, "snap"), { recursive: true, mode: 0o700 });
  const { memberId, clusterId, members, metadata } = identity(config, walDir);
  if (members.length !== 1) throw new Error(`cairn runs single-member clusters only; --initial-cluster lists ${members.length} members`);
  const electionTicks = Math.max(1, Math.floor(config.electionTimeoutMs / config.heartbeatIntervalMs));
  const { store, lessor, watchable } = openServingStore(join(memberDir, "snap"), {
    minLeaseTtlSeconds: minLeaseTtlSeconds(electionTicks, config.heartbeatIntervalMs),
    clock: realClock,
  });
  store.setBatchPolicy({ intervalMs: config.backendBatchIntervalMs, limit: config.backendBatchLimit, clock: realClock });
  watchable.startSyncLoop({ every: realClock.every, soon: (fn) => setImmediate(fn) });
  const server = new EtcdServer({
    memberId,
    clusterId,
    members,
    walDir,
    walMetadata: metadata,
    tickMs: config.heartbeatIntervalMs,
    electionTicks,
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    quotaBackendBytes: resolveQuotaBytes(config.quotaBackendBytes, log),
    requestTimeoutMs: 5000 + 2 * config.electionTimeoutMs,
    snapshotCount: config.snapshotCount,
    maxWals: config.maxWals,
    clock: realClock,
    store,
    lessor,
    watchable,
    warn: (message) => log.warn(message),
  });
  server.start();
  const compactor = newCompactor(
    parseCompactionRetention(config.autoCompactionMode, config.autoCompactionRetention),
    {
      currentRevision: () => Number(server.fillHeader(undefined).revision),
      compact: async (revision) => void (await server.compact(create(CompactionRequestSchema, { revision: BigInt(revision) }))),
      isCompactedError: (error) => error instanceof EtcdError && error.message === etcdError("compacted").message,
    },
    realClock,
    // etcd's compactor logs at capnslog's NOTICE level ("N"), which Cairn's logger has no name for.
    createLogger("compactor", config.logLevel, (line) => process.stderr.write(line.replace(" I | compactor: ", " N | compactor: "))),
  );
  compactor?.run();
  log.info(`started member ${formatId(memberId)} in cluster ${formatId(clusterId)}, data dir ${config.dataDir}`);

  const grpcEndpoint = createGrpcEndpoint(server, {
    maxRequestBytes: config.maxRequestBytes,
    maxConcurrentStreams: config.maxConcurrentStreams,
    keepaliveTimeMs: config.grpcKeepaliveIntervalMs,
    keepaliveTimeoutMs: config.grpcKeepaliveTimeoutMs,
    keepaliveMinTimeMs: config.grpcKeepaliveMinTimeMs,
  });
  const watchLeaseGateway = createWatchLeaseGateway(server, defaultWatchOptions(config.maxRequestBytes));
  const backend: HttpBackend = {
    health: (excluded) => server.health(excluded),
    versions: () => ({ server: SERVER_VERSION, cluster: CLUSTER_VERSION }),
    metricsText: () => server.metrics.registry.render(),
    gateway: config.enableGrpcGateway ? withFallback(watchLeaseGateway.unary, createGateway(server)) : undefined,
    streamingGateway: config.enableGrpcGateway ? watchLeaseGateway.stream : undefined,
  };
  const limits = { maxBodyBytes: config.maxRequestBytes + 512 * 1024 };
  const clientHttp = createHttpServer(backend, limits, "client");
  const listeners: net.Server[] = [];
  for (const url of config.listenClientUrls) {
    if (url.protocol !== "http:") throw new Error(`cairn serves only http:// client URLs, not ${urlString(url)}`);
    const listener = await listenMultiplexed(url.hostname.replace(/^\[|\]$/g, ""), Number(url.port), {
      http2: (socket) => grpcEndpoint.inject(socket),
      http1: (socket) => clientHttp.emit("connection", socket),
    });
    listeners.push(listener);
    log.info(`serving client traffic (gRPC and HTTP) on ${urlString(url)}`);
  }
  const metricsServers: http.Server[] = [];
  for (const url of config.listenMetricsUrls) {
    const metricsHttp = createHttpServer(backend, limits, "metrics");
    await new Promise<void>((resolve, reject) => {
      metricsHttp.once("error", reject);
      metricsHttp.listen(Number(url.port), url.hostname.replace(/^\[|\]$/g, ""), () => resolve());
    });
    metricsServers.push(metricsHttp);
    log.info(`serving /metrics and /health on ${urlString(url)}`);
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    compactor?.stop();
    log.info(`received ${signal}, shutting down`);
    for (const listener of listeners) listener.close();
    for (const s of metricsServers) s.close();
    clientHttp.closeAllConnections();
    void grpcEndpoint
      .shutdown()
      .then(() => server.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error(`shutdown failed: ${(err as Error).message}`);
          process.exit(1);
        },
      );
  };
  // A failed WAL write or fsync, or an assertion, leaves state that cannot be trusted: stop, as etcd does.
  process.on("uncaughtException", (err) => {
    log.error(`fatal: ${err.stack ?? err.message}`);
    process.exit(1);
  });
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

/** Tries `first`, then `second` for paths `first` does not serve. */
function withFallback<A extends unknown[], R>(first: (...args: A) => R | undefined, second: (...args: A) => R | undefined): (...args: A) => R | undefined {
  return (...args) => first(...args) ?? second(...args);
}

main().catch((err: unknown) => {
  process.stderr.write(createLoggerLine(err));
  process.exit(1);
});

function createLoggerLine(err: unknown): string {
  let line = "";
  createLogger("cairn", "info", (l) => (line = l)).error((err as Error).stack ?? String(err));
  return line;
}
