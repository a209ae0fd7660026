/**
 * etcd 3.4's JSON gateway routes for Watch and Lease (grpc-gateway with proto field names).
 *
 * Unary: POST /v3/lease/{grant,revoke,timetolive,leases} (and the /v3/kv/lease/* aliases) take one
 * JSON request and answer one JSON response. Streams: POST /v3/watch and /v3/lease/keepalive read
 * a sequence of JSON request objects from the body as it arrives and answer with a chunked stream
 * of `{"result": <response>}` lines; a watch stays open after the body ends (as etcd's does) until
 * the client goes away, a keep-alive stream ends with its body.
 */
import { EventEmitter } from "node:events";
import type http from "node:http";
import { create, fromJsonString, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { EtcdError } from "../api/errors.js";
import {
  LeaseGrantRequestSchema,
  LeaseGrantResponseSchema,
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  LeaseLeasesRequestSchema,
  LeaseLeasesResponseSchema,
  LeaseRevokeRequestSchema,
  LeaseRevokeResponseSchema,
  LeaseTimeToLiveRequestSchema,
  LeaseTimeToLiveResponseSchema,
  WatchRequestSchema,
  WatchResponseSchema,
  type WatchResponse,
} from "../api/gen/etcdserverpb/rpc_pb.js";
import { serveWatch, type WatchCall, type WatchServiceOptions } from "../grpc/watch.js";
import type { EtcdServer } from "../server/server.js";
import type { LeaseService } from "../server/lease/lease-service.js";
import { goJsonError } from "./gateway.js";
import { gatewayError, httpStatusFromGrpcCode, type GatewayReply } from "./router.js";

interface UnaryRoute {
  input: DescMessage;
  output: DescMessage;
  call: (request: never) => Promise<unknown> | unknown;
}

function unaryRoutes(leases: LeaseService): Map<string, UnaryRoute> {
  const grant: UnaryRoute = { input: LeaseGrantRequestSchema, output: LeaseGrantResponseSchema, call: (r: MessageShape<typeof LeaseGrantRequestSchema>) => leases.grant(r) };
  const revoke: UnaryRoute = { input: LeaseRevokeRequestSchema, output: LeaseRevokeResponseSchema, call: (r: MessageShape<typeof LeaseRevokeRequestSchema>) => leases.revoke(r) };
  const ttl: UnaryRoute = { input: LeaseTimeToLiveRequestSchema, output: LeaseTimeToLiveResponseSchema, call: (r: MessageShape<typeof LeaseTimeToLiveRequestSchema>) => leases.timeToLive(r) };
  const list: UnaryRoute = { input: LeaseLeasesRequestSchema, output: LeaseLeasesResponseSchema, call: () => leases.leases() };
  return new Map([
    ["/v3/lease/grant", grant],
    ["/v3/lease/revoke", revoke],
    ["/v3/kv/lease/revoke", revoke],
    ["/v3/lease/timetolive", ttl],
    ["/v3/kv/lease/timetolive", ttl],
    ["/v3/lease/leases", list],
    ["/v3/kv/lease/leases", list],
  ]);
}

export interface WatchLeaseGateway {
  /** Unary lease routes; undefined when `path` is not one. */
  unary(path: string, body: Buffer): Promise<GatewayReply> | undefined;
  /** Streaming routes; false when `path` is not one (the caller serves it). */
  stream(path: string, req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

export function createWatchLeaseGateway(server: EtcdServer, watchOptions: WatchServiceOptions): WatchLeaseGateway {
  const leases = server.leases;
  const routes = leases === undefined ? new Map<string, UnaryRoute>() : unaryRoutes(leases);
  return {
    unary(path, body) {
      const route = routes.get(path);
      return route === undefined ? undefined : serveUnary(route, body);
    },
    stream(path, req, res) {
      if (path === "/v3/watch" && server.watchable !== undefined) {
        const watchable = server.watchable;
        streamJson(req, res, WatchRequestSchema, (call) => serveWatch(server, watchable, watchOptions, call), true);
        return true;
      }
      if (path === "/v3/lease/keepalive" && leases !== undefined) {
        streamJson(req, res, LeaseKeepAliveRequestSchema, (call) => keepAlive(leases, call), false);
        return true;
      }
      return false;
    },
  };
}

async function serveUnary(route: UnaryRoute, body: Buffer): Promise<GatewayReply> {
  let request: MessageShape<DescMessage>;
  try {
    request = fromJsonString(route.input, body.length === 0 ? "{}" : body.toString("utf8"), { ignoreUnknownFields: false });
  } catch (err) {
    return { status: 400, body: gatewayError(3, goJsonError(body) ?? (err as Error).message) };
  }
  try {
    const response = await route.call(request as never);
    return { status: 200, body: toJsonString(route.output, response as never, { useProtoFieldName: true }) };
  } catch (err) {
    const code = err instanceof EtcdError ? err.code : 2;
    return { status: httpStatusFromGrpcCode(code), body: gatewayError(code, (err as Error).message) };
  }
}

/** A gateway stream as a WatchCall-like duplex of messages. */
class JsonStreamCall<Req> extends EventEmitter {
  constructor(
    private readonly res: http.ServerResponse,
    private readonly output: DescMessage,
    private readonly req: http.IncomingMessage,
  ) {
    super();
  }
  write(response: unknown): boolean {
    if (this.res.destroyed || this.res.writableEnded) return true;
    return this.res.write(`${JSON.stringify({ result: JSON.parse(toJsonString(this.output, response as never, { useProtoFieldName: true })) as unknown })}\n`);
  }
  fail(err: unknown): void {
    const code = err instanceof EtcdError ? err.code : 2;
    if (!this.res.writableEnded) this.res.end(`${JSON.stringify({ error: JSON.parse(gatewayError(code, (err as Error).message)) as unknown })}\n`);
  }
  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
  pause(): void {
    this.req.pause();
  }
  resume(): void {
    this.req.resume();
  }
  /** Typed emit of a request. */
  deliver(request: Req): void {
    this.emit("data", request);
  }
}

/**
 * Splits the body into JSON objects, parses each as `input`, and hands them to the stream
 * `serve` sets up. A body that does not start with a JSON object is answered like etcd: HTTP 500
 * with the decoder's error.
 */
function streamJson<S extends DescMessage>(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  input: S,
  serve: (call: JsonStreamCall<MessageShape<S>> & WatchCall) => void,
  output: boolean,
): void {
  const call = new JsonStreamCall<MessageShape<S>>(res, output ? WatchResponseSchema : LeaseKeepAliveResponseSchema, req);
  const splitter = new JsonObjectSplitter();
  let started = false;
  let failed = false;
  const start = () => {
    if (started || failed || res.headersSent) return;
    started = true;
    res.writeHead(200, { "Content-Type": "application/json", "Grpc-Metadata-Content-Type": "application/grpc" });
    res.on("drain", () => call.emit("drain"));
    serve(call as JsonStreamCall<MessageShape<S>> & WatchCall);
  };
  req.on("data", (chunk: Buffer) => {
    if (failed) return;
    let objects: string[];
    try {
      objects = splitter.push(chunk.toString("utf8"));
    } catch (err) {
      if (!started) {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(gatewayError(2, (err as Error).message));
      } else {
        call.fail(err);
      }
      failed = true;
      req.resume(); // drain the rest; the answer is final
      return;
    }
    for (const text of objects) {
      let request: MessageShape<S>;
      try {
        request = fromJsonString(input, text, { ignoreUnknownFields: false }) as MessageShape<S>;
      } catch (err) {
        if (!started) {
          res.writeHead(400, { "Content-Type": "application/json" });
          res.end(gatewayError(3, (err as Error).message));
        } else {
          call.fail(err);
        }
        failed = true;
        req.resume();
        return;
      }
      start();
      call.deliver(request);
    }
  });
  req.on("end", () => {
    if (failed) return;
    start();
    call.emit("end");
  });
  res.on("close", () => {
    call.emit("cancelled");
    call.emit("close");
  });
}

/** The keep-alive stream: one response per request, in order; ends after the body ends. */
function keepAlive(leases: LeaseService, call: JsonStreamCall<MessageShape<typeof LeaseKeepAliveRequestSchema>>): void {
  let chain = Promise.resolve();
  call.on("data", (request: MessageShape<typeof LeaseKeepAliveRequestSchema>) => {
    chain = chain
      .then(async () => {
        const ttl = await leases.keepAlive(request.ID);
        call.write(create(LeaseKeepAliveResponseSchema, { header: leases.header(), ID: request.ID, TTL: ttl }));
      })
      .catch((err: unknown) => call.fail(err));
  });
  call.on("end", () => void chain.then(() => call.end()));
}

/** Incremental splitter of concatenated JSON objects (whitespace between them allowed). */
export class JsonObjectSplitter {
  private buffer = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;

  /** Adds text; returns the objects completed by it. Throws on text outside an object. */
  push(text: string): string[] {
    this.buffer += text;
    const out: string[] = [];
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const ch = this.buffer[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === "\\") this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t") continue;
        if (ch !== "{") throw new Error(`invalid character '${ch}' looking for beginning of value`);
        this.start = i;
      }
      if (ch === '"') this.inString = true;
      else if (ch === "{" || ch === "[") this.depth++;
      else if (ch === "}" || ch === "]") {
        this.depth--;
        if (this.depth === 0) out.push(this.buffer.slice(this.start, i + 1));
      }
    }
    if (this.depth === 0 && !this.inString) {
      this.buffer = "";
      this.scanned = 0;
    } else {
      this.buffer = this.buffer.slice(this.start);
      this.start = 0;
      this.scanned = this.buffer.length;
    }
    return out;
  }
}

export type { WatchResponse };
