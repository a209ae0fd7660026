/**
 * `--discovery-srv`: a tiny DNS server on a random loopback UDP port answers SRV queries, and
 * cairnctl's endpoint resolution (global.ts endpointsFromFlags, with a resolver pointed at that
 * server) must find the endpoints etcdctl's pkg/srv would, then talk to a real etcd through them.
 * The failure texts are compared with etcdctl's in test/ctl/cases/env.txt.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { RangeRequestSchema } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../../src/api/grpc.js";
import { EtcdClient } from "../../src/client/client.js";
import { orderSrv, type SrvRecord } from "../../src/client/discovery.js";
import { FlagSet } from "../../src/ctl/cli/flags.js";
import { CtlExit } from "../../src/ctl/exit.js";
import { endpointsFromFlags, globalFlagDefs, tlsFromFlags } from "../../src/ctl/global.js";
import { skipWithoutEtcd, startEtcd, type EtcdProcess } from "../client/etcd.js";
import { haveOpenssl } from "../client/tls.js";

const cairnctl = resolve("bin/cairnctl");

interface FakeSrv {
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
}

/** Encodes a domain name as DNS labels. */
function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l !== "");
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0])]);
}

/** Reads the question name starting at offset 12; returns it and the offset after QTYPE/QCLASS. */
function readQuestion(query: Buffer): { name: string; end: number } {
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = query[offset]!;
    offset++;
    if (length === 0) break;
    labels.push(query.subarray(offset, offset + length).toString("ascii"));
    offset += length;
  }
  return { name: labels.join(".").toLowerCase(), end: offset + 4 };
}

/** A DNS server answering SRV questions from `zone`; other names get NXDOMAIN. */
class FakeDns {
  readonly queries: string[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    private readonly zone: ReadonlyMap<string, readonly FakeSrv[]>,
  ) {
    socket.on("message", (query, peer) => socket.send(this.answer(query), peer.port, peer.address));
  }

  static start(zone: ReadonlyMap<string, readonly FakeSrv[]>): Promise<FakeDns> {
    const socket = createSocket("udp4");
    return new Promise((resolveStart) =>
      socket.bind(0, "127.0.0.1", () => resolveStart(new FakeDns(socket, socket.address().port, zone))),
    );
  }

  private answer(query: Buffer): Buffer {
    const { name, end } = readQuestion(query);
    this.queries.push(name);
    const records = this.zone.get(name);
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    header.writeUInt16BE(records === undefined ? 0x8183 : 0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records?.length ?? 0, 6);
    const answers = (records ?? []).map((r) => {
      const target = encodeName(r.target);
      const data = Buffer.alloc(6);
      data.writeUInt16BE(r.priority ?? 0, 0);
      data.writeUInt16BE(r.weight ?? 0, 2);
      data.writeUInt16BE(r.port, 4);
      const fixed = Buffer.alloc(12);
      fixed.writeUInt16BE(0xc00c, 0);
      fixed.writeUInt16BE(33, 2);
      fixed.writeUInt16BE(1, 4);
      fixed.writeUInt32BE(60, 6);
      fixed.writeUInt16BE(data.length + target.length, 10);
      return Buffer.concat([fixed, data, target]);
    });
    return Buffer.concat([header, query.subarray(12, end), ...answers]);
  }

