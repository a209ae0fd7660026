/**
 * Seeded generator of random etcdctl command lines for the differential fuzzer (fuzz.test.ts).
 *
 * A line is drawn from a small grammar: a command (or an unknown word / prefix abbreviation), its
 * positional arguments, local and global flags spelled in every way pflag accepts, values that are
 * valid, borderline or invalid, and sometimes stdin (txn). Every choice comes from one seeded PRNG,
 * so a (seed, index) pair always yields the same line.
 *
 * Placeholders, replaced per tool before running: `$LEASE` (a live lease of the tool's server,
 * in hex), `$EP` (the tool's server endpoint).
 *
 * Left out of the grammar, and why:
 * - commands that never end by themselves (lease keep-alive, lock, elect, watch without a timeout,
 *   make-mirror, check perf/datascale) and prefixes that would pick them;
 * - commands that change cluster membership, auth state or files (member add/remove/update, auth
 *   enable, user/role add/delete/grant, snapshot save/restore, move-leader, defrag, alarm disarm):
 *   they would stop the two servers from staying in lockstep or break later lines;
 * - NUL bytes: an argv string cannot hold one;
 * - shapes where etcdctl panics (a Go stack trace, not behaviour to copy): an unknown txn compare
 *   operator ("Unknown result op"), single-quoted txn words shorter than the word count (argify
 *   slices by the number of words), `-h` inside a txn request line (etcdctl waits forever).
 */

/** mulberry32: a tiny seeded PRNG with 32-bit state. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** One generated command line. */
export interface FuzzLine {
  readonly args: string[];
  readonly stdin: string;
  /** Seconds before `timeout` stops the command (watch lines), or undefined for the default. */
  readonly timeout: number | undefined;
}

/** Seed for line `index` of a run with seed `seed`: every line is reproducible on its own. */
export function lineSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

type ValueKind = "bool" | "string" | "int" | "uint" | "duration" | "enum";

interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly kind: ValueKind;
  /** Plausible values for string/enum flags. */
  readonly values?: readonly string[];
}

const intValues = [
  "0", "1", "2", "3", "5", "10", "-1", "-5", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
  "18446744073709551615", "18446744073709551616", "0x10", "0X1f", "0x", "010", "08", "0o17", "0b101", "0b2", "1_000", "_1", "1__0",
  "+3", "1e3", "1.5", "abc", "", " 1", "1 ", "٣", "007", "99999999999999999999",
];
const durationValues = [
  "1s", "2s", "1.5s", "1h2m", "-1s", "0", "0s", "10", "1x", "", "500ms", "1µs", "1us", "1ns", ".5s", "5.s", "1m30s", "+2s", "-0", "1d",
  "s", "1s2", "3000000h", "1.0000000001s", "9999999999h", "2562047h", "2562048h",
];
const boolValues = ["true", "false", "1", "0", "t", "F", "TRUE", "False", "yes", "", "2"];
const keys = [
  "foo", "foo1", "foo2", "fop", "hist", "a b", "'q\"", "ключ", "ü", "\t", "-dash", "--dd", "", "/", "/registry/a", "zz", "\\x41",
  "k\nline", "%s", "日本", "a=b", "*", "\x01", "\u00ff", "lease-key", "foo\u0000".slice(0, 3),
];
const values = ["bar", "", "v v", "-val", "--", "\"quoted\"", "ü", "x".repeat(70), "line1\nline2", "\x7f", "0x10"];
const formats = ["simple", "json", "fields", "table", "protobuf", "yaml", "", "JSON", "Simple", "tab"];

const globalFlags: readonly FlagSpec[] = [
  { name: "write-out", short: "w", kind: "enum", values: formats },
  { name: "hex", kind: "bool" },
  { name: "debug", kind: "bool" },
  { name: "dial-timeout", kind: "duration" },
  { name: "command-timeout", kind: "duration" },
  { name: "keepalive-time", kind: "duration" },
  { name: "keepalive-timeout", kind: "duration" },
  { name: "insecure-transport", kind: "bool" },
  { name: "insecure-skip-tls-verify", kind: "bool" },
  { name: "insecure-discovery", kind: "bool" },
  { name: "endpoints", kind: "string", values: ["$EP", "$EP,$EP", "http://$EP", ""] },
  // Always with a password: a bare user name would prompt on the terminal.
  { name: "user", kind: "string", values: ["alice:secret", "alice:wrong", "nobody:x", ":", "alice:"] },
  { name: "password", kind: "string", values: ["secret", ""] },
];

interface CommandSpec {
  readonly words: readonly string[];
  readonly flags: readonly FlagSpec[];
  /** Positional arguments, drawn fresh per line. */
  readonly args: (rng: Rng) => string[];
  readonly stdin?: (rng: Rng) => string;
  readonly timeout?: number;
  readonly weight: number;
}

