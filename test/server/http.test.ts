/**
 * The client-port plumbing without a server behind it: the multiplexing listener (HTTP/1, HTTP/2
 * preface, garbage) and the HTTP router's answers for health, version, metrics and unknown paths.
 */
import test from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import type { Duplex } from "node:stream";
import { createHttpServer, type HttpBackend } from "../../src/http/router.js";
import { listenMultiplexed } from "../../src/platform/listener.js";
import { Counter, Histogram, Registry } from "../../src/server/metrics.js";

function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    setTimeout(() => socket.destroy(), 2000);
  });
}

test("listener: HTTP/1 to the HTTP server, HTTP/2 preface to the gRPC sink, garbage closed", async () => {
  let healthy = true;
  const backend: HttpBackend = {
    health: async () => healthy,
    versions: () => ({ server: "3.4.23", cluster: "3.4.0" }),
    metricsText: () => "m 1\n",
    gateway: () => undefined,
  };
  const http1 = createHttpServer(backend, { maxBodyBytes: 10 }, "client");
  const http2Sockets: Duplex[] = [];
  const server = await listenMultiplexed("127.0.0.1", 0, {
    http2: (socket) => {
      http2Sockets.push(socket);
      socket.end();
    },
    http1: (socket) => http1.emit("connection", socket),
  });
  const port = (server.address() as net.AddressInfo).port;
  try {
    const base = `http://127.0.0.1:${port}`;
    assert.equal(await (await fetch(`${base}/health`)).text(), '{"health":"true"}');
    healthy = false;
    const unhealthy = await fetch(`${base}/health`);
    assert.equal(unhealthy.status, 503);
    assert.equal(await unhealthy.text(), '{"health":"false"}\n');
    assert.equal((await fetch(`${base}/health`, { method: "POST" })).status, 405);
    assert.equal(await (await fetch(`${base}/version`)).text(), '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}');
    assert.equal(await (await fetch(`${base}/metrics`)).text(), "m 1\n");
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "404 page not found\n");
    const gatewayMissing = await fetch(`${base}/v3/kv/nope`, { method: "POST", body: "{}" });
    assert.equal(await gatewayMissing.text(), "Not Found\n");
    const big = await fetch(`${base}/v3/kv/put`, { method: "POST", body: "x".repeat(100) });
    assert.equal(big.status, 429);
    assert.match(await big.text(), /received message larger than max \(100 vs\. 10\)/);
    assert.equal(await exchange(port, "\x00\x01garbage\r\n\r\n"), "");
    assert.equal(await exchange(port, "x".repeat(5000)), "");
    await exchange(port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert.equal(http2Sockets.length, 1);
    // Still serving after all that.
    assert.equal((await fetch(`${base}/version`)).status, 200);
  } finally {
    server.close();
    http1.close();
  }
});

test("metrics render in the Prometheus text format, sorted by name", () => {
  const registry = new Registry();
  const counter = registry.register(new Counter("b_total", "B."));
  const histogram = registry.register(new Histogram("a_seconds", "A.", [0.001, 0.002]));
  counter.inc(3);
  histogram.observe(0.0015);
  assert.equal(
    registry.render(),
    [
      "# HELP a_seconds A.",
      "# TYPE a_seconds histogram",
      'a_seconds_bucket{le="0.001"} 0',
      'a_seconds_bucket{le="0.002"} 1',
      'a_seconds_bucket{le="+Inf"} 1',
      "a_seconds_sum 0.0015",
      "a_seconds_count 1",
      "# HELP b_total B.",
      "# TYPE b_total counter",
      "b_total 3",
      "",
    ].join("\n"),
  );
});
