/**
 * Differential test of etcd 3.4's JSON gateway for Watch and Lease: the same HTTP requests to real
 * etcd and to cairn, status and bodies compared (IDs and terms normalized). The watch is a
 * streamed response read line by line while writes happen; keep-alive streams several requests.
 */
import test from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { requireEtcd, startMember, type Member } from "./harness.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

function post(m: Member, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: m.clientPort, path, method: "POST", headers: { "Content-Type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** POSTs a streaming request and collects `{"result":...}` lines until `lines` arrived. */
function stream(m: Member, path: string, body: string, lines: number): { done: Promise<{ status: number; lines: string[] }>; opened: Promise<void> } {
  let opened: () => void = () => undefined;
  const openedPromise = new Promise<void>((r) => (opened = r));
  const done = new Promise<{ status: number; lines: string[] }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: m.clientPort, path, method: "POST" }, (res) => {
      let buffer = "";
      const got: string[] = [];
      const timer = setTimeout(() => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, lines: got });
      }, 15_000);
      res.on("data", (c: Buffer) => {
        buffer += c.toString();
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          got.push(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
          if (got.length === 1) opened();
        }
        if (got.length >= lines) {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, lines: got });
        }
      });
      res.on("end", () => {
        clearTimeout(timer);
        if (buffer !== "") got.push(buffer);
        resolve({ status: res.statusCode ?? 0, lines: got });
      });
    });
    req.on("error", (e) => ((e as NodeJS.ErrnoException).code === "ECONNRESET" ? undefined : reject(e)));
    req.end(body);
  });
  return { done, opened: openedPromise };
}

async function session(m: Member): Promise<string[]> {
  const log: string[] = [];
  const step = async (label: string, p: Promise<{ status: number; body: string }>) => {
    const r = await p;
    log.push(`${label}: ${r.status} ${r.body}`);
  };
  const watch = stream(m, "/v3/watch", JSON.stringify({ create_request: { key: b64("gw/"), range_end: b64("gw0"), prev_kv: true } }), 4);
  await watch.opened;
  await step("put", post(m, "/v3/kv/put", JSON.stringify({ key: b64("gw/a"), value: b64("1") })));
  await step("grant 99", post(m, "/v3/lease/grant", JSON.stringify({ ID: 99, TTL: 30 })));
  await step("grant 99 again", post(m, "/v3/lease/grant", JSON.stringify({ ID: 99, TTL: 30 })));
  await step("grant 1 s (minimum)", post(m, "/v3/lease/grant", JSON.stringify({ ID: 98, TTL: 1 })));
  await step("put with lease", post(m, "/v3/kv/put", JSON.stringify({ key: b64("gw/b"), value: b64("2"), lease: 99 })));
  await step("timetolive keys", post(m, "/v3/kv/lease/timetolive", JSON.stringify({ ID: 99, keys: true })));
  await step("timetolive unknown", post(m, "/v3/lease/timetolive", JSON.stringify({ ID: 5 })));
  await step("leases", post(m, "/v3/lease/leases", "{}"));
  const ka = await stream(m, "/v3/lease/keepalive", '{"ID":99}\n{"ID":100}', 2).done;
  log.push(`keepalive: ${ka.status} ${ka.lines.join(" | ")}`);
  await step("revoke 99", post(m, "/v3/lease/revoke", JSON.stringify({ ID: 99 })));
  await step("revoke 99 again", post(m, "/v3/kv/lease/revoke", JSON.stringify({ ID: 99 })));
  await step("grant bad json", post(m, "/v3/lease/grant", "{"));
  const w = await watch.done;
  log.push(`watch: ${w.status}\n${w.lines.join("\n")}`);
  const bad = await stream(m, "/v3/watch", "xx", 1).done;
  log.push(`watch bad body: ${bad.status} ${bad.lines.join(" | ")}`);
  const two = await stream(m, "/v3/watch", '{"create_request":{"key":"eg==","range_end":"YQ=="}}{"progress_request":{}}', 2).done;
  log.push(`watch empty range + progress: ${two.status} ${two.lines.join(" | ")}`);
  return log.map((l) => l.replace(/"(cluster_id|member_id|raft_term)":"\d+"/g, '"$1":"<$1>"').replace(/"TTL":"(2[89]|30)","grantedTTL"/, '"TTL":"<remaining>","grantedTTL"'));
}

test("JSON gateway for watch and lease: cairn answers as etcd 3.4 does", { timeout: 120_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  const [etcd, cairn] = await Promise.all([startMember("etcd"), startMember("cairn")]);
  t.after(() => etcd.stop());
  t.after(() => cairn.stop());
  const [want, got] = await Promise.all([session(etcd), session(cairn)]);
  if (process.env["DUMP_TRANSCRIPT"] !== undefined) process.stderr.write(`${got.join("\n")}\n`);
  assert.deepEqual(got, want);
});
