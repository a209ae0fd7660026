/**
 * Command-line flags with the syntax and error texts of spf13/pflag, which etcdctl uses:
 * `--name=value`, `--name value`, `-x value`, `-xvalue`, bool flags without a value, `--` ends flags.
 */
import { parseGoDurationNs } from "./duration.js";

export type FlagKind = "bool" | "string" | "int64" | "uint64" | "int" | "duration" | "stringSlice";

/** One declared flag. `defaultText` is Go's rendering of the default, shown in usage text. */
export interface FlagDef {
  readonly name: string;
  readonly shorthand?: string;
  readonly kind: FlagKind;
  readonly defaultText: string;
  readonly usage: string;
}

export type FlagValue = boolean | string | bigint | number | string[];

/** A parsed flag: its value and whether the command line (or environment) set it. */
interface FlagState {
  readonly def: FlagDef;
  value: FlagValue;
  changed: boolean;
}

/** Flag parse failures; the message is pflag's. */
export class FlagError extends Error {}

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

/** Go's strconv underscoreOK: with base 0, underscores only between digits or after a base prefix. */
function underscoreOk(text: string): boolean {
  let s = text.replace(/^[+-]/, "");
  let saw = "^";
  let hex = false;
  if (/^0[bBoOxX]/.test(s)) {
    saw = "0";
    hex = /^0[xX]/.test(s);
    s = s.slice(2);
  }
  for (const c of s) {
    if (/[0-9]/.test(c) || (hex && /[a-fA-F]/.test(c))) saw = "0";
    else if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
    } else {
      if (saw === "_") return false;
      saw = "!";
    }
  }
  return saw !== "_";
}

/** Go's strconv.ParseInt(text, 0, 64) / ParseUint; throws Go's message. */
export function parseGoInt(text: string, unsigned: boolean, fn = unsigned ? "ParseUint" : "ParseInt"): bigint {
  const syntax = () => new Error(`strconv.${fn}: parsing ${JSON.stringify(text)}: invalid syntax`);
  const match = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][0-9_]*)$/.exec(text);
  if (match === null || (text.includes("_") && !underscoreOk(text))) throw syntax();
  if (unsigned && match[1] !== "") throw syntax();
  let digits = match[2]!.replace(/_/g, "");
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  if (/^0[oO]$/.test(digits)) throw syntax();
  let value = BigInt(digits.replace(/^0O/, "0o").replace(/^0X/, "0x").replace(/^0B/, "0b"));
  if (match[1] === "-") value = -value;
  const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
  if (value < min || value > max) throw new Error(`strconv.${fn}: parsing ${JSON.stringify(text)}: value out of range`);
  return value;
}

function initialValue(def: FlagDef): FlagValue {
  switch (def.kind) {
    case "bool":
      return def.defaultText === "true";
    case "string":
      return def.defaultText;
    case "int64":
    case "uint64":
      return BigInt(def.defaultText);
    case "int":
      return Number(def.defaultText);
    case "duration":
      return Number(parseGoDurationNs(def.defaultText)) / 1e6;
    case "stringSlice":
      return def.defaultText === "[]" ? [] : def.defaultText.slice(1, -1).split(",");
  }
}

export class FlagSet {
  private readonly byName = new Map<string, FlagState>();
  private readonly byShorthand = new Map<string, FlagState>();

  constructor(defs: readonly FlagDef[]) {
    for (const def of defs) this.add(def);
  }

