/**
 * DNS SRV discovery of client endpoints, as etcd 3.4's pkg/srv.GetClient: `_etcd-client-ssl._tcp.<domain>`
 * gives https endpoints and `_etcd-client._tcp.<domain>` http ones (each service name suffixed with
 * `-<serviceName>` when one is given). Discovery fails only when both lookups fail, with Go's
 * `dns lookup errors: <https error> and <http error>`; each error reads as Go's net.DNSError.
 */
import { Resolver } from "node:dns/promises";

/** The part of node:dns's Resolver discovery uses; tests pass one pointed at a fake server. */
export interface SrvResolver {
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  getServers(): string[];
}

/** One discovered server, as Go's net.SRV (the target keeps its trailing dot). */
export interface SrvRecord {
  readonly target: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

/** Go's isDomainName: names it rejects are looked up nowhere and fail as "no such host". */
export function isGoDomainName(name: string): boolean {
  if (name === ".") return true;
  const length = name.length;
  if (length === 0 || length > 254 || (length === 254 && !name.endsWith("."))) return false;
  let last = ".";
  let nonNumeric = false;
  let labelLength = 0;
  for (const c of name) {
    if (/[a-zA-Z_]/.test(c)) {
      nonNumeric = true;
      labelLength++;
    } else if (/[0-9]/.test(c)) labelLength++;
    else if (c === "-") {
      if (last === ".") return false;
      labelLength++;
      nonNumeric = true;
    } else if (c === ".") {
      if (last === "." || last === "-" || labelLength > 63 || labelLength === 0) return false;
      labelLength = 0;
    } else return false;
    last = c;
  }
  if (last === "-" || labelLength > 63) return false;
  return nonNumeric;
}

/** Go's address form (host:port, IPv6 in brackets) of a node:dns server entry. */
function goServerAddress(server: string): string {
  if (server.startsWith("[")) return server;
  if (server.includes(":") && server.split(":").length > 2) return `[${server}]:53`;
  return server.includes(":") ? server : `${server}:53`;
}

/** What Go's resolver says for each c-ares failure (net.DNSError.Err). */
const goDnsErrorText: Record<string, string> = {
  ENOTFOUND: "no such host",
  ENODATA: "no such host",
  ENONAME: "no such host",
  ESERVFAIL: "server misbehaving",
  EREFUSED: "server misbehaving",
  EFORMERR: "server misbehaving",
  EBADRESP: "server misbehaving",
  ETIMEOUT: "i/o timeout",
  ECONNREFUSED: "connection refused",
};

/** Go's net.DNSError text: `lookup <name> on <server>: <reason>`. */
function dnsErrorText(name: string, error: NodeJS.ErrnoException, resolver: SrvResolver): string {
  const server = resolver.getServers()[0];
  const on = server === undefined ? "" : ` on ${goServerAddress(server)}`;
  return `lookup ${name}${on}: ${goDnsErrorText[error.code ?? ""] ?? error.message}`;
}

/**
 * Go's ordering of SRV answers (RFC 2782): by priority, and within one priority in a random order
 * weighted by weight. `random` returns a number in [0, 1).
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const sorted = [...records].sort((a, b) => a.priority - b.priority || a.weight - b.weight);
  const result: SrvRecord[] = [];
  for (let start = 0; start < sorted.length; ) {
    let end = start;
    while (end < sorted.length && sorted[end]!.priority === sorted[start]!.priority) end++;
    const group = sorted.slice(start, end);
    while (group.length > 0) {
      const total = group.reduce((sum, r) => sum + r.weight, 0);
      let pick = 0;
      if (total > 0) {
        let point = Math.floor(random() * total);
        while (point >= group[pick]!.weight) point -= group[pick++]!.weight;
      }
      result.push(group.splice(pick, 1)[0]!);
    }
    start = end;
  }
  return result;
}

/** `_service._tcp.domain` as Go's net.LookupSRV forms it. */
function srvName(service: string, domain: string): string {
  return `_${service}._tcp.${domain}`;
}

/** pkg/srv.GetSRVService: `etcd-client[-ssl][-<serviceName>]`. */
function srvService(service: string, serviceName: string, scheme: "https" | "http"): string {
  const base = scheme === "https" ? `${service}-ssl` : service;
  return serviceName === "" ? base : `${base}-${serviceName}`;
}

async function lookupSrv(name: string, resolver: SrvResolver, random: () => number): Promise<SrvRecord[]> {
  if (!isGoDomainName(name)) throw new Error(`lookup ${name}: no such host`);
  try {
    const answers = await resolver.resolveSrv(name);
    return orderSrv(
      answers.map((a) => ({ target: a.name.endsWith(".") ? a.name : `${a.name}.`, port: a.port, priority: a.priority, weight: a.weight })),
      random,
    );
  } catch (error) {
    throw new Error(dnsErrorText(name, error as NodeJS.ErrnoException, resolver));
  }
}

/** `host:port` as Go's net.JoinHostPort writes it. */
function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface DiscoveryOptions {
  readonly domain: string;
  /** `--discovery-srv-name`: a suffix of the SRV service names; "" for none. */
  readonly serviceName: string;
  /** Resolver to ask; the system's (from /etc/resolv.conf) when absent. */
  readonly resolver?: SrvResolver;
  /** Source of randomness for weighted ordering; Math.random when absent. */
  readonly random?: () => number;
}

/**
 * pkg/srv.GetClient("etcd-client", domain, serviceName): the discovered endpoint URLs, https ones
 * first. Rejects with Go's text when both lookups fail.
 */
export async function discoverClientEndpoints(options: DiscoveryOptions): Promise<string[]> {
  const resolver = options.resolver ?? new Resolver();
  const random = options.random ?? Math.random;
  const lookups = (["https", "http"] as const).map(async (scheme) => {
    const records = await lookupSrv(srvName(srvService("etcd-client", options.serviceName, scheme), options.domain), resolver, random);
    return records.map((r) => `${scheme}://${joinHostPort(r.target, r.port)}`);
  });
  const [https, http] = (await Promise.allSettled(lookups)) as [PromiseSettledResult<string[]>, PromiseSettledResult<string[]>];
  if (https.status === "rejected" && http.status === "rejected") {
    throw new Error(`dns lookup errors: ${(https.reason as Error).message} and ${(http.reason as Error).message}`);
  }
  return [...(https.status === "fulfilled" ? https.value : []), ...(http.status === "fulfilled" ? http.value : [])];
}
