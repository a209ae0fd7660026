/**
 * Endpoint strings as etcdctl accepts them: `host:port`, `http://host:port`, `https://host:port`,
 * `unix://path` / `unixs://path`.
 */

export interface Endpoint {
  /** The string the user gave, used in messages (etcdctl prints it back unchanged). */
  readonly original: string;
  /** The grpc-js target: `host:port` or `unix:path`. */
  readonly target: string;
  /** True when the scheme asks for TLS (https, unixs). */
  readonly secureScheme: boolean;
}

/** Parses one endpoint string. */
export function parseEndpoint(original: string): Endpoint {
  const match = /^([a-z]+):\/\/(.*)$/.exec(original);
  if (match === null) return { original, target: withoutRootDot(original), secureScheme: false };
  const scheme = match[1]!;
  const rest = match[2]!;
  switch (scheme) {
    case "http":
      return { original, target: withoutRootDot(stripPath(rest)), secureScheme: false };
    case "https":
      return { original, target: withoutRootDot(stripPath(rest)), secureScheme: true };
    case "unix":
      return { original, target: `unix:${rest}`, secureScheme: false };
    case "unixs":
      return { original, target: `unix:${rest}`, secureScheme: true };
    default:
      return { original, target: original, secureScheme: false };
  }
}

function stripPath(hostAndPath: string): string {
  const slash = hostAndPath.indexOf("/");
  return slash === -1 ? hostAndPath : hostAndPath.slice(0, slash);
}

/**
 * `host.:port` as `host:port`. SRV discovery yields fully qualified targets with the root's dot
 * (`etcd1.example.com.:2379`, as etcdctl prints them); Go resolves those, the system resolver
 * grpc-js uses does not always (`localhost.`), and both names mean the same host.
 */
function withoutRootDot(hostPort: string): string {
  return hostPort.replace(/^([^:]*[^.:])\.(:\d+)$/, "$1$2");
}
