/**
 * Shell completion as cobra 1.6 answers it for etcdctl: the hidden `__complete` command (alias
 * `__completeNoDesc`) that the scripts of `completion <shell>` call with the words typed so far.
 * It prints one candidate per line (`name\tdescription`), then `:<directive>`, and on stderr the
 * directive's names. Candidates come from the command tree: sub-command names with their short
 * text, flag names with their usage, and each command's own `completeArgs`.
 */
import { appendFileSync } from "node:fs";
import { Command, type CommandSpec, type Completions } from "./command.js";
import { FlagError, FlagSet, type FlagDef } from "./flags.js";
import { findCommand, positionalWords } from "./find.js";
import { out, err } from "../output.js";

/** cobra's ShellCompDirective bits. */
export const Directive = {
  default: 0,
  error: 1,
  noSpace: 2,
  noFileComp: 4,
  filterFileExt: 8,
  filterDirs: 16,
} as const;

const directiveNames: readonly [number, string][] = [
  [Directive.error, "ShellCompDirectiveError"],
  [Directive.noSpace, "ShellCompDirectiveNoSpace"],
  [Directive.noFileComp, "ShellCompDirectiveNoFileComp"],
  [Directive.filterFileExt, "ShellCompDirectiveFilterFileExt"],
  [Directive.filterDirs, "ShellCompDirectiveFilterDirs"],
];

/** The names cobra prints on stderr for a directive. */
export function directiveText(directive: number): string {
  if (directive >= 32) return `ERROR: unexpected ShellCompDirective value: ${directive}`;
  const names = directiveNames.filter(([bit]) => (directive & bit) !== 0).map(([, name]) => name);
  return names.length === 0 ? "ShellCompDirectiveDefault" : names.join(", ");
}

/** cobra's NoFileCompletions: no candidates, and no file names either. */
export function noFileCompletions(): Completions {
  return { candidates: [], directive: Directive.noFileComp };
}

/** Go's %v of a []string. */
function goList(words: readonly string[]): string {
  return `[${words.join(" ")}]`;
}

/** Flags the command inherits from its ancestors and does not redefine, sorted (pflag's InheritedFlags). */
function inheritedFlags(command: Command): FlagDef[] {
  const local = new Set(command.localFlagDefs().map((d) => d.name));
  return new FlagSet(command.inheritedFlagDefs()).defs().filter((d) => !local.has(d.name));
}

/** The command's own flags, persistent ones included, sorted (pflag's LocalFlags). */
function nonInheritedFlags(command: Command): FlagDef[] {
  return new FlagSet(command.localFlagDefs()).defs();
}

/** cobra's isFlagArg: `--x…` or `-x…`. */
function isFlagArg(arg: string): boolean {
  return (arg.length >= 3 && arg[1] === "-") || (arg.length >= 2 && arg[0] === "-" && arg[1] !== "-");
}

/** A flag by long name, or by shorthand when name is one letter (cobra's findFlag). */
function findFlag(command: Command, name: string): FlagDef | undefined {
  const defs = [...command.localFlagDefs(), ...inheritedFlags(command)];
  if (name.length === 1) {
    const short = defs.find((d) => d.shorthand === name);
    if (short === undefined) return undefined;
    name = short.name;
  }
  return defs.find((d) => d.name === name);
}

interface FlagCompletionCheck {
  /** The flag whose value is being completed, if any. */
  readonly flag: FlagDef | undefined;
  readonly args: readonly string[];
  readonly toComplete: string;
  readonly error: string | undefined;
}

