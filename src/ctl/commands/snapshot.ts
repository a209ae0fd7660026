/**
 * `snapshot save|status|restore` (etcdctl's snapshot_command.go). save streams the backend from one
 * endpoint into `<file>.part`, checks the trailing SHA-256, then renames. status reads the file
 * offline with the storage layer's bbolt reader (shared with cairnutl); restore writes an etcd
 * data directory offline through src/utl/etcd-restore.ts (shared with cairnutl).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { SnapshotRequestSchema, type SnapshotResponse } from "../../api/gen/etcdserverpb/rpc_pb.js";
import { maintenanceService } from "../../api/grpc.js";
import { mapCallError } from "../../client/client.js";
import type { CommandSpec } from "../cli/command.js";
import { CtlExit, ExitCode, goErrorText } from "../exit.js";
import { err, out } from "../output.js";
import { humanizeBytes } from "../printers/go.js";
import { connect, globalConfig, printerFor } from "../global.js";
import { BboltFormatError } from "../../storage/bbolt/reader.js";
import { SnapshotFileError, snapshotStatus } from "../../storage/bbolt/snapshot-file.js";
import { EtcdRestoreError, etcdRestoreDefaults, restoreEtcdDataDir } from "../../utl/etcd-restore.js";
import { EtcdBackendOpenError, GO_PANIC_EXIT_CODE, backendOpenPanicText } from "../../utl/etcd-defrag.js";

/**
 * A string as zap's JSON encoder writes it: `"` and `\\` escaped, \n \r \t by name, every other
 * control character as \u00XX (JSON.stringify would write \b and \f), nothing else escaped.
 */
function zapString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20) out += `\\u00${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += "\\ufffd"; // invalid UTF-8 to Go, which zap escapes
    else out += char;
  }
  return `${out}"`;
}

function zapValue(value: unknown): string {
  if (typeof value === "string") return zapString(value);
  if (Array.isArray(value)) return `[${value.map(zapValue).join(",")}]`;
  return JSON.stringify(value);
}

/** zap production logger line with an epoch timestamp, as etcdctl's snapshot logger writes. */
function zapInfo(caller: string, msg: string, fields: Record<string, unknown> = {}, isoTime = false): void {
  zapLog("info", caller, msg, fields, isoTime);
}

/** A zap line at any level; isoTime: clientv3's logger (ISO 8601 times) rather than the snapshot one. */
function zapLog(level: string, caller: string, msg: string, fields: Record<string, unknown>, isoTime: boolean): void {
  const ts = isoTime ? new Date().toISOString() : Date.now() / 1000;
  const entries = Object.entries({ level, ts, caller, msg, ...fields });
  err(`{${entries.map(([key, value]) => `${zapString(key)}:${zapValue(value)}`).join(",")}}\n`);
}

function goErrnoText(error: NodeJS.ErrnoException): string {
  const texts: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EISDIR: "is a directory",
    ENOTDIR: "not a directory",
  };
  return texts[error.code ?? ""] ?? error.message;
}

const saveCommand: CommandSpec = {
  use: "save <filename>",
  short: "Stores an etcd node backend snapshot to a given file",
  async run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "snapshot save expects one argument");
    const config = await globalConfig(invocation);
    if (config.endpoints.length !== 1) {
      throw new CtlExit(ExitCode.interrupted, `snapshot must be requested to one selected node, not multiple [${config.endpoints.join(" ")}]`);
    }
    const client = await connect(config);
    const path = invocation.args[0]!;
    const partPath = `${path}.part`;
    let fd: number;
    try {
      fd = openSync(partPath, "w", 0o600);
    } catch (error) {
      throw new CtlExit(ExitCode.interrupted, `could not open ${partPath} (open ${partPath}: ${goErrnoText(error as NodeJS.ErrnoException)})`);
    }
    zapInfo("snapshot/v3_snapshot.go:119", "created temporary db file", { path: partPath });
    const timeoutMs = invocation.flags.changed("command-timeout") ? config.commandTimeoutMs : undefined;
    const started = performance.now();
    const stream = client.serverStream(maintenanceService.snapshot, create(SnapshotRequestSchema), timeoutMs === undefined ? {} : { timeoutMs });
    zapInfo("clientv3/maintenance.go:200", "opened snapshot stream; downloading", {}, true);
    zapInfo("snapshot/v3_snapshot.go:127", "fetching snapshot", { endpoint: config.endpoints[0] });
    let size = 0;
    const hash = createHash("sha256");
    const chunks: Buffer[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on("data", (response: SnapshotResponse) => {
          const blob = Buffer.from(response.blob);
          writeSync(fd, blob);
          chunks.push(blob);
          size += blob.length;
        });
        stream.on("end", resolve);
        stream.on("error", reject);
      });
    } catch (error) {
      closeSync(fd);
      const text = goErrorText(mapCallError(error));
      zapLog("warn", "clientv3/maintenance.go:210", "failed to receive from snapshot stream; closing", { error: text }, true);
      // etcdctl removes the partial file when the download fails.
      rmSync(partPath, { force: true });
      throw new CtlExit(ExitCode.interrupted, text);
    }
    zapInfo("clientv3/maintenance.go:208", "completed snapshot read; closing", {}, true);
    fsyncSync(fd);
    closeSync(fd);
    // The stream ends with the SHA-256 of everything before it; a mismatch means a corrupt copy.
    const all = Buffer.concat(chunks);
    if (all.length >= 32) {
      hash.update(all.subarray(0, all.length - 32));
      if (!hash.digest().equals(all.subarray(all.length - 32))) {
        rmSync(partPath, { force: true });
        throw new CtlExit(ExitCode.interrupted, "snapshot hash mismatch");
      }
    }
    zapInfo("snapshot/v3_snapshot.go:142", "fetched snapshot", {
      endpoint: config.endpoints[0],
      size: humanizeBytes(size),
      took: (performance.now() - started) / 1000,
    });
    renameSync(partPath, path);
    zapInfo("snapshot/v3_snapshot.go:152", "saved", { path });
    client.close();
    out(`Snapshot saved at ${path}\n`);
  },
};

