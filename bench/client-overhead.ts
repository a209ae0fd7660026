/**
 * Measures the load generator's client cost: CPU per serializable Range through src/client's
 * EtcdClient against the raw grpc-js calls bench/grpc.ts makes, on one thread against a real etcd.
 * `node dist/bench/client-overhead.js [requests] [concurrency]`; docs/performance.md quotes it.
 */
import { create } from "@bufbuild/protobuf";
import { RangeRequestSchema } from "../src/api/gen/etcdserverpb/rpc_pb.js";
import { kvService } from "../src/api/grpc.js";
import { EtcdClient } from "../src/client/client.js";
import { Member } from "./member.js";
import { openConnection, unary, waitConnected } from "./grpc.js";
import { tmpdir } from "node:os";

async function measure(label: string, requests: number, concurrency: number, send: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2000; i += 1) await send(); // warm-up
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        next += 1;
        await send();
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const cpuUs = (used.user + used.system) / requests;
  process.stdout.write(`${label.padEnd(10)} ${requests} ranges, ${concurrency} in flight: ${Math.round((requests * 1000) / elapsedMs)}/s, client CPU ${cpuUs.toFixed(1)} us/request\n`);
}

async function main(): Promise<void> {
  const requests = Number(process.argv[2] ?? 20_000);
  const concurrency = Number(process.argv[3] ?? 50);
  const member = await Member.start({ label: "etcd", command: "etcd", prefixArgs: [] }, { quotaBackendBytes: 2 ** 31, snapshotCount: 100_000, extra: [] }, tmpdir());
  try {
    const request = create(RangeRequestSchema, { key: Buffer.from("a"), serializable: true });
    const raw = openConnection(member.endpoint);
    await waitConnected(raw, 5000);
    const client = await EtcdClient.connect({ endpoints: [member.endpoint], dialTimeoutMs: 5000 });
    for (let round = 0; round < 2; round += 1) {
      await measure("raw", requests, concurrency, () => unary(raw, kvService.range, request));
      await measure("EtcdClient", requests, concurrency, () => client.unary(kvService.range, request));
    }
    raw.close();
    client.close();
  } finally {
    await member.destroy();
  }
}

void main();
