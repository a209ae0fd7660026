/**
 * Output formats for `cairnutl snapshot status`, byte-identical to etcdctl 3.4's printers:
 * simple (comma-separated), table (olekukonko/tablewriter, right-aligned cells), json
 * (encoding/json of snapshot.Status) and fields (`"Name" : value` lines).
 */
import type { SnapshotStatus } from "../storage/bbolt/snapshot-file.js";

export const OUTPUT_FORMATS = ["simple", "table", "json", "fields"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function isOutputFormat(name: string): name is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(name);
}

/** Rounds half to even, as Go's strconv does when formatting with %.0f. */
function formatNoDecimals(value: number): string {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction === 0.5) return String(floor % 2 === 0 ? floor : floor + 1);
  return String(Math.round(value));
}

/** go-humanize's `Bytes`: SI units (kB = 1000 B), one decimal below 10. */
export function humanizeBytes(sizeBytes: number): string {
  if (sizeBytes < 10) return `${sizeBytes} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const exponent = Math.floor(Math.log(sizeBytes) / Math.log(1000));
  const suffix = sizes[exponent]!;
  const value = Math.floor((sizeBytes / Math.pow(1000, exponent)) * 10 + 0.5) / 10;
  return value < 10 ? `${value.toFixed(1)} ${suffix}` : `${formatNoDecimals(value)} ${suffix}`;
}

/** Header and the single row etcdctl's `makeDBStatusTable` builds. */
export function statusTable(status: SnapshotStatus): { header: string[]; rows: string[][] } {
  return {
    header: ["hash", "revision", "total keys", "total size"],
    rows: [[status.hash.toString(16), status.revision.toString(), String(status.totalKey), humanizeBytes(status.totalSize)]],
  };
}

/** Renders a table as tablewriter does with a header and right-aligned cells. */
export function renderTable(header: string[], rows: string[][]): string {
  const titles = header.map((h) => h.replace(/_/g, " ").trim().toUpperCase());
  const widths = titles.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const border = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  const centered = titles.map((title, column) => {
    const gap = widths[column]! - title.length;
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + title + " ".repeat(gap - left);
  });
  const line = (cells: string[]) => `| ${cells.join(" | ")} |\n`;
  let out = border + line(centered) + border;
  for (const row of rows) out += line(row.map((cell, column) => cell.padStart(widths[column]!)));
  return out + border;
}

/** The text `etcdctl snapshot status -w <format>` prints for this status. */
export function formatStatus(status: SnapshotStatus, format: OutputFormat): string {
  switch (format) {
    case "simple":
      return statusTable(status).rows.map((row) => `${row.join(", ")}\n`).join("");
    case "table": {
      const { header, rows } = statusTable(status);
      return renderTable(header, rows);
    }
    case "json":
      return `{"hash":${status.hash},"revision":${status.revision},"totalKey":${status.totalKey},"totalSize":${status.totalSize}}\n`;
    case "fields":
      return `"Hash" : ${status.hash}\n"Revision" : ${status.revision}\n"Keys" : ${status.totalKey}\n"Size" : ${status.totalSize}\n`;
  }
}
