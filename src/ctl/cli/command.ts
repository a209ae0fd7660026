/**
 * A small command tree with spf13/cobra's behaviour as etcdctl configures it: prefix matching of
 * command names, flags anywhere on the line, persistent flags inherited from the root, and
 * etcdctl's own usage template written to stdout.
 */
import { FlagSet, type FlagDef } from "./flags.js";
import { tabwrite } from "./tabwriter.js";

/** What a command's run function receives. */
export interface Invocation {
  readonly command: Command;
  readonly args: string[];
  /** Local and inherited flags, already parsed. */
  readonly flags: FlagSet;
}

export interface CommandSpec {
  /** First word is the name; the rest documents the arguments (cobra's `Use`). */
  readonly use: string;
  readonly short: string;
  readonly long?: string;
  readonly aliases?: readonly string[];
  readonly flags?: readonly FlagDef[];
  /** Flags this command and its descendants share (cobra's PersistentFlags). */
  readonly persistentFlags?: readonly FlagDef[];
  readonly run?: (invocation: Invocation) => Promise<void> | void;
  readonly subcommands?: readonly CommandSpec[];
  /** Left out of completion candidates (cobra's Hidden). */
  readonly hidden?: boolean;
  /** The usage line is `use` as written, without ` [flags]` (cobra's DisableFlagsInUseLine). */
  readonly disableFlagsInUseLine?: boolean;
  /** Every word after the command is a positional argument, flags included (cobra's DisableFlagParsing). */
  readonly disableFlagParsing?: boolean;
  /** Checks the positional arguments before run; returns the error message (cobra's Args). */
  readonly validateArgs?: (command: Command, args: readonly string[]) => string | undefined;
  /** Shell completion candidates for positional arguments (cobra's ValidArgsFunction). */
  readonly completeArgs?: (command: Command, args: readonly string[], toComplete: string) => Completions;
}

/** Candidates (`name` or `name\tdescription`) and cobra's ShellCompDirective bit mask. */
export interface Completions {
  readonly candidates: string[];
  readonly directive: number;
}

export class Command {
  readonly name: string;
  readonly children: Command[];
  /** Children in the order the spec lists them (cobra's AddCommand order, which suggestions follow). */
  readonly childrenInOrder: Command[];
  readonly persistentFlags: readonly FlagDef[];

