/**
 * The comparison table: one row per measured quantity, etcd and cairn side by side, and the ratio
 * of cairn to etcd oriented so that above 1 always means cairn is better (throughput: cairn/etcd;
 * latency, memory, size and time: etcd/cairn).
 */

/** Whether a larger value of a row is better (throughput) or worse (latency, bytes, time). */
export type Better = "higher" | "lower" | "none";

export interface TableRow {
  readonly workload: string;
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  /** Value per target label; undefined when that target did not produce it. */
  readonly values: Readonly<Record<string, number | undefined>>;
  /** Notes such as "errors" or "generator saturated", per target. */
  readonly notes?: Readonly<Record<string, string | undefined>>;
}

/** cairn relative to etcd, above 1 is better; undefined when either side is missing or zero. */
export function ratio(row: TableRow, base: string, other: string): number | undefined {
  const a = row.values[base];
  const b = row.values[other];
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || row.better === "none") return undefined;
  if (row.better === "higher") return a === 0 ? undefined : b / a;
  return b === 0 ? undefined : a / b;
}

export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "n/a";
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toLocaleString("en-US");
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** Renders rows as an aligned plain-text (Markdown-compatible) table. */
export function renderTable(rows: readonly TableRow[], base: string, other: string): string {
  const header = ["workload", "metric", base, other, `ratio (${other}/${base}, >1 better)`];
  const body = rows.map((row) => {
    const r = ratio(row, base, other);
    const cell = (label: string): string => {
      const note = row.notes?.[label];
      return formatNumber(row.values[label]) + (note === undefined ? "" : ` (${note})`);
    };
    return [row.workload, `${row.metric} ${row.unit}`.trim(), cell(base), cell(other), r === undefined ? "" : `${r.toFixed(2)}x`];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i >= 2 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...body.map(line)].join("\n");
}
