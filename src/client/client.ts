/**
 * Cairn's etcd v3 client: several endpoints with failover, dial and per-call timeouts, TLS, user and
 * password auth with token refresh, HTTP/2 keepalive, retries of idempotent calls when an endpoint
 * is unavailable, and errors mapped back to the shared table (`src/api/errors.ts`).
 *
 * Calls take and return the generated protobuf-es messages, so callers see exactly what etcd sent
 * (cairnctl prints responses byte for byte as etcdctl does, which needs every header field).
 */
import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { EtcdError, fromServiceError, GrpcCode } from "../api/errors.js";
import { AuthenticateRequestSchema } from "../api/gen/etcdserverpb/rpc_pb.js";
import { authService } from "../api/grpc.js";
import { parseEndpoint, type Endpoint } from "./endpoint.js";

/** TLS settings; paths are read when the client is created. */
export interface TlsOptions {
  /** PEM CA bundle used to verify servers; the system roots when absent. */
  readonly caFile?: string;
  /** PEM client certificate, for servers that require client certificates. */
  readonly certFile?: string;
  /** PEM private key of certFile. */
  readonly keyFile?: string;
  /** Accept any server certificate (testing only). */
  readonly insecureSkipVerify?: boolean;
  /** The name to verify server certificates against (and send as SNI) instead of each endpoint's host: the domain of DNS discovery. */
  readonly serverName?: string;
}

export interface ClientOptions {
  /** Endpoints in the forms etcdctl accepts; tried in order, failing over on unavailability. */
  readonly endpoints: readonly string[];
  /** Time allowed for the first connection; 0 means do not wait for a connection up front. */
  readonly dialTimeoutMs?: number;
  /** Default per-call deadline; 0 or absent means no deadline unless a call gives one. */
  readonly commandTimeoutMs?: number;
  /** Interval between HTTP/2 pings; raised to 10 s like grpc-go so etcd never sees ping floods. */
  readonly keepaliveTimeMs?: number;
  /** Time to wait for a ping acknowledgement before closing the connection. */
  readonly keepaliveTimeoutMs?: number;
  /** TLS settings; TLS is used when this is present or an endpoint uses https/unixs. */
  readonly tls?: TlsOptions;
  readonly username?: string;
  readonly password?: string;
  /**
   * Called after every failed unary attempt, before any retry (etcd's clientv3 logs these as
   * "retrying of unary invoker failed"; cairnctl prints the same line).
   */
  readonly onAttemptFailed?: (failure: AttemptFailure) => void;
}

/** One failed attempt of a unary call. */
export interface AttemptFailure {
  /** The first endpoint as given, which clientv3's connection target ends with. */
  readonly target: string;
  readonly attempt: number;
  readonly code: GrpcCode;
  /** The status message as the server or the transport gave it. */
  readonly details: string;
}

/** Per-call options. */
export interface CallOptions {
  /** Deadline for this call in ms; overrides the client's command timeout. */
  readonly timeoutMs?: number;
  /** Send to this endpoint (index into options.endpoints) only, without failover. */
  readonly endpointIndex?: number;
  /** Whether the call may be repeated on another endpoint after an unavailability error. */
  readonly idempotent?: boolean;
  /** Extra request metadata, e.g. `hasleader: "true"` to require a leader as etcdctl's watch does. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Smallest keepalive interval, as grpc-go enforces on the client side. */
const minKeepaliveTimeMs = 10_000;
/** Largest message the client sends, as etcd's clientv3 default (2 MiB). */
const maxSendMessageBytes = 2 * 1024 * 1024;

/** Methods that are safe to send twice: reads and status queries. */
const idempotentPaths = new Set([
  "/etcdserverpb.KV/Range",
  "/etcdserverpb.Maintenance/Status",
  "/etcdserverpb.Maintenance/Hash",
  "/etcdserverpb.Maintenance/HashKV",
  "/etcdserverpb.Maintenance/Alarm",
  "/etcdserverpb.Cluster/MemberList",
  "/etcdserverpb.Lease/LeaseTimeToLive",
  "/etcdserverpb.Lease/LeaseLeases",
  "/etcdserverpb.Auth/Authenticate",
  "/etcdserverpb.Auth/UserGet",
  "/etcdserverpb.Auth/UserList",
  "/etcdserverpb.Auth/RoleGet",
  "/etcdserverpb.Auth/RoleList",
  "/v3electionpb.Election/Leader",
]);

/** The error etcd's Go client reports when a deadline passes. */
export function deadlineExceeded(): EtcdError {
  return new EtcdError(GrpcCode.DEADLINE_EXCEEDED, "context deadline exceeded", undefined);
}

function credentialsFor(options: ClientOptions, endpoints: readonly Endpoint[]): grpc.ChannelCredentials {
  const tls = options.tls;
  const wantTls = tls !== undefined || endpoints.some((e) => e.secureScheme);
  if (!wantTls) return grpc.credentials.createInsecure();
  const read = (path: string | undefined) => (path === undefined ? null : readFileSync(path));
  const verify: grpc.VerifyOptions = tls?.insecureSkipVerify
    ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
    : {};
  return grpc.credentials.createSsl(read(tls?.caFile), read(tls?.keyFile), read(tls?.certFile), verify);
}

/** One endpoint's gRPC connection. */
class Connection {
  constructor(
    readonly endpoint: Endpoint,
    readonly client: grpc.Client,
  ) {}