  resolver(): Resolver {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${this.port}`]);
    return resolver;
  }

  close(): void {
    this.socket.close();
  }
}

function globalFlags(args: readonly string[]): FlagSet {
  const flags = new FlagSet(globalFlagDefs);
  flags.parse(args);
  return flags;
}

/** Runs endpointsFromFlags with stderr captured. */
async function discover(args: readonly string[], resolver: Resolver): Promise<{ endpoints: string[]; stderr: string }> {
  let stderr = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    return { endpoints: await endpointsFromFlags(globalFlags(args), resolver), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe("ctl --discovery-srv", { skip: skipWithoutEtcd() }, () => {
  let etcd: EtcdProcess;
  let dns: FakeDns;
  let etcdPort: number;

  before(async () => {
    etcd = await startEtcd();
    etcdPort = Number(etcd.endpoint.split(":")[1]);
    const zone = new Map<string, FakeSrv[]>([
      ["_etcd-client._tcp.cairn.test", [{ target: "localhost.", port: etcdPort }]],
      ["_etcd-client-ssl._tcp.secure.test", [{ target: "etcd-b.secure.test.", port: 2380, priority: 20 }, { target: "etcd-a.secure.test.", port: 2379, priority: 10 }]],
      ["_etcd-client._tcp.secure.test", [{ target: "localhost.", port: etcdPort }]],
      ["_etcd-client-east._tcp.named.test", [{ target: "localhost.", port: etcdPort }]],
    ]);
    dns = await FakeDns.start(zone);
  });

  after(async () => {
    dns?.close();
    await etcd?.stop();
  });

  test("SRV targets become endpoints and cairnctl reaches etcd through them", async () => {
    const { endpoints, stderr } = await discover(["--discovery-srv", "cairn.test"], dns.resolver());
    assert.deepEqual(endpoints, [`http://localhost.:${etcdPort}`]);
    assert.equal(stderr, "");
    assert.deepEqual(dns.queries.slice().sort(), ["_etcd-client-ssl._tcp.cairn.test", "_etcd-client._tcp.cairn.test"]);
    const put = spawnSync("etcdctl", [`--endpoints=${etcd.endpoint}`, "put", "discovered", "yes"], { encoding: "utf8" });
    assert.equal(put.status, 0, put.stderr);
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ETCDCTL_")));
    const get = spawnSync(cairnctl, [`--endpoints=${endpoints.join(",")}`, "get", "discovered"], { encoding: "utf8", env });
    assert.deepEqual({ code: get.status, stdout: get.stdout, stderr: get.stderr }, { code: 0, stdout: "discovered\nyes\n", stderr: "" });
  });

  test("https endpoints first, ordered by priority; http ones dropped unless discovery is insecure", async () => {
    const insecure = await discover(["-d", "secure.test"], dns.resolver());
    assert.deepEqual(insecure.endpoints, ["https://etcd-a.secure.test.:2379", "https://etcd-b.secure.test.:2380", `http://localhost.:${etcdPort}`]);
    const secure = await discover(["-d", "secure.test", "--insecure-discovery=false"], dns.resolver());
    assert.deepEqual(secure.endpoints, ["https://etcd-a.secure.test.:2379", "https://etcd-b.secure.test.:2380"]);
    assert.equal(secure.stderr, `ignoring discovered insecure endpoint "http://localhost.:${etcdPort}"\n`);
  });

  test("nothing left after dropping insecure endpoints falls back to --endpoints", async () => {
    const result = await discover(["--discovery-srv=cairn.test", "--insecure-discovery=false", "--endpoints=10.0.0.1:1"], dns.resolver());
    assert.deepEqual(result.endpoints, ["10.0.0.1:1"]);
    assert.equal(result.stderr, `ignoring discovered insecure endpoint "http://localhost.:${etcdPort}"\n`);
  });

  test("--discovery-srv-name suffixes the service names", async () => {
    const result = await discover(["--discovery-srv=named.test", "--discovery-srv-name=east"], dns.resolver());
    assert.deepEqual(result.endpoints, [`http://localhost.:${etcdPort}`]);
  });

  test("both lookups failing is fatal with Go's text", async () => {
    await assert.rejects(discover(["--discovery-srv=nowhere.test"], dns.resolver()), (error: unknown) => {
      assert.ok(error instanceof CtlExit);
      assert.equal(error.code, 1);
      const server = `127.0.0.1:${dns.port}`;
      assert.equal(
        error.message,
        `dns lookup errors: lookup _etcd-client-ssl._tcp.nowhere.test on ${server}: no such host and lookup _etcd-client._tcp.nowhere.test on ${server}: no such host`,
      );
      return true;
    });
  });
});