const statusCommand: CommandSpec = {
  use: "status <filename>",
  short: "Gets backend snapshot status of a given file",
  long: `When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
`,
  run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "snapshot status requires exactly one argument");
    // etcdctl reads only -w/--hex here: no ETCDCTL_* variables, no connection.
    const printer = printerFor(invocation.flags);
    let status;
    try {
      status = snapshotStatus(invocation.args[0]!);
    } catch (error) {
      if (error instanceof SnapshotFileError || error instanceof BboltFormatError) throw new CtlExit(ExitCode.error, error.message);
      throw error;
    }
    printer.dbStatus({ hash: status.hash, revision: status.revision, totalKey: status.totalKey, totalSize: BigInt(status.totalSize) });
  },
};

const restoreCommand: CommandSpec = {
  use: "restore <filename> [options]",
  short: "Restores an etcd member snapshot to an etcd directory",
  flags: [
    { name: "data-dir", kind: "string", defaultText: "", usage: "Path to the data directory" },
    { name: "wal-dir", kind: "string", defaultText: "", usage: "Path to the WAL directory (use --data-dir if none given)" },
    { name: "initial-cluster", kind: "string", defaultText: "default=http://localhost:2380", usage: "Initial cluster configuration for restore bootstrap" },
    { name: "initial-cluster-token", kind: "string", defaultText: "etcd-cluster", usage: "Initial cluster token for the etcd cluster during restore bootstrap" },
    { name: "initial-advertise-peer-urls", kind: "string", defaultText: "http://localhost:2380", usage: "List of this member's peer URLs to advertise to the rest of the cluster" },
    { name: "name", kind: "string", defaultText: "default", usage: "Human-readable name for this member" },
    { name: "skip-hash-check", kind: "bool", defaultText: "false", usage: "Ignore snapshot integrity hash value (required if copied from data directory)" },
  ],
  run(invocation) {
    if (invocation.args.length !== 1) throw new CtlExit(ExitCode.badArgs, "snapshot restore requires exactly one argument");
    const flags = invocation.flags;
    const name = flags.string("name");
    const dirs = etcdRestoreDefaults({ name, dataDir: flags.string("data-dir"), walDir: flags.string("wal-dir") });
    try {
      restoreEtcdDataDir(
        {
          snapshotPath: invocation.args[0]!,
          name,
          ...dirs,
          initialCluster: flags.string("initial-cluster"),
          initialClusterToken: flags.string("initial-cluster-token"),
          initialAdvertisePeerURLs: flags.string("initial-advertise-peer-urls"),
          skipHashCheck: flags.bool("skip-hash-check"),
        },
        (caller, msg, fields) => zapInfo(caller, msg, fields),
      );
    } catch (error) {
      if (error instanceof EtcdRestoreError) throw new CtlExit(ExitCode.error, error.message);
      if (error instanceof EtcdBackendOpenError) {
        err(backendOpenPanicText(error, new Date()));
        throw new CtlExit(GO_PANIC_EXIT_CODE, "", true);
      }
      throw error;
    }
  },
};

export const snapshotCommand: CommandSpec = {
  use: "snapshot <subcommand>",
  short: "Manages etcd node snapshots",
  subcommands: [saveCommand, restoreCommand, statusCommand],
};
