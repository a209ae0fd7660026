/**
 * Go's time.Duration text format, which etcdctl's duration flags use: parsing ("1m30s", "500ms")
 * with Go's exact error messages, and formatting ("5s", "1m0s") for defaults in usage text.
 */

const unitNs: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's strconv.Quote for the ASCII strings that appear in flag values. */
function quote(s: string): string {
  return JSON.stringify(s);
}

const unitNsBig: Readonly<Record<string, bigint>> = Object.fromEntries(Object.entries(unitNs).map(([unit, ns]) => [unit, BigInt(ns)]));
const limit = 1n << 63n;

/**
 * Parses a Go duration into milliseconds (fractional), or throws Go's error text. Follows Go's
 * time.ParseDuration on integer nanoseconds, so overflow past ±2^63 ns is "invalid duration" as
 * there, and fraction digits beyond what fits are dropped as Go drops them.
 */
export function parseGoDuration(text: string): number {
  return Number(parseGoDurationNs(text)) / 1e6;
}

/** Parses a Go duration into integer nanoseconds, or throws Go's error text. */
export function parseGoDurationNs(text: string): bigint {
  const invalid = () => new Error(`time: invalid duration ${quote(text)}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return 0n;
  if (rest === "") throw invalid();
  let total = 0n;
  while (rest !== "") {
    if (!/^[.0-9]/.test(rest)) throw invalid();
    const whole = /^\d*/.exec(rest)![0];
    let value = 0n;
    for (const digit of whole) {
      if (value > limit / 10n) throw invalid();
      value = value * 10n + BigInt(digit);
      if (value > limit) throw invalid();
    }
    rest = rest.slice(whole.length);
    let fraction = 0n;
    let scale = 1;
    let post = false;
    if (rest.startsWith(".")) {
      const digits = /^\d*/.exec(rest.slice(1))![0];
      post = digits !== "";
      let overflow = false;
      for (const digit of digits) {
        if (overflow) continue;
        if (fraction > (limit - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const next = fraction * 10n + BigInt(digit);
        if (next > limit) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      rest = rest.slice(1 + digits.length);
    }
    if (whole === "" && !post) throw invalid();
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (unit === "") throw new Error(`time: missing unit in duration ${quote(text)}`);
    const scaleNs = unitNsBig[unit];
    if (scaleNs === undefined) throw new Error(`time: unknown unit ${quote(unit)} in duration ${quote(text)}`);
    rest = rest.slice(unit.length);
    if (value > limit / scaleNs) throw invalid();
    value *= scaleNs;
    if (fraction > 0n) {
      // Go: uint64(float64(f) * (float64(unit) / scale)), truncated toward zero.
      value += BigInt(Math.trunc(Number(fraction) * (Number(scaleNs) / scale)));
      if (value > limit) throw invalid();
    }
    total += value;
    if (total > limit) throw invalid();
  }
  if (!negative && total > limit - 1n) throw invalid();
  return negative ? -total : total;
}

/** Formats milliseconds as Go's Duration.String() does. */
export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(BigInt(Math.round(ms * 1e6)));
}

/** `whole.fraction` of value / 10^digits with the fraction's trailing zeros (and a bare dot) dropped. */
function fixed(value: bigint, digits: number): string {
  const base = 10n ** BigInt(digits);
  const fraction = (value % base).toString().padStart(digits, "0").replace(/0+$/, "");
  return `${value / base}${fraction === "" ? "" : `.${fraction}`}`;
}

/** Go's Duration.String() of integer nanoseconds. */
export function formatGoDurationNs(ns: bigint): string {
  if (ns === 0n) return "0s";
  const negative = ns < 0n;
  const abs = negative ? -ns : ns;
  let text: string;
  if (abs < 1000n) text = `${abs}ns`;
  else if (abs < 1000_000n) text = `${fixed(abs, 3)}µs`;
  else if (abs < 1000_000_000n) text = `${fixed(abs, 6)}ms`;
  else {
    const hours = abs / 3600_000_000_000n;
    const minutes = (abs / 60_000_000_000n) % 60n;
    const seconds = `${fixed(abs % 60_000_000_000n, 9)}s`;
    text = hours > 0n ? `${hours}h${minutes}m${seconds}` : minutes > 0n ? `${minutes}m${seconds}` : seconds;
  }
  return negative ? `-${text}` : text;
}