const anyInt = (rng: Rng) => rng.pick(intValues);
const someKey = (rng: Rng) => rng.pick(keys);

function keyArgs(rng: Rng): string[] {
  const n = rng.pick([0, 1, 1, 1, 1, 2, 2, 3]);
  return Array.from({ length: n }, () => someKey(rng));
}

// Not "==" (nor other unknown operators): etcdctl 3.4 panics in clientv3.Compare ("Unknown result op").
const compareOps = ["=", ">", "<", "!="];

function txnStdin(rng: Rng): string {
  const compare = () => {
    const target = rng.pick(["value", "version", "create", "mod", "lease", "val", "c", "m", "ver", "bogus"]);
    const key = rng.pick(["foo", "hist", "nope", "a b", ""]);
    const rhs = target === "value" || target === "val" ? rng.pick(['"bar"', '"x"', "bar", '""', '"unterminated']) : rng.pick(["0", "1", "3", "-1", "x", "\"2\"", "$LEASE"]);
    return `${target}(${JSON.stringify(key)}) ${rng.pick(compareOps)} ${rhs}`;
  };
  const op = () => {
    const r = rng.int(5);
    if (r === 0) return `put ${rng.pick(["fz/t", "foo", "\"a b\"", "fz/t --lease=$LEASE", "fz/t --prev-kv"])} ${rng.pick(["v", "\"q q\"", ""])}`;
    if (r === 1) return `get ${rng.pick(["foo", "fz/t", "foo --prefix", "\"\" --from-key --limit=2", "foo -w json", "fz --keys-only"])}`;
    if (r === 2) return `del ${rng.pick(["fz/t", "fz/ --prefix", "nope", "fz/t --prev-kv"])}`;
    if (r === 3) return rng.pick(["bogus", "put", "get", ""]);
    return `get ${rng.pick(["hist", "fz/ --prefix --count-only", "foo2 --rev=3"])}`;
  };
  const section = (f: () => string) => Array.from({ length: rng.int(3) }, f);
  const parts = [...section(compare), "", ...section(op), "", ...section(op), ""];
  if (rng.chance(0.1)) parts.pop();
  if (rng.chance(0.1)) parts.splice(rng.int(parts.length), 0, rng.pick(["garbage", "  ", "put"]));
  return parts.map((p) => `${p}\n`).join("");
}

