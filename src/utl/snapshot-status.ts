/**
 * `cairnutl snapshot status <file>`: hash, revision, total keys and total size of a snapshot file,
 * printed exactly as `etcdctl snapshot status` prints them.
 */
import { BboltFormatError } from "../storage/bbolt/reader.js";
import { SnapshotFileError, snapshotStatus } from "../storage/bbolt/snapshot-file.js";
import { FlagError, formatFlagHelp, parseFlags, type FlagSpec } from "./flags.js";
import { ExitCode, exitWithError, type CommandIO } from "./io.js";
import { OUTPUT_FORMATS, formatStatus, isOutputFormat } from "./printers.js";

export const statusFlags: FlagSpec[] = [
  { name: "help", short: "h", kind: "bool", defaultValue: "false", usage: "help for status" },
  { name: "write-out", short: "w", kind: "string", defaultValue: "simple", usage: `set the output format (${OUTPUT_FORMATS.join(", ")})` },
];

export const statusHelp = `NAME:
\tsnapshot status - Gets backend snapshot status of a given file

USAGE:
\tcairnutl snapshot status <filename> [flags]

DESCRIPTION:
\tWhen --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
\tThe items in the lists are hash, revision, total keys, total size.

OPTIONS:
${formatFlagHelp(statusFlags)}`;

/** Human-readable text for an error reading a snapshot, without the "Error: " prefix. */
export function describeSnapshotError(error: unknown): string | undefined {
  if (error instanceof SnapshotFileError) return error.message;
  if (error instanceof BboltFormatError) return error.message;
  const errno = error as NodeJS.ErrnoException;
  if (typeof errno?.code === "string" && typeof errno.message === "string") return errno.message;
  return undefined;
}

export function snapshotStatusCommand(args: string[], io: CommandIO): number {
  let parsed;
  try {
    parsed = parseFlags(args, statusFlags);
  } catch (error) {
    if (error instanceof FlagError) return exitWithError(io, ExitCode.error, error.message);
    throw error;
  }
  if (parsed.values.get("help") === "true") {
    io.stdout(statusHelp);
    return ExitCode.success;
  }
  const format = parsed.values.get("write-out")!;
  if (format === "protobuf") return exitWithError(io, ExitCode.badFeature, "protobuf not supported as output format");
  if (!isOutputFormat(format)) return exitWithError(io, ExitCode.badFeature, "unsupported output format");
  if (parsed.positional.length !== 1) {
    return exitWithError(io, ExitCode.badArgs, "snapshot status requires exactly one argument");
  }
  try {
    io.stdout(formatStatus(snapshotStatus(parsed.positional[0]!), format));
    return ExitCode.success;
  } catch (error) {
    const message = describeSnapshotError(error);
    if (message === undefined) throw error;
    return exitWithError(io, ExitCode.error, message);
  }
}
