/**
 * cairnutl's command dispatch, separate from the entry point so tests run commands in-process.
 */
import { ExitCode, exitWithError, type CommandIO } from "./io.js";
import { snapshotRestoreCommand, type RestoreTarget } from "./snapshot-restore.js";
import { snapshotStatusCommand } from "./snapshot-status.js";

const topHelp = `NAME:
\tcairnutl - offline tool for Cairn (and etcd) snapshot files

USAGE:
\tcairnutl <command> [subcommand] [flags]

COMMANDS:
\tsnapshot status <filename>\tGets backend snapshot status of a given file
\tsnapshot restore <filename>\tRestores a snapshot file (Cairn's or etcd's) into a new data directory
\thelp [command]\t\t\tHelp about any command

Run 'cairnutl <command> --help' for details on a command.
`;

const snapshotHelp = `NAME:
\tsnapshot - Manages etcd node snapshots

USAGE:
\tcairnutl snapshot <subcommand> [flags]

COMMANDS:
\trestore\tRestores an etcd member snapshot to an etcd directory
\tstatus\tGets backend snapshot status of a given file
`;

/** What the commands need from the rest of Cairn. */
export interface CliDependencies {
  /** Writes a restored member data directory; absent until the storage backend provides one. */
  restoreTarget?: RestoreTarget;
}

/** Runs one cairnutl invocation and returns its exit code. */
export async function run(args: string[], io: CommandIO, deps: CliDependencies = {}): Promise<number> {
  const [command, subcommand, ...rest] = args;
  if (command === undefined || command === "help" && subcommand === undefined || command === "--help" || command === "-h") {
    io.stdout(topHelp);
    return ExitCode.success;
  }
  if (command === "help") return run([subcommand!, ...rest, "--help"], io, deps);
  if (command !== "snapshot") return exitWithError(io, ExitCode.badArgs, `unknown command "${command}" for "cairnutl"`);
  switch (subcommand) {
    case "status":
      return snapshotStatusCommand(rest, io);
    case "restore":
      return snapshotRestoreCommand(rest, io, deps.restoreTarget);
    case undefined:
    case "--help":
    case "-h":
      io.stdout(snapshotHelp);
      return ExitCode.success;
    default:
      return exitWithError(io, ExitCode.badArgs, `unknown command "${subcommand}" for "cairnutl snapshot"`);
  }
}
