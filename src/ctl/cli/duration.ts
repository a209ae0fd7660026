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

/** Parses a Go duration into milliseconds (fractional), or throws Go's error text. */
export function parseGoDuration(text: string): number {
  const invalid = () => new Error(`time: invalid duration ${quote(text)}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();
  let totalNs = 0;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? "";
    const fraction = number?.[2];
    if (whole === "" && (fraction === undefined || fraction === "")) throw invalid();
    rest = rest.slice(number![0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (unit === "") throw new Error(`time: missing unit in duration ${quote(text)}`);
    const scale = unitNs[unit];
    if (scale === undefined) throw new Error(`time: unknown unit ${quote(unit)} in duration ${quote(text)}`);
    rest = rest.slice(unit.length);
    totalNs += Number(`${whole || "0"}.${fraction ?? "0"}`) * scale;
  }
  return (sign * totalNs) / 1e6;
}

/** Formats milliseconds as Go's Duration.String() does. */
export function formatGoDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const negative = ns < 0;
  let abs = Math.abs(ns);
  let text: string;
  if (abs < 1e9) {
    const [value, unit] = abs < 1e3 ? [abs, "ns"] : abs < 1e6 ? [abs / 1e3, "µs"] : [abs / 1e6, "ms"];
    text = `${trimFloat(value)}${unit}`;
  } else {
    const hours = Math.floor(abs / 3600e9);
    abs -= hours * 3600e9;
    const minutes = Math.floor(abs / 60e9);
    abs -= minutes * 60e9;
    const seconds = `${trimFloat(abs / 1e9)}s`;
    text = hours > 0 ? `${hours}h${minutes}m${seconds}` : minutes > 0 ? `${minutes}m${seconds}` : seconds;
  }
  return negative ? `-${text}` : text;
}

function trimFloat(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(9)));
}
