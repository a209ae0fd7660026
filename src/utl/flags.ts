/**
 * A small command-line flag parser with the conventions of spf13/pflag, which etcd's tools use:
 * `--name value`, `--name=value`, `-x value`, `-x=value`, boolean flags given bare or as
 * `--flag=true|false`, and `--` ending the flags.
 */

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  /** One-letter short name, if any. */
  short?: string;
  kind: "string" | "bool";
  defaultValue: string;
  usage: string;
}

/** A command line etcd's tools would reject; the message is pflag's. */
export class FlagError extends Error {
  override name = "FlagError";
}

export interface ParsedFlags {
  values: Map<string, string>;
  positional: string[];
}

export function parseFlags(args: string[], specs: FlagSpec[]): ParsedFlags {
  const values = new Map<string, string>(specs.map((s) => [s.name, s.defaultValue]));
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const body = arg.slice(long ? 2 : 1);
    const eq = body.indexOf("=");
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const spec = specs.find((s) => (long ? s.name === key : s.short === key));
    if (spec === undefined) {
      throw new FlagError(long ? `unknown flag: --${key}` : `unknown shorthand flag: '${key}' in ${arg}`);
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (spec.kind === "bool") value = "true";
    else {
      const next = args[i + 1];
      if (next === undefined) throw new FlagError(`flag needs an argument: ${long ? `--${key}` : `-${key}`}`);
      value = next;
      i++;
    }
    if (spec.kind === "bool" && !["true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False", "T", "F"].includes(value)) {
      throw new FlagError(`invalid argument "${value}" for "--${spec.name}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
    }
    values.set(spec.name, value);
  }
  return { values, positional };
}

/** Whether a parsed boolean flag is set. */
export function flagIsTrue(value: string | undefined): boolean {
  return value !== undefined && ["true", "1", "t", "TRUE", "True", "T"].includes(value);
}

/** Formats the OPTIONS block of a help text. */
export function formatFlagHelp(specs: FlagSpec[]): string {
  const rows = specs.map((s) => {
    const names = s.short !== undefined ? `-${s.short}, --${s.name}` : `    --${s.name}`;
    const shown = s.kind === "bool" ? `[=${s.defaultValue}]` : `=${JSON.stringify(s.defaultValue)}`;
    return { left: `  ${names}${shown}`, usage: s.usage };
  });
  const width = Math.max(...rows.map((r) => r.left.length));
  return rows.map((r) => `${r.left.padEnd(width)}  ${r.usage}\n`).join("");
}
