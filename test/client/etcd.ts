/**
 * Test helper: spawns a real single-member etcd 3.4 on random loopback ports with a temporary data
 * directory, and guarantees the child is killed (also when a test fails or the process exits).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, killAndWait, memberFlags, spawnMember } from "../support/etcd.js";

export { freePort };

/** Whether an `etcd` binary is on PATH. */
export function haveEtcd(): boolean {
  return spawnSync("etcd", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * Returns the skip reason for node:test when etcd is absent, or false to run. In CI the test must
 * run, so a missing etcd throws instead of skipping.
 */
export function skipWithoutEtcd(): string | false {
  if (haveEtcd()) return false;
  if (process.env.CI === "true") throw new Error("etcd is required in CI but was not found on PATH");
  const reason = "etcd binary not found on PATH";
  process.stdout.write(`# skipping: ${reason}\n`);
  return reason;
}

export interface EtcdProcess {
  /** Client URL, e.g. http://127.0.0.1:23791. */
  readonly clientUrl: string;
  /** host:port of the client URL, as etcdctl's --endpoints takes it. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly name: string;
  /** Kills etcd and removes its data directory. */
  stop(): Promise<void>;
  /** Kills etcd (SIGKILL), leaves it down for downMs, and starts it again on the same data and ports. */
  restart(downMs?: number): Promise<void>;
}

export interface EtcdOptions {
  /** Extra command-line flags, e.g. ["--max-txn-ops=3"]. */
  readonly extraArgs?: readonly string[];
  /** Member name; "default" unless given. */
  readonly name?: string;
  /** Fixed ports (so two fresh servers get the same cluster and member ids); random when absent. */
  readonly clientPort?: number;
  readonly peerPort?: number;
  /** Serve clients over TLS with these PEM files, requiring client certificates. */
  readonly tls?: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
}

/** Whether etcd reports itself healthy on /health (it has a leader and serves requests). */
function isHealthy(clientUrl: string, tls: EtcdOptions["tls"]): Promise<boolean> {
  return new Promise((resolve) => {
    const url = new URL("/health", clientUrl);
    const options =
      tls === undefined
        ? { timeout: 1000 }
        : { timeout: 1000, ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve(/"health"\s*:\s*"true"/.test(body)));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(false));
    request.end();
  });
}

/** Starts etcd and waits until /health reports it healthy (it has elected itself leader). */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "cairn-etcd-"));
  const name = options.name ?? "default";
  const clientPort = options.clientPort ?? (await freePort());
  const peerPort = options.peerPort ?? (await freePort());
  const scheme = options.tls === undefined ? "http" : "https";
  const clientUrl = `${scheme}://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    ...memberFlags({ name, dataDir, clientURL: clientUrl, peerURL: peerUrl }),
    ...(options.tls === undefined
      ? []
      : [
          `--cert-file=${options.tls.certFile}`,
          `--key-file=${options.tls.keyFile}`,
          `--trusted-ca-file=${options.tls.caFile}`,
          "--client-cert-auth",
        ]),
    "--log-level=error",
    "--logger=zap",
    ...(options.extraArgs ?? []),
  ];
  const maxWaitMs = 20_000;
  let child: ReturnType<typeof spawnMember>;
  let stderr = "";
  /** Starts etcd on the data directory and waits until it is healthy. */
  const launch = async (): Promise<void> => {
    child = spawnMember(["etcd"], args);
    child.stdout?.resume();
    stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      if (stderr.length < 20_000) stderr += chunk.toString();
    });
    const started = performance.now();
    for (;;) {
      if (child.exitCode !== null) {
        await stop();
        throw new Error(`etcd exited early (code ${child.exitCode}): ${stderr}`);
      }
      if (await isHealthy(clientUrl, options.tls)) break;
      if (performance.now() - started > maxWaitMs) {
        await stop();
        throw new Error(`etcd did not become healthy within ${maxWaitMs} ms: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (): Promise<void> => {
    await killAndWait(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const restart = async (downMs = 0): Promise<void> => {
    await killAndWait(child);
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    await launch();
  };
  await launch();
  return { clientUrl, endpoint: `127.0.0.1:${clientPort}`, peerUrl, dataDir, name, stop, restart };
}