const commands: readonly CommandSpec[] = [
  {
    words: ["get"],
    weight: 10,
    flags: [
      { name: "consistency", kind: "enum", values: ["l", "s", "x", ""] },
      { name: "order", kind: "enum", values: ["ASCEND", "DESCEND", "ascend", "x", ""] },
      { name: "sort-by", kind: "enum", values: ["CREATE", "KEY", "MODIFY", "VALUE", "VERSION", "key", "x", ""] },
      { name: "prefix", kind: "bool" },
      { name: "from-key", kind: "bool" },
      { name: "limit", kind: "int" },
      { name: "rev", kind: "int" },
      { name: "print-value-only", kind: "bool" },
      { name: "keys-only", kind: "bool" },
      { name: "count-only", kind: "bool" },
      { name: "min-mod-revision", kind: "int" },
      { name: "max-mod-revision", kind: "int" },
      { name: "min-create-revision", kind: "int" },
      { name: "max-create-revision", kind: "int" },
    ],
    args: keyArgs,
  },
  {
    words: ["put"],
    weight: 6,
    flags: [
      { name: "lease", kind: "string", values: ["$LEASE", "0", "1", "-1", "zz", "", "ffffffffffffffff", "0x10", "123456789"] },
      { name: "prev-kv", kind: "bool" },
      { name: "ignore-value", kind: "bool" },
      { name: "ignore-lease", kind: "bool" },
    ],
    args: (rng) => {
      const n = rng.pick([0, 1, 2, 2, 2, 2, 3]);
      const out = [`fz/${someKey(rng)}`, rng.pick(values), rng.pick(values)].slice(0, n);
      if (rng.chance(0.2) && out.length > 0) out[0] = someKey(rng);
      return out;
    },
    stdin: (rng) => (rng.chance(0.5) ? "" : rng.pick(["from-stdin", "a\nb\n", "x"])),
  },
  {
    words: ["del"],
    weight: 4,
    flags: [
      { name: "prefix", kind: "bool" },
      { name: "prev-kv", kind: "bool" },
      { name: "from-key", kind: "bool" },
    ],
    args: (rng) => keyArgs(rng).map((k) => (rng.chance(0.7) ? `fz/${k}` : k === "foo" || k === "hist" ? "fz/x" : k)),
  },
  { words: ["txn"], weight: 4, flags: [{ name: "interactive", short: "i", kind: "bool" }], args: (rng) => (rng.chance(0.1) ? [someKey(rng)] : []), stdin: txnStdin },
  { words: ["compaction"], weight: 3, flags: [{ name: "physical", kind: "bool" }], args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 1, 2]) }, () => rng.pick([...intValues, "2", "3", "4", "1000000"])) },
  { words: ["lease", "grant"], weight: 2, flags: [], args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 1, 2]) }, () => rng.pick(["0", "-1", "abc", "100000", "1e3", "0x100000", "9223372036854775807", "", "1.5"])) },
  { words: ["lease", "revoke"], weight: 2, flags: [], args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 1, 2]) }, () => rng.pick(["1", "0", "zz", "-1", "", "ffffffffffffffffff", "0x1", "123"])) },
  {
    words: ["lease", "timetolive"],
    weight: 3,
    flags: [{ name: "keys", kind: "bool" }],
    args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 1, 2]) }, () => rng.pick(["$LEASE", "$LEASE", "1", "0", "zz", "-1", "", "ffffffffffffffff", "7fffffffffffffff", "1234"])),
  },
  { words: ["lease", "list"], weight: 1, flags: [], args: (rng) => (rng.chance(0.2) ? ["x"] : []) },
  { words: ["lease"], weight: 1, flags: [], args: (rng) => (rng.chance(0.5) ? [rng.pick(["bogus", "g", "gr", "t", "re", "l"])] : []) },
  { words: ["member", "list"], weight: 2, flags: [], args: (rng) => (rng.chance(0.2) ? ["x"] : []) },
  { words: ["endpoint", "status"], weight: 2, flags: [{ name: "cluster", kind: "bool" }], args: () => [] },
  { words: ["endpoint", "health"], weight: 2, flags: [{ name: "cluster", kind: "bool" }], args: () => [] },
  { words: ["endpoint", "hashkv"], weight: 2, flags: [{ name: "cluster", kind: "bool" }, { name: "rev", kind: "int" }], args: () => [] },
  { words: ["alarm", "list"], weight: 1, flags: [], args: (rng) => (rng.chance(0.2) ? ["x"] : []) },
  { words: ["user", "get"], weight: 2, flags: [{ name: "detail", kind: "bool" }], args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 2]) }, () => rng.pick(["alice", "root", "nobody", ""])) },
  { words: ["user", "list"], weight: 1, flags: [], args: (rng) => (rng.chance(0.2) ? ["x"] : []) },
  { words: ["role", "get"], weight: 2, flags: [], args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 2]) }, () => rng.pick(["reader", "root", "nobody", ""])) },
  { words: ["role", "list"], weight: 1, flags: [], args: (rng) => (rng.chance(0.2) ? ["x"] : []) },
  { words: ["snapshot", "status"], weight: 1, flags: [], args: (rng) => Array.from({ length: rng.pick([0, 1, 1, 2]) }, () => rng.pick(["/nonexistent/snap.db", "", "/etc/hostname", "/"])) },
  { words: ["version"], weight: 2, flags: [], args: (rng) => (rng.chance(0.2) ? ["x"] : []) },
  {
    words: ["watch"],
    weight: 1,
    // Long enough for a slow start on a loaded machine to print the whole history.
    timeout: 6,
    flags: [
      { name: "rev", kind: "int" },
      { name: "prefix", kind: "bool" },
      { name: "prev-kv", kind: "bool" },
    ],
    args: (rng) => [rng.pick(["hist", "hist", "foo", "hi"]), ...(rng.chance(0.1) ? ["zz"] : [])],
  },
  // Unknown words, abbreviations (cobra's prefix matching) and bare command groups.
  {
    words: [],
    weight: 4,
    flags: [],
    args: (rng) => [rng.pick(["gett", "g", "ge", "p", "pu", "de", "d", "v", "ver", "bogus", "Get", "GET", "le", "lea", "m", "mem", "me", "en", "end", "e", "a", "al", "us", "u", "r", "ro", "t", "tx", "c", "co", "comp", "help", "h", "", "-", "lease", "member", "endpoint", "alarm", "user", "role", "auth", "snapshot"])],
  },
];

function flagValue(rng: Rng, spec: FlagSpec): string {
  switch (spec.kind) {
    case "bool":
      return rng.pick(boolValues);
    case "int":
    case "uint":
      return rng.chance(0.6) ? rng.pick(["0", "1", "2", "3", "5", "10"]) : anyInt(rng);
    case "duration": {
      const value = rng.chance(0.5) ? rng.pick(["1s", "2s", "5s", "10s"]) : rng.pick(durationValues);
      // A command timeout shorter than a round trip races with the call itself.
      if (spec.name === "command-timeout" && commandTimeoutRaces(value)) return "3s";
      return value;
    }
    case "enum":
    case "string":
      return rng.pick(spec.values ?? ["x"]);
  }
}

