/**
 * Helpers shared by the snapshot, NOSPACE and crash end-to-end tests: etcdctl calls that must
 * succeed, the comparable parts of `get --prefix` and `endpoint hashkv`, a seeded workload, and
 * running the offline tools (`etcdctl snapshot ...`, `cairnutl ...`).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { etcdctl, type CtlResult } from "./harness.js";

const REPO_ROOT = resolve(import.meta.dirname, "../../..");
export const CAIRNUTL = resolve(REPO_ROOT, "bin/cairnutl");

/** Runs etcdctl and fails the test, with its output, unless it exits 0. */
export async function ctlOk(endpoint: string, args: readonly string[]): Promise<string> {
  const result = await etcdctl(endpoint, args);
  assert.equal(result.code, 0, `etcdctl ${args.join(" ")} failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Runs a program to completion (no endpoint), with ETCDCTL_API=3. */
export function run(command: string, args: readonly string[], timeoutMs = 60_000): Promise<CtlResult> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { env: { ...process.env, ETCDCTL_API: "3" }, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

export async function runOk(command: string, args: readonly string[]): Promise<string> {
  const result = await run(command, args);
  assert.equal(result.code, 0, `${command} ${args.join(" ")} failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

interface JsonKv {
  key: string;
  value?: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease?: number;
}

/** What two members must agree on after a restore: every key-value (with revisions) and the store revision. */
export async function keySpace(endpoint: string, revision?: number): Promise<{ revision: number; kvs: JsonKv[] }> {
  const args = ["get", "", "--prefix", "-w", "json", ...(revision !== undefined ? [`--rev=${revision}`] : [])];
  const parsed = JSON.parse(await ctlOk(endpoint, args)) as { header: { revision: number }; kvs?: JsonKv[] };
  return { revision: parsed.header.revision, kvs: parsed.kvs ?? [] };
}

/** HashKV at `revision` (0: current) with its compact revision, from `endpoint hashkv`. */
export async function hashKV(endpoint: string, revision = 0): Promise<{ hash: number; compactRevision: number; revision: number }> {
  const parsed = JSON.parse(await ctlOk(endpoint, ["endpoint", "hashkv", "-w", "json", `--rev=${revision}`])) as Array<{
    HashKV: { header: { revision: number }; hash: number; compact_revision: number };
  }>;
  const entry = parsed[0]!.HashKV;
  return { hash: entry.hash, compactRevision: entry.compact_revision, revision: entry.header.revision };
}

/** `endpoint status` as JSON: db size, revision, errors (alarms). */
export async function endpointStatus(endpoint: string): Promise<{ dbSize: number; revision: number; errors: string[] }> {
  const parsed = JSON.parse(await ctlOk(endpoint, ["endpoint", "status", "-w", "json"])) as Array<{
    Status: { header: { revision: number }; dbSize: number; errors?: string[] };
  }>;
  const status = parsed[0]!.Status;
  return { dbSize: status.dbSize, revision: status.header.revision, errors: status.errors ?? [] };
}

/**
 * A seeded history through etcdctl: puts over a small key set (several versions and generations),
 * deletes, a range delete, a txn, and a compaction in the middle, so the snapshot carries history,
 * tombstones and a compact revision.
 */
export async function seededWorkload(endpoint: string, seed: number, operations: number): Promise<void> {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (let i = 0; i < operations; i++) {
    const key = `/wl/${Math.floor(random() * 12)}`;
    const r = random();
    if (r < 0.15) await ctlOk(endpoint, ["del", key]);
    else if (r < 0.2) await ctlOk(endpoint, ["del", "/wl/1", "/wl/3"]);
    else await ctlOk(endpoint, ["put", key, `value-${i}-${"x".repeat(Math.floor(random() * 50))}`]);
    if (i === Math.floor(operations / 2)) {
      const { revision } = await endpointStatus(endpoint);
      await ctlOk(endpoint, ["compact", String(revision - 3)]);
    }
  }
  await new Promise<void>((resolveTxn, reject) => {
    etcdctl(endpoint, ["txn"], 'value("/wl/0") != "none"\n\nput /wl/txn committed\nput /wl/txn2 also\n\n\n').then((result) => {
      if (result.code === 0) resolveTxn();
      else reject(new Error(`txn failed: ${result.stderr}`));
    }, reject);
  });
}