  add(def: FlagDef): void {
    const state: FlagState = { def, value: initialValue(def), changed: false };
    this.byName.set(def.name, state);
    if (def.shorthand !== undefined) this.byShorthand.set(def.shorthand, state);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** All flags sorted by name, as pflag's VisitAll. */
  defs(): FlagDef[] {
    return [...this.byName.values()].map((s) => s.def).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  changed(name: string): boolean {
    return this.state(name).changed;
  }

  private state(name: string): FlagState {
    const state = this.byName.get(name);
    if (state === undefined) throw new Error(`flag accessed but not defined: ${name}`);
    return state;
  }

  bool(name: string): boolean {
    return this.state(name).value as boolean;
  }
  string(name: string): string {
    return this.state(name).value as string;
  }
  bigint(name: string): bigint {
    return this.state(name).value as bigint;
  }
  int(name: string): number {
    return this.state(name).value as number;
  }
  /** Exact nanoseconds of duration flags set from text (ms numbers lose precision near 2^63 ns). */
  private readonly durationsNs = new Map<string, bigint>();

  /** A duration flag in nanoseconds, exactly as parsed. */
  durationNs(name: string): bigint {
    return this.durationsNs.get(name) ?? BigInt(Math.round(this.durationMs(name) * 1e6));
  }

  /** A duration flag in milliseconds. */
  durationMs(name: string): number {
    return this.state(name).value as number;
  }
  strings(name: string): string[] {
    return this.state(name).value as string[];
  }

  /** Sets a flag from text as pflag's FlagSet.Set does; throws the bare parse error. */
  set(name: string, text: string): void {
    const state = this.state(name);
    state.value = this.convert(state, text);
    state.changed = true;
  }

  private convert(state: FlagState, text: string): FlagValue {
    switch (state.def.kind) {
      case "bool": {
        const value = parseGoBool(text);
        if (value === undefined) throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
        return value;
      }
      case "string":
        return text;
      case "int64":
        return parseGoInt(text, false);
      case "uint64":
        return parseGoInt(text, true);
      case "int":
        return Number(parseGoInt(text, false));
      case "duration": {
        const ns = parseGoDurationNs(text);
        this.durationsNs.set(state.def.name, ns);
        return Number(ns) / 1e6;
      }
      case "stringSlice": {
        const items = text === "" ? [] : text.split(",");
        return state.changed ? [...(state.value as string[]), ...items] : items;
      }
    }
  }

  private setFromArg(state: FlagState, text: string): void {
    try {
      this.set(state.def.name, text);
    } catch (error) {
      const flagName = state.def.shorthand === undefined ? `--${state.def.name}` : `-${state.def.shorthand}, --${state.def.name}`;
      throw new FlagError(`invalid argument ${JSON.stringify(text)} for ${JSON.stringify(flagName)} flag: ${(error as Error).message}`);
    }
  }

  /** Number of positional arguments before `--`, or -1 when there was none (cobra's ArgsLenAtDash). */
  argsLenAtDash = -1;

  /** Parses args, setting flags; returns the positional arguments in order. */
  parse(args: readonly string[]): string[] {
    const positional: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === "--") {
        this.argsLenAtDash = positional.length;
        positional.push(...args.slice(i + 1));
        break;
      }
      if (arg.length < 2 || arg[0] !== "-") {
        positional.push(arg);
        continue;
      }
      if (arg.startsWith("--")) i = this.parseLong(arg, args, i);
      else i = this.parseShort(arg, args, i);
    }
    return positional;
  }

  private parseLong(arg: string, args: readonly string[], i: number): number {
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    if (name.length === 0 || name[0] === "-" || name[0] === "=") throw new FlagError(`bad flag syntax: ${arg}`);
    const state = this.byName.get(name);
    if (state === undefined) {
      if (name === "help") throw new HelpRequested();
      throw new FlagError(`unknown flag: --${name}`);
    }
    if (eq !== -1) {
      this.setFromArg(state, body.slice(eq + 1));
      return i;
    }
    if (state.def.kind === "bool") {
      this.setFromArg(state, "true");
      return i;
    }
    if (i + 1 < args.length) {
      this.setFromArg(state, args[i + 1]!);
      return i + 1;
    }
    throw new FlagError(`flag needs an argument: ${arg}`);
  }

  private parseShort(arg: string, args: readonly string[], i: number): number {
    let shorthands = arg.slice(1);
    while (shorthands.length > 0) {
      const c = shorthands[0]!;
      const state = this.byShorthand.get(c);
      if (state === undefined) {
        if (c === "h") throw new HelpRequested();
        throw new FlagError(`unknown shorthand flag: '${c}' in -${shorthands}`);
      }
      if (shorthands.length > 2 && shorthands[1] === "=") {
        this.setFromArg(state, shorthands.slice(2));
        return i;
      }
      if (state.def.kind === "bool") {
        this.setFromArg(state, "true");
        shorthands = shorthands.slice(1);
        continue;
      }
      if (shorthands.length > 1) {
        this.setFromArg(state, shorthands.slice(1));
        return i;
      }
      if (i + 1 < args.length) {
        this.setFromArg(state, args[i + 1]!);
        return i + 1;
      }
      throw new FlagError(`flag needs an argument: '${c}' in -${shorthands}`);
    }
    return i;
  }
}

/** Thrown when -h/--help is given: the caller prints usage and exits 0. */
export class HelpRequested extends Error {
  constructor() {
    super("help requested");
  }
}