function commandTimeoutRaces(value: string): boolean {
  // Under a second (500ms, .5s) a loaded CI machine can miss the deadline on one tool only.
  return /^-|^[+]?0s?$|(ns|us|µs|ms)$|^\.5s$/.test(value);
}

/** One flag occurrence in a random pflag spelling (one or two argv words). */
function spellFlag(rng: Rng, spec: FlagSpec): string[] {
  const value = flagValue(rng, spec);
  const short = spec.short !== undefined && rng.chance(0.5);
  if (spec.kind === "bool") {
    const r = rng.int(6);
    if (r <= 2) return [short ? `-${spec.short}` : `--${spec.name}`];
    if (r === 3 && short) return [`-${spec.short}=${value}`];
    if (r === 4 && !short) return [`--${spec.name}`, value]; // the value becomes a positional argument
    return [`--${spec.name}=${value}`];
  }
  const r = rng.int(4);
  if (short) {
    if (r === 0) return [`-${spec.short}${value}`];
    if (r === 1) return [`-${spec.short}=${value}`];
    return [`-${spec.short}`, value];
  }
  if (r === 0 || r === 1) return [`--${spec.name}=${value}`];
  return [`--${spec.name}`, value];
}

/** Combined short bools or odd dashes, for the few flags with shorthands. */
const oddFlagWords = ["-", "---", "--=x", "-=", "-h", "--help", "--help=false", "-x", "--bogus", "--bogus=1", "-wjson", "-hw", "-iw", "-wi", "--hex=", "--hex=false", "--w", "-w"];

function weightedCommand(rng: Rng): CommandSpec {
  const total = commands.reduce((sum, c) => sum + c.weight, 0);
  let r = rng.int(total);
  for (const c of commands) {
    if (r < c.weight) return c;
    r -= c.weight;
  }
  return commands[0]!;
}

/** The line for one seed. */
export function generateLine(seed: number): FuzzLine {
  const rng = new Rng(seed);
  const command = weightedCommand(rng);
  const before: string[] = [];
  const after: string[] = [];
  const place = (words: string[]) => {
    // Flags before the command words only parse when they are global; local flags go after.
    (rng.chance(0.7) ? after : before).push(...words);
  };
  const nGlobal = rng.pick([0, 0, 1, 1, 1, 2, 3]);
  for (let i = 0; i < nGlobal; i++) {
    const spec = rng.chance(0.6) ? globalFlags[0]! : rng.pick(globalFlags);
    place(spellFlag(rng, spec));
  }
  const local: string[] = [];
  const nLocal = command.flags.length === 0 ? 0 : rng.pick([0, 1, 1, 2, 2, 3, 4]);
  for (let i = 0; i < nLocal; i++) {
    const words = spellFlag(rng, rng.pick(command.flags));
    if (rng.chance(0.1)) local.push(...words); // repeated flag
    local.push(...words);
  }
  if (rng.chance(0.08)) local.push(rng.pick(oddFlagWords));
  const args = command.args(rng);
  // Interleave local flags and positional arguments, sometimes behind a `--`.
  const tail: string[] = [];
  const dash = rng.chance(0.12) ? rng.int(args.length + 1) : -1;
  const flagsFirst = rng.chance(0.5);
  if (flagsFirst) tail.push(...local);
  args.forEach((arg, i) => {
    if (i === dash) tail.push("--");
    tail.push(arg);
  });
  if (dash === args.length) tail.push("--");
  if (!flagsFirst) tail.splice(rng.int(tail.length + 1), 0, ...local);
  const words = command.words.map((w) => (rng.chance(0.1) && w.length > 3 ? w.slice(0, w.length - 1 - rng.int(2)) : w));
  // Abbreviations must not pick a command that never ends; these stay unambiguous and harmless.
  const safeWords = words.map((w, i) => (isSafeAbbreviation(command.words[i]!, w) ? w : command.words[i]!));
  return {
    args: [...before, ...safeWords, ...after, ...tail],
    stdin: command.stdin?.(rng) ?? (rng.chance(0.1) ? "stdin text\n" : ""),
    timeout: command.timeout,
  };
}

function isSafeAbbreviation(full: string, word: string): boolean {
  // "lea" could be lease only; "wat" watch (which has its own timeout); keep-alive is never drawn.
  return full.startsWith(word) && !"lock".startsWith(word) && !"elect".startsWith(word) && !"keep-alive".startsWith(word);
}

/** POSIX shell quoting of a word, for printing a reproducible command line. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word)) return word;
  if (/^[\x20-\x7e]*$/.test(word)) return `'${word.replace(/'/g, `'\\''`)}'`;
  return `$'${[...Buffer.from(word, "utf8")].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("")}'`;
}
