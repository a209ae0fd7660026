/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`) for docs/performance.md: where the sampled
 * time went by layer (self time, attributed by the frame's source file), the top functions by self
 * time, and the top functions by inclusive time (time with the function anywhere on the stack).
 * `node dist/bench/profile-summary.js <file.cpuprofile> [topN]`
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Layers, matched in order against a frame's URL (or name for V8's pseudo-frames). */
const LAYERS: readonly [string, RegExp][] = [
  ["idle (event loop waiting)", /^\(idle\)$/],
  ["garbage collector", /^\(garbage collector\)$/],
  ["grpc-js / http2 (gRPC framing)", /@grpc\/grpc-js|node:http2|node:internal\/http2/],
  ["protobuf-es (encode/decode)", /@bufbuild\/protobuf/],
  ["lmdb (storage engine)", /\/lmdb\/|msgpackr/],
  ["cairn storage/wal (WAL, fdatasync)", /dist\/src\/storage\/wal\//],
  ["cairn storage/mvcc + backend", /dist\/src\/storage\/(mvcc|backend|schema)/],
  ["cairn raft", /dist\/src\/raft\//],
  ["cairn server (apply, request, grpc adapters)", /dist\/src\/(server|grpc|http)/],
  ["cairn api (service definitions, errors)", /dist\/src\/api\//],
  ["node internals (net, streams, timers)", /^node:/],
  ["(program) / native", /^\(program\)$|^$/],
];

/** Native frames (no URL) that are synchronous system calls made on the event loop thread. */
const FDATASYNC = /^f(data)?sync$/;
const SYNC_FILE_IO = /^(writeBuffer|writeBuffers|writeString|read|open|close|stat|lstat|fstat|readFileUtf8|ftruncate)$/;

function layerOf(frame: ProfileNode["callFrame"], callerLayer: () => string): string {
  if (frame.url === "") {
    if (FDATASYNC.test(frame.functionName)) return "fdatasync (blocking the event loop)";
    if (SYNC_FILE_IO.test(frame.functionName)) return "other synchronous file I/O";
    if (!/^\(/.test(frame.functionName)) return callerLayer();
  }
  const subject = frame.url === "" ? frame.functionName : frame.url;
  for (const [name, pattern] of LAYERS) if (pattern.test(subject)) return name;
  return "other JS";
}

function frameKey(frame: ProfileNode["callFrame"]): string {
  const file = frame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, "$1/");
  return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
}

function main(): void {
  const path = process.argv[2];
  if (path === undefined) throw new Error("usage: profile-summary <file.cpuprofile> [topN]");
  const topN = Number(process.argv[3] ?? 25);
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByLayer = new Map<string, number>();
  const selfByFrame = new Map<string, number>();
  const inclusiveByFrame = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const node = byId.get(id);
    if (node === undefined) return;
    const callerLayer = (): string => {
      for (let cursor = parent.get(id); cursor !== undefined; cursor = parent.get(cursor)) {
        const frame = byId.get(cursor)?.callFrame;
        if (frame !== undefined && frame.url !== "") return layerOf(frame, () => "other JS");
      }
      return "(program) / native";
    };
    const layer = layerOf(node.callFrame, callerLayer);
    selfByLayer.set(layer, (selfByLayer.get(layer) ?? 0) + delta);
    const key = frameKey(node.callFrame);
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + delta);
    const seen = new Set<string>();
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parent.get(cursor)) {
      const frame = byId.get(cursor)?.callFrame;
      if (frame === undefined || frame.functionName === "(root)") continue;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveByFrame.set(k, (inclusiveByFrame.get(k) ?? 0) + delta);
    }
  });
  const pct = (us: number): string => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
  const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  print(`profile: ${path}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${profile.samples.length} samples`);
  const busyUs = totalUs - (selfByLayer.get("idle (event loop waiting)") ?? 0);
  print(`\nself time by layer (share of all samples; share of busy samples):`);
  for (const [layer, us] of [...selfByLayer].sort((a, b) => b[1] - a[1])) {
    const busy = layer.startsWith("idle") ? "" : `  ${((100 * us) / busyUs).toFixed(1).padStart(5)}% of busy`;
    print(`  ${pct(us)} ${ms(us)}  ${layer}${busy}`);
  }
  print(`\ntop ${topN} functions by self time:`);
  for (const [key, us] of [...selfByFrame].sort((a, b) => b[1] - a[1]).slice(0, topN)) print(`  ${pct(us)} ${ms(us)}  ${key}`);
  print(`\ntop ${topN} functions by inclusive time (cairn code only):`);
  for (const [key, us] of [...inclusiveByFrame].filter(([k]) => k.includes("dist/src/")).sort((a, b) => b[1] - a[1]).slice(0, topN)) {
    print(`  ${pct(us)} ${ms(us)}  ${key}`);
  }
}

main();
