/**
 * Runs a command line against a command tree the way cobra does for etcdctl: find the command,
 * parse its flags, print usage or errors, and map failures to exit codes.
 */
import { Command } from "./command.js";
import { FlagError } from "./flags.js";
import { findCommand, stripFlags } from "./find.js";
import { attachCompleteCommand } from "./complete.js";
import { CtlExit, ExitCode } from "../exit.js";
import { err, out } from "../output.js";

/** Edit distance over UTF-8 bytes, as cobra's ld indexes Go strings. */
function levenshtein(textA: string, textB: string): number {
  const a = Buffer.from(textA, "utf8").toString("latin1");
  const b = Buffer.from(textB, "utf8").toString("latin1");
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function unknownCommandMessage(root: Command, typed: string, rootName: string): string {
  // cobra's SuggestionsFor: available commands (not help) in AddCommand order, compared ignoring case.
  const suggestions = root.childrenInOrder
    .filter((c) => (c.runnable || c.children.length > 0) && c.name !== "help")
    .filter((c) => levenshtein(typed.toLowerCase(), c.name.toLowerCase()) <= 2 || c.name.toLowerCase().startsWith(typed.toLowerCase()))
    .map((c) => c.name);
  let message = `unknown command ${JSON.stringify(typed)} for ${JSON.stringify(rootName)}`;
  if (suggestions.length > 0) message += `\n\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join("")}`;
  return message;
}

/** Re-exported for commands that look others up (help). */
export { findCommand };

/** Runs argv (without the program name); returns the exit code. */
export async function runCli(root: Command, argv: readonly string[], version: string, apiVersion: string): Promise<number> {
  // cobra adds its hidden completion request command only when the command line calls it.
  attachCompleteCommand(root, argv);
  const { command, args } = findCommand(root, argv);
  if (command === root) {
    const words = stripFlags(args, new Set(root.localFlagDefs().filter((d) => d.kind === "bool").map((d) => d.name)), new Set(["h"]));
    if (words.length > 0) {
      const message = unknownCommandMessage(root, words[0]!, root.name);
      err(`Error: ${message}\nRun '${root.name} --help' for usage.\nError: ${message}\n`);
      return ExitCode.error;
    }
  }
  const flags = command.flagSet();
  let positional: string[];
  try {
    positional = command.spec.disableFlagParsing === true ? [...args] : flags.parse(args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    err(`Error: ${error.message}\n`);
    out(command.usage(version, apiVersion));
    err(`\nError: ${error.message}\n`);
    return ExitCode.error;
  }
  if (flags.bool("help") || !command.runnable) {
    out(command.usage(version, apiVersion));
    return ExitCode.success;
  }
  const argsError = command.spec.validateArgs?.(command, positional);
  if (argsError !== undefined) {
    err(`Error: ${argsError}\n`);
    out(command.usage(version, apiVersion));
    err(`\nError: ${argsError}\n`);
    return ExitCode.error;
  }
  try {
    await command.spec.run!({ command, args: positional, flags });
    return ExitCode.success;
  } catch (error) {
    if (error instanceof CtlExit) {
      if (!error.silent) err(`Error: ${error.message}\n`);
      return error.code;
    }
    throw error;
  }
}
