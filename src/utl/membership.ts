/**
 * The cluster membership a restore bootstraps, derived from the flags exactly as etcd 3.4 derives
 * it (`types.NewURLs`, `types.NewURLsMap`, `membership.NewMember` with no time, `RaftCluster.genID`,
 * `ServerConfig.VerifyBootstrap`), so a restored Cairn member and a restored etcd member built from
 * the same flags get the same member and cluster IDs.
 */
import { clusterIdFromMemberIds, formatId, memberIdFromPeerURLs, type MemberId } from "../storage/membership.js";

/** A flag value that etcd would reject; the message is etcd's. */
export class MembershipConfigError extends Error {
  override name = "MembershipConfigError";
}

/** One member of the initial cluster. */
export interface Member {
  id: MemberId;
  name: string;
  /** Peer URLs, sorted. */
  peerURLs: string[];
}

/** The initial cluster of a restore. */
export interface InitialCluster {
  clusterId: bigint;
  /** Members in ascending ID order (etcd's MemberIDs order). */
  members: Member[];
  /** The member this restore creates. */
  local: Member;
}

/**
 * Parses and normalises one URL as Go's `url.Parse` + `URL.String()` would for the URLs etcd
 * accepts: scheme http, https, unix or unixs, a host with a port, and no path.
 */
export function parsePeerURL(raw: string): string {
  const input = raw.trim();
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(input);
  if (match === null) throw new MembershipConfigError(`URL scheme must be http, https, unix, or unixs: ${input}`);
  const scheme = match[1]!.toLowerCase();
  const host = match[2]!;
  const rest = match[3]!;
  if (!["http", "https", "unix", "unixs"].includes(scheme)) {
    throw new MembershipConfigError(`URL scheme must be http, https, unix, or unixs: ${input}`);
  }
  if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(host)) {
    throw new MembershipConfigError(`URL address does not have the form "host:port": ${input}`);
  }
  if (rest !== "") throw new MembershipConfigError(`URL must not contain a path: ${input}`);
  return `${scheme}://${host}`;
}

/** `types.NewURLs`: parses a list and sorts it. */
export function parseURLs(raw: string[]): string[] {
  if (raw.length === 0) throw new MembershipConfigError("no valid URLs given");
  return raw.map(parsePeerURL).sort();
}

/** `types.NewURLsMap`: `name=url,name=url,...`, several URLs per name allowed. */
export function parseInitialCluster(flag: string): Map<string, string[]> {
  const raw = new Map<string, string[]>();
  for (const part of flag.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = eq >= 0 ? part.slice(0, eq) : part;
    const url = eq >= 0 ? part.slice(eq + 1) : "";
    raw.set(name, [...(raw.get(name) ?? []), url]);
  }
  const out = new Map<string, string[]>();
  for (const [name, urls] of raw) out.set(name, parseURLs(urls));
  return out;
}

/** The reason etcd's `netutil.URLStringsEqual` gives for two sorted URL lists that differ. */
function urlMismatch(a: string[], b: string[]): string {
  const quoted = (list: string[]) => `[${list.map((url) => JSON.stringify(url)).join(" ")}]`;
  if (a.length !== b.length) return `len(${quoted(a)}) != len(${quoted(b)})`;
  const i = a.findIndex((url, index) => url !== b[index]);
  return `resolved urls: ${JSON.stringify(a[i])} != ${JSON.stringify(b[i])}`;
}

function urlsMapString(map: Map<string, string[]>): string {
  const pairs: string[] = [];
  for (const [name, urls] of map) for (const url of urls) pairs.push(`${name}=${url}`);
  return pairs.sort().join(",");
}

/**
 * Builds the initial cluster of a restore from its flags and checks it as etcd's
 * `VerifyBootstrap` does (URL equality is textual: host names are not resolved).
 */
export function buildInitialCluster(options: {
  name: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerURLs: string;
}): InitialCluster {
  const advertised = parseURLs(options.initialAdvertisePeerURLs.split(","));
  const map = parseInitialCluster(options.initialCluster);
  const localURLs = map.get(options.name);
  if (localURLs === undefined) {
    throw new MembershipConfigError(`couldn't find local name ${JSON.stringify(options.name)} in the initial cluster configuration`);
  }
  const missingFromAdvertised = localURLs.filter((url) => !advertised.includes(url));
  if (missingFromAdvertised.length > 0) {
    throw new MembershipConfigError(
      `--initial-cluster has ${missingFromAdvertised.map((url) => `${options.name}=${url}`).join(",")} but missing from --initial-advertise-peer-urls=${advertised.join(",")} (${urlMismatch(advertised, localURLs)})`,
    );
  }
  const missingFromCluster = advertised.filter((url) => !localURLs.includes(url));
  if (missingFromCluster.length > 0) {
    throw new MembershipConfigError(
      `--initial-advertise-peer-urls has ${missingFromCluster.join(",")} but missing from --initial-cluster=${urlsMapString(new Map([[options.name, advertised]]))}`,
    );
  }
  const seen = new Set<string>();
  for (const urls of map.values()) {
    for (const url of urls) {
      if (seen.has(url)) throw new MembershipConfigError(`initial cluster ${urlsMapString(map)} has duplicate url`);
      seen.add(url);
    }
  }
  const members: Member[] = [];
  for (const [name, peerURLs] of map) {
    const id = memberIdFromPeerURLs(peerURLs, options.initialClusterToken);
    if (members.some((m) => m.id === id)) throw new MembershipConfigError(`member exists with identical ID ${formatId(id)}`);
    if (id === 0n) throw new MembershipConfigError("cannot use 0 as member id");
    members.push({ id, name, peerURLs });
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const local = members.find((m) => m.name === options.name)!;
  return { clusterId: clusterIdFromMemberIds(members.map((m) => m.id)), members, local };
}