  isReady(): boolean {
    return this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  waitForReady(deadline: Date): Promise<boolean> {
    return new Promise((resolve) => this.client.waitForReady(deadline, (error) => resolve(error === undefined)));
  }
}

export class EtcdClient {
  /** One connection per endpoint, in the order given. */
  private readonly connections: Connection[];
  /** Index of the connection calls go to; moves on when that endpoint becomes unavailable. */
  private current = 0;
  /** Auth token sent as "token" metadata; undefined without auth. */
  private token: string | undefined;

  private constructor(readonly options: ClientOptions) {
    if (options.endpoints.length === 0) throw new Error("no endpoints given");
    const endpoints = options.endpoints.map(parseEndpoint);
    const credentials = credentialsFor(options, endpoints);
    const channelOptions: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": maxSendMessageBytes,
      "grpc.keepalive_time_ms": Math.max(options.keepaliveTimeMs ?? 0, minKeepaliveTimeMs),
      "grpc.keepalive_timeout_ms": options.keepaliveTimeoutMs ?? 6_000,
      "grpc.keepalive_permit_without_calls": 0,
      ...(options.tls?.serverName === undefined ? {} : { "grpc.ssl_target_name_override": options.tls.serverName }),
    };
    this.connections = endpoints.map(
      (endpoint) => new Connection(endpoint, new grpc.Client(endpoint.target, credentials, channelOptions)),
    );
  }

  /**
   * Creates a client and waits (up to dialTimeoutMs) until some endpoint accepts a connection, then
   * authenticates when a username is given. Fails with "context deadline exceeded" when no endpoint
   * could be reached in time, as etcd's Go client does.
   */
  static async connect(options: ClientOptions): Promise<EtcdClient> {
    const client = new EtcdClient(options);
    try {
      const dialTimeoutMs = options.dialTimeoutMs ?? 0;
      if (dialTimeoutMs > 0) {
        const index = await client.firstReady(new Date(Date.now() + dialTimeoutMs));
        if (index === undefined) throw deadlineExceeded();
        client.current = index;
      }
      // As clientv3: credentials are used only when both parts are non-empty, and a server with
      // auth disabled is served without a token.
      if ((options.username ?? "") !== "" && (options.password ?? "") !== "") {
        try {
          await client.authenticate();
        } catch (error) {
          if (!(error instanceof EtcdError && error.is("authNotEnabled"))) throw error;
        }
      }
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** The endpoints as given, in order. */
  get endpoints(): readonly string[] {
    return this.connections.map((c) => c.endpoint.original);
  }

  /** Closes every connection; pending calls fail with CANCELLED. */
  close(): void {
    for (const connection of this.connections) connection.client.close();
  }

  private async firstReady(deadline: Date): Promise<number | undefined> {
    const waits = this.connections.map(async (connection, index) =>
      (await connection.waitForReady(deadline)) ? index : undefined,
    );
    // Prefer the first endpoint that connects; fall back to undefined when none did.
    return new Promise((resolve) => {
      let pending = waits.length;
      for (const wait of waits) {
        void wait.then((index) => {
          pending -= 1;
          if (index !== undefined) resolve(index);
          else if (pending === 0) resolve(undefined);
        });
      }
    });
  }

  /** Fetches a fresh auth token with the configured username and password. */
  async authenticate(): Promise<void> {
    this.token = undefined;
    const response = await this.unary(
      authService.authenticate,
      create(AuthenticateRequestSchema, { name: this.options.username ?? "", password: this.options.password ?? "" }),
      { idempotent: true },
    );
    this.token = response.token;
  }

  private metadata(extra: Readonly<Record<string, string>> = {}): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.token !== undefined) metadata.set("token", this.token);
    for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
    return metadata;
  }

  private deadline(options: CallOptions): Date | undefined {
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? 0;
    return timeoutMs > 0 ? new Date(Date.now() + timeoutMs) : undefined;
  }