  constructor(
    readonly spec: CommandSpec,
    readonly parent: Command | undefined,
    /** Flags every descendant inherits (the root's global flags, or the spec's). */
    rootPersistentFlags: readonly FlagDef[] = [],
  ) {
    this.persistentFlags = spec.persistentFlags ?? rootPersistentFlags;
    this.name = spec.use.split(" ")[0]!;
    this.childrenInOrder = (spec.subcommands ?? []).map((child) => new Command(child, this));
    this.children = [...this.childrenInOrder].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get root(): Command {
    return this.parent === undefined ? this : this.parent.root;
  }

  get runnable(): boolean {
    return this.spec.run !== undefined;
  }

  /** Space-separated names from the root, e.g. "etcdctl member list". */
  get path(): string {
    return this.parent === undefined ? this.name : `${this.parent.path} ${this.name}`;
  }

  helpFlag(): FlagDef {
    return { name: "help", shorthand: "h", kind: "bool", defaultText: "false", usage: `help for ${this.name}` };
  }

  /** Flags defined here (the root's persistent flags count as local to the root), plus help. */
  localFlagDefs(): FlagDef[] {
    return [...(this.spec.flags ?? []), ...this.persistentFlags, this.helpFlag()];
  }

  inheritedFlagDefs(): FlagDef[] {
    const out: FlagDef[] = [];
    for (let c = this.parent; c !== undefined; c = c.parent) out.push(...c.persistentFlags);
    return out;
  }

  /** Local flags that descendants do not inherit (cobra's LocalNonPersistentFlags), plus help. */
  localNonPersistentFlagDefs(): FlagDef[] {
    return [...(this.spec.flags ?? []), this.helpFlag()];
  }

  flagSet(): FlagSet {
    return new FlagSet([...this.localFlagDefs(), ...this.inheritedFlagDefs()]);
  }

  /** cobra's findNext: exact name or alias, else a unique prefix. */
  findChild(word: string): Command | undefined {
    const exact = this.children.find((c) => c.name === word || (c.spec.aliases ?? []).includes(word));
    if (exact !== undefined) return exact;
    const matches = this.children.filter((c) => c.name.startsWith(word) || (c.spec.aliases ?? []).some((a) => a.startsWith(word)));
    return matches.length === 1 ? matches[0] : undefined;
  }

  useLine(): string {
    const line = this.parent === undefined ? this.spec.use : `${this.parent.path} ${this.spec.use}`;
    if (this.spec.disableFlagsInUseLine === true) return line;
    return line.includes("[flags]") ? line : `${line} [flags]`;
  }

  /** etcdctl's usage text (before tab alignment). */
  usageText(version: string, apiVersion: string, options: { helpFlag?: boolean } = {}): string {
    let t = "NAME:\n";
    const relativeName = (c: Command, start: Command) => {
      const parts = [c.name];
      for (let p = c.parent; p !== undefined && p.name !== start.name; p = p.parent) parts.unshift(p.name);
      return parts.join(" ");
    };
    t += this.parent === undefined ? `\t${this.name} - ${this.spec.short}\n` : `\t${relativeName(this, this.root)} - ${this.spec.short}\n`;
    t += `\nUSAGE:\n\t${this.useLine()}\n`;
    if (this.parent === undefined) t += `\nVERSION:\n\t${version}\n`;
    if (this.children.length > 0) {
      t += `\nAPI VERSION:\n\t${apiVersion}\n`;
      t += "\n\nCOMMANDS:\n";
      const all: Command[] = [];
      const walk = (c: Command) => {
        for (const child of c.children) {
          all.push(child);
          walk(child);
        }
      };
      walk(this);
      for (const c of all) if (c.runnable) t += `\t${relativeName(c, this)}\t${c.spec.short}\n`;
    }
    if (this.spec.long !== undefined && this.spec.long !== "") {
      t += "\nDESCRIPTION:\n";
      for (const line of this.spec.long.replace(/^[\n\t ]+|[\n\t ]+$/g, "").split("\n")) t += `\t${line}\n`;
    }
    // cobra adds the help flag to a command only when that command runs, so a usage printed for
    // another one (help's unknown topic) lacks it.
    const local = options.helpFlag === false ? this.localFlagDefs().filter((d) => d.name !== "help") : this.localFlagDefs();
    t += `\nOPTIONS:\n${flagUsages(new FlagSet(local).defs())}`;
    const inherited = this.inheritedFlagDefs();
    if (inherited.length > 0) t += `\nGLOBAL OPTIONS:\n${flagUsages(new FlagSet(inherited).defs())}`;
    return `${t}\n`;
  }

  usage(version: string, apiVersion: string, options: { helpFlag?: boolean } = {}): string {
    return tabwrite(this.usageText(version, apiVersion, options));
  }
}

function goQuoteAscii(text: string): string {
  return JSON.stringify(text);
}

/** etcdctl's etcdFlagUsages: one line per flag, defaults in Go syntax. */
function flagUsages(defs: readonly FlagDef[]): string {
  let out = "";
  for (const def of defs) {
    let line = def.shorthand !== undefined ? `  -${def.shorthand}, --${def.name}` : `      --${def.name}`;
    const value = def.kind === "string" ? goQuoteAscii(def.defaultText) : def.defaultText;
    line += def.kind === "bool" ? `[=${value}]` : `=${value}`;
    out += `${line}\t${def.usage}\n`;
  }
  return out;
}

/** pflag's UnquoteUsage: a back-quoted word of the usage names the value, else its type does. */
function unquoteUsage(def: FlagDef): { name: string; usage: string } {
  const quoted = /`([^`]*)`/.exec(def.usage);
  if (quoted !== null) return { name: quoted[1]!, usage: def.usage.replace(`\`${quoted[1]!}\``, quoted[1]!) };
  const names: Record<FlagDef["kind"], string> = { bool: "", string: "string", int64: "int", uint64: "uint", int: "int", duration: "duration", stringSlice: "strings" };
  return { name: names[def.kind], usage: def.usage };
}

/** pflag's defaultIsZeroValue. */
function defaultIsZero(def: FlagDef): boolean {
  switch (def.kind) {
    case "bool":
      return def.defaultText === "false";
    case "duration":
      return def.defaultText === "0" || def.defaultText === "0s";
    case "string":
      return def.defaultText === "";
    case "stringSlice":
      return def.defaultText === "[]";
    default:
      return def.defaultText === "0";
  }
}

/** pflag's FlagUsages (no wrapping): names and value types aligned, then usage and default. */
export function pflagUsages(defs: readonly FlagDef[]): string {
  const lines = defs.map((def) => {
    const { name, usage } = unquoteUsage(def);
    let head = def.shorthand !== undefined ? `  -${def.shorthand}, --${def.name}` : `      --${def.name}`;
    if (name !== "") head += ` ${name}`;
    let tail = usage;
    if (!defaultIsZero(def)) tail += def.kind === "string" ? ` (default ${JSON.stringify(def.defaultText)})` : ` (default ${def.defaultText})`;
    return { head, tail };
  });
  const width = Math.max(0, ...lines.map((l) => l.head.length));
  return lines.map(({ head, tail }) => `${head} ${" ".repeat(width - head.length + 1)} ${tail.replace(/\n/g, `\n${" ".repeat(width + 3)}`)}\n`).join("");
}

/**
 * cobra's default usage for a command under an unnamed root (etcdctl's txn parses each request
 * line with such a root holding put, get and del), as printed on a flag error.
 */
export function cobraDefaultUsage(command: Command): string {
  const useLine = command.useLine().replace(/^\S*/, "");
  const flags = pflagUsages(new FlagSet(command.localFlagDefs()).defs()).replace(/\s+$/, "");
  return `Usage:\n  ${useLine}\n\nFlags:\n${flags}\n`;
}