/** cobra's checkIfFlagCompletion: is the word being completed the value of a flag? */
function checkIfFlagCompletion(command: Command, args: readonly string[], lastArg: string): FlagCompletionCheck {
  if (command.spec.disableFlagParsing === true) return { flag: undefined, args, toComplete: lastArg, error: undefined };
  let flagName = "";
  let trimmed = args;
  let withEqual = false;
  const original = lastArg;
  if (lastArg.startsWith("-")) {
    const eq = lastArg.indexOf("=");
    if (eq === -1) return { flag: undefined, args, toComplete: lastArg, error: undefined };
    // A shorthand group such as -asd=x completes the value of its last letter.
    flagName = lastArg.slice(0, eq).startsWith("--") ? lastArg.slice(2, eq) : lastArg.slice(eq - 1, eq);
    lastArg = lastArg.slice(eq + 1);
    withEqual = true;
  }
  if (flagName === "" && args.length > 0) {
    const previous = args[args.length - 1]!;
    if (isFlagArg(previous) && !previous.includes("=")) {
      flagName = previous.startsWith("--") ? previous.slice(2) : previous.slice(-1);
      trimmed = args.slice(0, -1);
    }
  }
  if (flagName === "") return { flag: undefined, args: trimmed, toComplete: lastArg, error: undefined };
  const flag = findFlag(command, flagName);
  if (flag === undefined) {
    return { flag: undefined, args, toComplete: original, error: `Subcommand '${command.name}' does not support flag '${flagName}'` };
  }
  // A bool flag takes no separate value word, so the word is not its value after all.
  if (!withEqual && flag.kind === "bool") return { flag: undefined, args, toComplete: lastArg, error: undefined };
  return { flag, args: trimmed, toComplete: lastArg, error: undefined };
}

/** `--name` and `-x` candidates of a flag that start with toComplete (cobra's getFlagNameCompletions). */
function flagNameCompletions(flag: FlagDef, toComplete: string): string[] {
  const candidates: string[] = [];
  if (`--${flag.name}`.startsWith(toComplete)) candidates.push(`--${flag.name}\t${flag.usage}`);
  if (flag.shorthand !== undefined && `-${flag.shorthand}`.startsWith(toComplete)) candidates.push(`-${flag.shorthand}\t${flag.usage}`);
  return candidates;
}

/** A command that completion lists: visible, and runnable or a group of such (cobra's IsAvailableCommand). */
function isAvailable(command: Command): boolean {
  if (command.spec.hidden === true) return false;
  return command.runnable || command.children.some(isAvailable);
}

/** `name\tshort` for each listed sub-command of parent whose name starts with toComplete. */
export function subcommandCompletions(parent: Command, toComplete: string): { candidates: string[]; any: boolean } {
  const candidates: string[] = [];
  let any = false;
  for (const child of parent.children) {
    // cobra lists its help command too, though help is not "available".
    if (!isAvailable(child) && !(parent.parent === undefined && child.name === "help")) continue;
    any = true;
    if (child.name.startsWith(toComplete)) candidates.push(`${child.name}\t${child.spec.short}`);
  }
  return { candidates, any };
}

interface CompletionResult extends Completions {
  readonly error: string | undefined;
}

/** cobra's getCompletions: candidates for the last word of args, the words before it already typed. */
export function getCompletions(root: Command, args: readonly string[]): CompletionResult {
  const fail = (error: string, directive: number = Directive.default): CompletionResult => ({ candidates: [], directive, error });
  const typed = args.slice(0, -1);
  const found = findCommand(root, typed);
  const command = found.command;
  // cobra's legacyArgs: the root refuses words that name no command.
  if (command === root && positionalWords(root, found.args).length > 0) return fail(`Unable to find a command for arguments: ${goList(typed)}`);

  const check = checkIfFlagCompletion(command, found.args, args[args.length - 1]!);
  const toComplete = check.toComplete;
  const parse = (words: readonly string[]) => {
    const flags = command.flagSet();
    return { flags, positional: command.spec.disableFlagParsing === true ? [] : flags.parse(words) };
  };
  // A `--` already typed makes the appended one count as an argument: flags are over.
  let withDash = -1;
  try {
    withDash = parse([...check.args, "--"]).positional.length;
  } catch (error) {
    // The parse below reports it.
    if (!(error instanceof FlagError)) throw error;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(check.args);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    return fail(`Error while parsing flags from args ${goList(check.args)}: ${(error as Error).message}`);
  }
  const flagCompletion = !(withDash > parsed.positional.length);
  if (check.error !== undefined && flagCompletion) return fail(check.error);
  if (parsed.flags.changed("help")) return { candidates: [], directive: Directive.noFileComp, error: undefined };
  const positional = command.spec.disableFlagParsing === true ? check.args : parsed.positional;

  let candidates: string[] = [];
  let directive: number = Directive.default;
  if (check.flag === undefined && toComplete.startsWith("-") && !toComplete.includes("=") && flagCompletion) {
    for (const flag of [...inheritedFlags(command), ...nonInheritedFlags(command)]) {
      // A flag already given is offered again only when it accumulates values.
      if (!parsed.flags.changed(flag.name) || flag.kind.includes("Slice")) candidates.push(...flagNameCompletions(flag, toComplete));
    }
    directive = candidates.length === 1 && candidates[0]!.endsWith("=") ? Directive.noSpace : Directive.noFileComp;
    if (command.spec.disableFlagParsing !== true) return { candidates, directive, error: undefined };
  } else if (check.flag === undefined) {
    const localFlagGiven = command.localNonPersistentFlagDefs().some((d) => parsed.flags.changed(d.name));
    if (positional.length === 0 && !localFlagGiven) {
      const subcommands = subcommandCompletions(command, toComplete);
      candidates = subcommands.candidates;
      if (subcommands.any) directive = Directive.noFileComp;
    }
  }
  // No flag of etcdctl registers a value completion, so a flag value gets the shell's default.
  if (!(check.flag !== undefined && flagCompletion) && command.spec.completeArgs !== undefined) {
    const more = command.spec.completeArgs(command, positional, toComplete);
    candidates = [...candidates, ...more.candidates];
    directive = more.directive;
  }
  return { candidates, directive, error: undefined };
}