describe("SRV ordering", () => {
  const record = (target: string, priority: number, weight: number): SrvRecord => ({ target, port: 1, priority, weight });

  test("lower priority first; within a priority, the weighted pick decides", () => {
    const records = [record("c", 2, 0), record("a", 1, 10), record("b", 1, 30)];
    // random 0 picks the first by weight order (a: weight 10 sorts first), 0.99 the last.
    assert.deepEqual(orderSrv(records, () => 0).map((r) => r.target), ["a", "b", "c"]);
    assert.deepEqual(orderSrv(records, () => 0.99).map((r) => r.target), ["b", "a", "c"]);
  });

  test("every record appears exactly once", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 200; n++) {
      const records = Array.from({ length: 1 + (n % 6) }, (_, i) => record(`t${i}`, i % 3, (i * 7 + n) % 5));
      const ordered = orderSrv(records, random);
      assert.deepEqual(ordered.map((r) => r.target).sort(), records.map((r) => r.target).sort());
      for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i - 1]!.priority <= ordered[i]!.priority);
    }
  });
});

/** A CA, a server certificate for `domain` and 127.0.0.1 (not "localhost"), and a client certificate. */
function makeDomainPki(domain: string): { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const dir = mkdtempSync(join(tmpdir(), "cairn-discovery-pki-"));
  const openssl = (args: string[]) => {
    const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=discovery-ca"]);
  writeFileSync(join(dir, "server.ext"), `subjectAltName=DNS:${domain},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`);
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const name of ["server", "client"]) {
    openssl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`]);
  }
  const path = (file: string) => join(dir, file);
  return { dir, ca: path("ca.crt"), serverCert: path("server.crt"), serverKey: path("server.key"), clientCert: path("client.crt"), clientKey: path("client.key") };
}

const noTls = skipWithoutEtcd() || (haveOpenssl() ? false : "openssl not found");
describe("ctl --discovery-srv over TLS", { skip: noTls }, () => {
  const domain = "cairn-secure.test";
  let pki: ReturnType<typeof makeDomainPki>;
  let etcd: EtcdProcess;
  let dns: FakeDns;

  before(async () => {
    pki = makeDomainPki(domain);
    etcd = await startEtcd({ tls: { caFile: pki.ca, certFile: pki.serverCert, keyFile: pki.serverKey } });
    const port = Number(etcd.endpoint.split(":")[1]);
    dns = await FakeDns.start(new Map([[`_etcd-client-ssl._tcp.${domain}`, [{ target: "localhost.", port }]]]));
  });

  after(async () => {
    dns?.close();
    await etcd?.stop();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  /** Resolves endpoints and TLS as cairnctl does for `args`, then reads a key through them. */
  async function rangeThrough(args: readonly string[]): Promise<string> {
    const flags = globalFlags([...args, `--cacert=${pki.ca}`, `--cert=${pki.clientCert}`, `--key=${pki.clientKey}`]);
    const endpoints = await endpointsFromFlags(flags, dns.resolver());
    const tls = tlsFromFlags(flags);
    assert.ok(tls !== undefined);
    try {
      const client = await EtcdClient.connect({ endpoints, tls, dialTimeoutMs: 3000, commandTimeoutMs: 3000 });
      try {
        const response = await client.unary(kvService.range, create(RangeRequestSchema, { key: new TextEncoder().encode("k") }));
        return `ok ${response.count}`;
      } finally {
        client.close();
      }
    } catch (error) {
      return `failed ${(error as Error).message}`;
    }
  }

  test("secure discovery verifies the server against the domain, not the SRV target", async () => {
    // The certificate names the domain and 127.0.0.1 but not "localhost", the SRV target.
    assert.equal(await rangeThrough(["--discovery-srv", domain, "--insecure-discovery=false"]), "ok 0");
    assert.match(await rangeThrough(["--discovery-srv", domain]), /^failed /);
  });
});
