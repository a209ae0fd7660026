/**
 * `cairnctl doctor`: checks every endpoint (health, leader, raft progress, db size against the
 * quota, alarms, WAL fsync and backend commit latency from /metrics, certificate expiry with TLS)
 * and prints each finding with the action to take. Exit code 1 when any check fails.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { create } from "@bufbuild/protobuf";
import { AlarmRequest_AlarmAction, AlarmRequestSchema, AlarmType, RangeRequestSchema, StatusRequestSchema } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { kvService, maintenanceService } from "../../api/grpc.js";
import { EtcdError } from "../../api/errors.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, goErrorText } from "../exit.js";
import { out } from "../output.js";
import { checkCluster, checkEndpoint, formatFindings, type EndpointFacts } from "../doctor/checks.js";
import { gauge, histogramQuantile, parseMetrics } from "../doctor/metrics.js";
import { endpointClient, endpointsFromCluster, enc, flag, openSession, type Session } from "./common.js";

/** Time allowed for each /metrics or TLS probe. */
const probeTimeoutMs = 5_000;

/** The endpoint as a URL, http(s) by the TLS settings when it has no scheme. */
export function baseUrl(endpoint: string, tls: boolean): URL {
  return new URL(/^[a-z]+:\/\//.test(endpoint) ? endpoint : `${tls ? "https" : "http"}://${endpoint}`);
}

/** GETs a URL with the session's TLS settings (used for /metrics). */
export function fetchText(url: URL, session: Session): Promise<string> {
  const tls = session.config.options.tls;
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  return new Promise((resolve, reject) => {
    const options = {
      timeout: probeTimeoutMs,
      ...(url.protocol === "https:"
        ? { ca: read(tls?.caFile), cert: read(tls?.certFile), key: read(tls?.keyFile), rejectUnauthorized: !(tls?.insecureSkipVerify ?? false) }
        : {}),
    };
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${response.statusCode}`))));
    });
    request.on("timeout", () => request.destroy(new Error("timed out")));
    request.on("error", reject);
    request.end();
  });
}

function serverCertDaysLeft(url: URL, session: Session): Promise<number | undefined> {
  const tls = session.config.options.tls;
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: url.hostname,
      port: Number(url.port || 2379),
      ca: read(tls?.caFile),
      cert: read(tls?.certFile),
      key: read(tls?.keyFile),
      rejectUnauthorized: false,
      timeout: probeTimeoutMs,
    });
    socket.once("secureConnect", () => {
      const validTo = socket.getPeerCertificate().valid_to;
      socket.destroy();
      resolve(validTo === undefined ? undefined : (Date.parse(validTo) - Date.now()) / 86_400_000);
    });
    socket.once("error", () => resolve(undefined));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

async function gather(session: Session, endpoint: string): Promise<EndpointFacts> {
  const useTls = session.config.options.tls !== undefined || endpoint.startsWith("https://");
  const facts: { -readonly [K in keyof EndpointFacts]: EndpointFacts[K] } = { endpoint };
  const client = await endpointClient(session.config, endpoint);
  const options = { timeoutMs: session.config.commandTimeoutMs };
  try {
    try {
      await client.unary(kvService.range, create(RangeRequestSchema, { key: enc("health") }), options);
    } catch (error) {
      if (!(error instanceof EtcdError && error.is("permissionDenied"))) facts.healthError = goErrorText(error);
    }
    try {
      const status = await client.unary(maintenanceService.status, create(StatusRequestSchema), options);
      facts.status = {
        memberId: status.header?.memberId ?? 0n,
        leader: status.leader,
        raftTerm: status.raftTerm,
        raftIndex: status.raftIndex,
        raftAppliedIndex: status.raftAppliedIndex,
        dbSizeBytes: BigInt(status.dbSize),
        dbSizeInUseBytes: BigInt(status.dbSizeInUse),
        version: status.version,
        errors: status.errors,
      };
      const alarms = await client.unary(maintenanceService.alarm, create(AlarmRequestSchema, { action: AlarmRequest_AlarmAction.GET }), options);
      facts.alarms = alarms.alarms.map((a) => AlarmType[a.alarm] ?? String(a.alarm));
    } catch (error) {
      facts.healthError ??= goErrorText(error);
    }
  } finally {
    client.close();
  }
  const url = baseUrl(endpoint, useTls);
  try {
    const samples = parseMetrics(await fetchText(new URL("/metrics", url), session));
    const wal = histogramQuantile(samples, "etcd_disk_wal_fsync_duration_seconds", 0.99);
    const commit = histogramQuantile(samples, "etcd_disk_backend_commit_duration_seconds", 0.99);
    const quota = gauge(samples, "etcd_server_quota_backend_bytes");
    if (wal !== undefined) facts.walFsyncP99Ms = wal * 1000;
    if (commit !== undefined) facts.backendCommitP99Ms = commit * 1000;
    if (quota !== undefined) facts.quotaBytes = quota;
  } catch (error) {
    facts.metricsError = (error as Error).message;
  }
  if (url.protocol === "https:") {
    const days = await serverCertDaysLeft(url, session);
    if (days !== undefined) facts.serverCertDaysLeft = days;
  }
  return facts;
}

export const doctorCommand: CommandSpec = {
  use: "doctor [options]",
  short: "Checks the health of every endpoint and tells what to do about problems (Cairn extension)",
  flags: [flag("cluster", "bool", "false", "use all endpoints from the cluster member list")],
  async run(invocation) {
    const session = await openSession(invocation);
    const endpoints = await endpointsFromCluster(session, invocation.flags);
    const all = await Promise.all(endpoints.map((ep) => gather(session, ep)));
    const sections = all.map((facts) => ({
      title: `${facts.endpoint}${facts.status === undefined ? "" : ` (member ${facts.status.memberId.toString(16)}, version ${facts.status.version})`}`,
      findings: checkEndpoint(facts),
    }));
    const cluster = checkCluster(all);
    if (cluster.length > 0) sections.push({ title: "cluster", findings: cluster });
    out(formatFindings(sections));
    if (sections.some((s) => s.findings.some((f) => f.severity === "FAIL"))) throw new CtlExit(ExitCode.error, "", true);
  },
};
