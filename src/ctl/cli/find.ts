/** cobra's command lookup: which command a command line names, and what is left for it. */
import type { Command } from "./command.js";

/** Positional words of args, skipping flags and the values of flags that take one (cobra's stripFlags). */
export function stripFlags(args: readonly string[], boolNames: Set<string>, boolShorts: Set<string>): string[] {
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
    const words = positionalWords(command, rest);
    if (words.length === 0) return { command, args: rest };
    const next = command.findChild(words[0]!);
    if (next === undefined) return { command, args: rest };
    const index = rest.indexOf(words[0]!);
    rest = [...rest.slice(0, index), ...rest.slice(index + 1)];
    command = next;
  }
}

/** Positional words of args as cobra's Find sees them for command (flags and their values skipped). */
export function positionalWords(command: Command, args: readonly string[]): string[] {
  const defs = [...command.localFlagDefs(), ...command.inheritedFlagDefs()];
  const boolNames = new Set(defs.filter((d) => d.kind === "bool").map((d) => d.name));
  const boolShorts = new Set(defs.filter((d) => d.kind === "bool" && d.shorthand !== undefined).map((d) => d.shorthand!));
  return stripFlags(args, boolNames, boolShorts);
}
