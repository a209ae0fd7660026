/**
 * Runs a command line against a command tree the way cobra does for etcdctl: find the command,
 * parse its flags, print usage or errors, and map failures to exit codes.
 */
import { Command } from "./command.js";
import { FlagError } from "./flags.js";
import { CtlExit, ExitCode } from "../exit.js";
import { err, out } from "../output.js";

/** Positional words of args, skipping flags and the values of flags that take one (cobra's stripFlags). */
function stripFlags(args: readonly string[], boolNames: Set<string>, boolShorts: Set<string>): string[] {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const s = args[i]!;
    if (s === "--") break;
    if (s.startsWith("--") && !s.includes("=") && !boolNames.has(s.slice(2))) {
      if (args.length - i - 1 <= 1) break;
      i += 1;
      continue;
    }
    if (s.startsWith("-") && !s.includes("=") && s.length === 2 && !boolShorts.has(s.slice(1))) {
      if (args.length - i - 1 <= 1) break;
      i += 1;
      continue;
    }
    if (s !== "" && !s.startsWith("-")) words.push(s);
  }
  return words;
}

/** cobra's Find: the deepest command the words of args name, and the args left for it. */
export function findCommand(root: Command, args: readonly string[]): { command: Command; args: string[] } {
  let command = root;
  let rest = [...args];
  for (;;) {
    const defs = [...command.localFlagDefs(), ...command.inheritedFlagDefs()];
    const boolNames = new Set(defs.filter((d) => d.kind === "bool").map((d) => d.name));
    const boolShorts = new Set(defs.filter((d) => d.kind === "bool" && d.shorthand !== undefined).map((d) => d.shorthand!));
    const words = stripFlags(rest, boolNames, boolShorts);
    if (words.length === 0) return { command, args: rest };
    const next = command.findChild(words[0]!);
    if (next === undefined) return { command, args: rest };
    const index = rest.indexOf(words[0]!);
    rest = [...rest.slice(0, index), ...rest.slice(index + 1)];
    command = next;
  }
}

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

/** Runs argv (without the program name); returns the exit code. */
export async function runCli(root: Command, argv: readonly string[], version: string, apiVersion: string): Promise<number> {
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
    positional = flags.parse(args);
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
