/**
 * The HTTP/1 side of the client port: `/health`, `/version`, `/metrics` and etcd 3.4's JSON
 * gateway under `/v3/`. Answers copy etcd's status codes, headers and bodies (Go's net/http texts
 * for 404 and 405, grpc-gateway's JSON error object).
 */
import http from "node:http";

/** What the HTTP endpoints need from the server. */
export interface HttpBackend {
  /** etcd's checkHealth: no alarm (outside `excludedAlarms`), a leader, and a linearizable read that succeeds. */
  health(excludedAlarms: ReadonlySet<string>): Promise<boolean>;
  /** Server and cluster version, e.g. "3.4.23" and "3.4.0". */
  versions(): { server: string; cluster: string };
  /** Prometheus text. */
  metricsText(): string;
  /** The JSON gateway: body in, JSON out; undefined when the path is not a gateway method. */
  gateway?: (path: string, body: Buffer) => Promise<GatewayReply> | undefined;
}

export interface GatewayReply {
  status: number;
  body: string;
}

/** The largest HTTP body the gateway reads; etcd's gateway is bounded by max-request-bytes too. */
export interface HttpLimits {
  maxBodyBytes: number;
}

const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Headers": "accept, content-type, authorization",
  "Access-Control-Allow-Methods": "POST, GET, OPTIONS, PUT, DELETE",
  "Access-Control-Allow-Origin": "*",
};

/** Which endpoints a listener serves: the client port serves all, a metrics URL only health and metrics. */
export type HttpScope = "client" | "metrics";

export function createHttpServer(backend: HttpBackend, limits: HttpLimits, scope: HttpScope): http.Server {
  const server = http.createServer({ requestTimeout: 60_000, headersTimeout: 30_000 }, (req, res) => {
    handle(backend, limits, scope, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, `${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  server.on("clientError", (_err, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request");
    else socket.destroy();
  });
  return server;
}

async function handle(backend: HttpBackend, limits: HttpLimits, scope: HttpScope, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname;
  if (scope === "client") for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
  if (path === "/health") return health(backend, req, res, url);
  if (path === "/metrics") {
    if (req.method !== "GET") return methodNotAllowed(res);
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(backend.metricsText());
    return;
  }
  if (scope === "client" && path === "/version") {
    if (req.method !== "GET") return methodNotAllowed(res);
    const v = backend.versions();
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ etcdserver: v.server, etcdcluster: v.cluster }));
    return;
  }
  if (scope === "client" && backend.gateway !== undefined && /^\/v3(beta|alpha)?\//.test(path)) {
    const gatewayPath = path.replace(/^\/v3(beta|alpha)?\//, "/v3/");
    if (req.method === "OPTIONS") {
      res.writeHead(200);
      res.end();
      return;
    }
    if (req.method !== "POST") return methodNotAllowed(res, false);
    const { body, size } = await readBody(req, limits.maxBodyBytes);
    if (body === undefined) {
      // etcd's gateway forwards to gRPC, whose receive limit answers RESOURCE_EXHAUSTED (HTTP 429).
      return sendJson(res, httpStatusFromGrpcCode(8), gatewayError(8, `grpc: received message larger than max (${size} vs. ${limits.maxBodyBytes})`));
    }
    const reply = backend.gateway(gatewayPath, body);
    if (reply === undefined) return sendText(res, 404, "Not Found\n"); // grpc-gateway's own 404
    const { status, body: text } = await reply;
    return sendJson(res, status, text);
  }
  sendText(res, 404, "404 page not found\n");
}

async function health(backend: HttpBackend, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  if (req.method !== "GET") {
    res.setHeader("Allow", "GET");
    return methodNotAllowed(res);
  }
  const excluded = new Set(url.searchParams.getAll("exclude"));
  const ok = await backend.health(excluded);
  const body = JSON.stringify({ health: ok ? "true" : "false" });
  if (ok) {
    // etcd sets no type; Go's net/http sniffs the JSON as text.
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(body);
  } else {
    // Go's http.Error: text/plain, nosniff, body plus newline.
    sendText(res, 503, body + "\n");
  }
}

function methodNotAllowed(res: http.ServerResponse, _withAllow = true): void {
  sendText(res, 405, "Method Not Allowed\n");
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
  res.end(text);
}

function sendJson(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(text);
}

/** grpc-gateway's error body. */
export function gatewayError(code: number, message: string): string {
  return JSON.stringify({ error: message, message, code });
}

/** grpc-gateway's HTTPStatusFromCode. */
export function httpStatusFromGrpcCode(code: number): number {
  const table: Record<number, number> = { 0: 200, 1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401 };
  return table[code] ?? 500;
}

/** Reads a request body; `body` is undefined when it exceeds `maxBytes` (the rest is drained, not kept). */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<{ body: Buffer | undefined; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve({ body: tooLarge ? undefined : Buffer.concat(chunks), size }));
    req.on("error", reject);
  });
}