  private rawUnary<Req, Res>(
    connection: Connection,
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    deadline: Date | undefined,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      connection.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        this.metadata(),
        deadline === undefined ? {} : { deadline },
        (error, response) => {
          if (error) reject(error);
          else resolve(response as Res);
        },
      );
    });
  }

  /**
   * Chooses where the next call goes: the current endpoint when connected, else any connected one,
   * else waits until some endpoint connects. Returns undefined when none connected before the deadline.
   */
  private async pickConnection(deadline: Date | undefined): Promise<number | undefined> {
    if (this.connections[this.current]!.isReady()) return this.current;
    const ready = this.connections.findIndex((c) => c.isReady());
    if (ready !== -1) {
      this.current = ready;
      return ready;
    }
    const index = await this.firstReady(deadline ?? new Date(Date.now() + 24 * 3600 * 1000));
    if (index !== undefined) this.current = index;
    return index;
  }

  /**
   * Waits, without a deadline, until some endpoint is connected and makes it the current one: a
   * stream that failed as unavailable reopens there, as clientv3's streams wait for a ready
   * connection (grpc-go's WaitForReady) before they resume.
   */
  async waitForConnection(): Promise<void> {
    await this.pickConnection(undefined);
  }

  private reportFailure(attempt: number, code: GrpcCode, details: string): void {
    const first = this.connections[0]!.endpoint.original;
    this.options.onAttemptFailed?.({ target: first, attempt, code, details });
  }

  /**
   * Sends one unary call. Unavailability moves on to the next endpoint, and the call is repeated
   * there when it is idempotent or certainly never left this process; an expired auth token is
   * renewed once. Errors are EtcdErrors mapped through the shared table.
   */
  async unary<Req, Res>(method: grpc.MethodDefinition<Req, Res>, request: Req, options: CallOptions = {}): Promise<Res> {
    const deadline = this.deadline(options);
    const idempotent = options.idempotent ?? idempotentPaths.has(method.path);
    const pinned = options.endpointIndex;
    let attemptsLeft = pinned === undefined ? this.connections.length : 1;
    let tokenRefreshed = false;
    for (let attempt = 0; ; attempt++) {
      if (pinned === undefined) {
        const picked = await this.pickConnection(deadline);
        if (picked === undefined) {
          // Like grpc-go's balancer: no endpoint connected before the deadline.
          this.reportFailure(attempt, GrpcCode.DEADLINE_EXCEEDED, "latest balancer error: all SubConns are in TransientFailure");
          throw deadlineExceeded();
        }
      }
      const index = pinned ?? this.current;
      const connection = this.connections[index];
      if (connection === undefined) throw new Error(`no endpoint at index ${index}`);
      const wasReady = connection.isReady();
      try {
        return await this.rawUnary(connection, method, request, deadline);
      } catch (raw) {
        const status = fromServiceError(raw);
        this.reportFailure(
          attempt,
          status.code,
          status.code === GrpcCode.DEADLINE_EXCEEDED && status.errorName === undefined ? "context deadline exceeded" : status.message,
        );
        const error = mapCallError(raw);
        if (error.is("invalidAuthToken") && !tokenRefreshed && this.options.username !== undefined) {
          tokenRefreshed = true;
          await this.authenticate();
          continue;
        }
        if (error.code !== GrpcCode.UNAVAILABLE || error.errorName !== undefined) throw error;
        attemptsLeft -= 1;
        if (pinned === undefined) this.current = (index + 1) % this.connections.length;
        if (attemptsLeft <= 0 || (!idempotent && wasReady)) throw error;
      }
    }
  }

  /** Opens a bidirectional stream (Watch, LeaseKeepAlive) on the current endpoint. */
  bidiStream<Req, Res>(
    method: grpc.MethodDefinition<Req, Res>,
    options: CallOptions = {},
  ): grpc.ClientDuplexStream<Req, Res> {
    const connection = this.connectionFor(options);
    const deadline = options.timeoutMs !== undefined ? this.deadline(options) : undefined;
    return connection.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      this.metadata(options.metadata),
      deadline === undefined ? {} : { deadline },
    );
  }

  /** Opens a server stream (Snapshot, Observe) on the current endpoint. */
  serverStream<Req, Res>(
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): grpc.ClientReadableStream<Res> {
    const connection = this.connectionFor(options);
    const deadline = options.timeoutMs !== undefined ? this.deadline(options) : undefined;
    return connection.client.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(options.metadata),
      deadline === undefined ? {} : { deadline },
    );
  }

  private connectionFor(options: CallOptions): Connection {
    const connection = this.connections[options.endpointIndex ?? this.current];
    if (connection === undefined) throw new Error(`no endpoint at index ${options.endpointIndex}`);
    return connection;
  }
}

/** Maps a grpc-js call error to an EtcdError; an expired deadline reads as Go's context error. */
/** grpc-js's words for a connection lost under a call; grpc-go (and so etcdctl) says "transport is closing". */
const connectionLost = new Set(["read ECONNRESET", "write EPIPE", "Connection dropped"]);

export function mapCallError(raw: unknown): EtcdError {
  const error = fromServiceError(raw);
  if (error.code === GrpcCode.DEADLINE_EXCEEDED && error.errorName === undefined) return deadlineExceeded();
  if (error.code === GrpcCode.UNAVAILABLE && connectionLost.has(error.message)) {
    return new EtcdError(GrpcCode.UNAVAILABLE, "transport is closing", undefined, { cause: raw });
  }
  return error;
}
