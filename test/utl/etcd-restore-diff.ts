/**
 * Helpers for the etcd-format restore and defrag tests: running etcdctl or cairnctl offline,
 * listing a data directory, and dumping a bbolt file's content for comparison.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { BboltReader } from "../../src/storage/bbolt/reader.js";
import { FileSource } from "../../src/storage/bbolt/source.js";

export const CAIRNCTL = resolve("bin/cairnctl");

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs etcdctl or cairnctl (v3 API, no endpoints from the environment) in `cwd`. */
export function runTool(tool: "etcdctl" | "cairnctl", args: string[], cwd: string): ToolResult {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ETCDCTL_")) env[key] = value;
  const result = spawnSync(tool === "etcdctl" ? "etcdctl" : CAIRNCTL, args, { cwd, encoding: "utf8", env: { ...env, ETCDCTL_API: "3" } });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** etcdctl's zap lines carry wall-clock stamps. */
export function normalizeLog(text: string): string {
  return text.replace(/"ts":[0-9.]+/g, '"ts":<ts>');
}

/** Every file and directory under `dir`: relative path, kind, permission bits and size (files). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const stats = statSync(path);
      const mode = (stats.mode & 0o777).toString(8);
      if (stats.isDirectory()) {
        out.push(`${relative(dir, path)}/ ${mode}`);
        walk(path);
      } else out.push(`${relative(dir, path)} ${mode} ${name === "db" ? "<db>" : stats.size}`);
    }
  };
  walk(dir);
  return out;
}

/** Every bucket (with its sequence) and key/value of a bbolt file, as hex lines. */
export function dumpBbolt(path: string): string[] {
  const source = new FileSource(path);
  try {
    const reader = BboltReader.open(source);
    reader.check();
    const lines: string[] = [];
    for (const bucket of reader.entries(reader.rootBucket())) {
      const name = Buffer.from(bucket.key).toString("latin1");
      lines.push(`bucket ${name}`);
      const ref = reader.bucket(bucket.key)!;
      for (const entry of reader.entries(ref)) lines.push(`${name} ${Buffer.from(entry.key).toString("hex")} ${Buffer.from(entry.value).toString("hex")}`);
    }
    return lines;
  } finally {
    source.close();
  }
}

/** Whether two files have the same bytes. */
export function sameBytes(a: string, b: string): boolean {
  return readFileSync(a).equals(readFileSync(b));
}