/** cobra's CompDebug for errors: stderr, and BASH_COMP_DEBUG_FILE when the user set one. */
function completionError(message: string): void {
  const text = `[Debug] [Error] ${message}\n`;
  const debugFile = process.env.BASH_COMP_DEBUG_FILE;
  if (debugFile !== undefined && debugFile !== "") {
    try {
      appendFileSync(debugFile, text);
    } catch {
      // cobra ignores a debug file it cannot open.
    }
  }
  err(text);
}

/** The hidden command the scripts call, and its alias for candidates without descriptions. */
export const requestName = "__complete";
export const requestNoDescName = "__completeNoDesc";

/**
 * The hidden command the completion scripts call; calledAs says which of its names the command line
 * used (cobra's CalledAs), since `__completeNoDesc` leaves out the descriptions.
 */
function completeCommandSpec(calledAs: () => string): CommandSpec {
  return {
    use: `${requestName} [command-line]`,
    short: "Request shell completion choices for the specified command-line",
    long: `${requestName} is a special command that is used by the shell completion logic
to request completion choices for the specified command-line.`,
    aliases: [requestNoDescName],
    hidden: true,
    disableFlagsInUseLine: true,
    disableFlagParsing: true,
    validateArgs: (_command, args) => (args.length < 1 ? `requires at least 1 arg(s), only received ${args.length}` : undefined),
    run(invocation) {
      const result = getCompletions(invocation.command.root, invocation.args);
      if (result.error !== undefined) completionError(result.error);
      const noDescriptions = calledAs() === requestNoDescName;
      let text = "";
      for (let candidate of result.candidates) {
        if (noDescriptions) candidate = candidate.split("\t")[0]!;
        // Only a candidate's first line, trimmed: the scripts read one candidate per line.
        text += `${candidate.split("\n")[0]!.trim()}\n`;
      }
      out(`${text}:${result.directive}\n`);
      err(`Completion ended with directive: ${directiveText(result.directive)}\n`);
    },
  };
}

/**
 * Adds the hidden `__complete` command to the tree when argv calls it, as cobra does, so that
 * otherwise it is unknown (no prefix match, no help topic).
 */
export function attachCompleteCommand(root: Command, argv: readonly string[]): void {
  let called = requestName;
  const command = new Command(completeCommandSpec(() => called), root);
  root.children.push(command);
  if (findCommand(root, argv).command === command) {
    // cobra's CalledAs: the name or alias typed, or the one a prefix matched (the name first).
    const word = positionalWords(root, argv)[0]!;
    called = word !== requestNoDescName && requestName.startsWith(word) ? requestName : requestNoDescName;
    return;
  }
  root.children.splice(root.children.indexOf(command), 1);
}
