/**
 * One TCP listener per client URL that serves gRPC and HTTP/1 on the same port, as etcd does with
 * cmux: the first bytes of a connection decide. A connection that opens with the HTTP/2 client
 * preface goes to gRPC (grpc-js, through its connection injector); anything else goes to the
 * HTTP/1 server. Garbage that is neither is handed to the HTTP/1 parser, which answers
 * "400 Bad Request" and closes, as Go's net/http does. HTTP/2 connections reach gRPC through
 * rewriteAuthorityOnRead, which repairs the `:authority` values (e.g. `http://host:port`) that
 * grpc-go clients send and Node's HTTP/2 server would refuse (see h2-authority.ts).
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import { rewriteAuthorityOnRead } from "./h2-authority.js";

/**
 * How many bytes may arrive before the first line of an HTTP/1 request is complete; longer or
 * unparsable first lines close the connection without a reply, as etcd's cmux does.
 */
export const MAX_SNIFF_BYTES = 4096;
/** An HTTP/1 request line: method, target, version (what cmux's HTTP1 matcher accepts). */
const HTTP1_REQUEST_LINE = /^[A-Za-z]+ \S+ HTTP\/\d+\.\d+\r?$/;

/** The HTTP/2 connection preface a client sends first (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** A connection that sends nothing decisive within this time is closed, so sockets cannot pile up. */
export const SNIFF_TIMEOUT_MS = 10_000;

export interface ConnectionSinks {
  /** Takes a connection that began with the HTTP/2 preface (the preface is still unread). */
  http2(socket: Duplex): void;
  /** Takes any other connection (its first bytes are still unread). */
  http1(socket: net.Socket): void;
}

/** Listens on host:port and dispatches each connection by its first bytes. */
export function listenMultiplexed(host: string, port: number, sinks: ConnectionSinks): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: false, noDelay: true }, (socket) => sniff(socket, sinks));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function sniff(socket: net.Socket, sinks: ConnectionSinks): void {
  let seen = Buffer.alloc(0);
  socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  const onData = (chunk: Buffer): void => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    const prefix = seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (prefix && n < HTTP2_PREFACE.length) return; // need more bytes to decide
    let http1 = false;
    if (!prefix) {
      const newline = seen.indexOf(0x0a);
      if (newline < 0 && seen.length < MAX_SNIFF_BYTES) return; // need the whole first line
      http1 = newline >= 0 && HTTP1_REQUEST_LINE.test(seen.subarray(0, newline).toString("latin1"));
      if (!http1) {
        socket.destroy();
        return;
      }
    }
    socket.off("data", onData);
    socket.pause();
    socket.setTimeout(0);
    socket.unshift(seen);
    if (prefix) {
      sinks.http2(rewriteAuthorityOnRead(socket));
    } else {
      sinks.http1(socket);
      // Node's HTTP/1 server reads through 'data' events once the socket flows again.
      socket.resume();
    }
  };
  socket.on("data", onData);
}
