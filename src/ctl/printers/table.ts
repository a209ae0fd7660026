/**
 * etcdctl's "table" output (olekukonko/tablewriter with right-aligned cells and centered,
 * upper-cased headers). Only member list, endpoint and snapshot status tables exist in etcdctl.
 */
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { out } from "../output.js";
import { hex, humanizeBytes } from "./go.js";
import { tables, UnsupportedPrinter, type DbStatus, type EndpointHashKV, type EndpointHealth, type EndpointStatus } from "./printer.js";

/** Display width of a cell line: one column per code point (etcdctl's cells are ASCII in practice). */
function width(text: string): number {
  return [...text].length;
}

/** tablewriter's MAX_ROW_WIDTH: cells wider than this are wrapped on spaces when they can be. */
export const maxCellWidth = 30;

/** Cost added to a line that is longer than the limit (tablewriter's defaultPenalty). */
const overLimitPenalty = 1e5;

/**
 * tablewriter's WrapWords: splits words into lines of at most `limit` columns (when each word fits),
 * minimizing the sum of squared slack of every line but the last, by dynamic programming from the
 * end. Ties keep the earliest break, as tablewriter does.
 */
export function wrapWords(words: readonly string[], limit: number): string[][] {
  const n = words.length;
  // lineWidth(i, j): words i..j joined by single spaces.
  const prefix = [0];
  for (const word of words) prefix.push(prefix[prefix.length - 1]! + width(word));
  const lineWidth = (i: number, j: number) => prefix[j + 1]! - prefix[i]! + (j - i);
  const cost = new Array<number>(n).fill(Number.MAX_SAFE_INTEGER);
  const nextBreak = new Array<number>(n).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    if (lineWidth(i, n - 1) <= limit) {
      cost[i] = 0;
      nextBreak[i] = n;
      continue;
    }
    for (let j = i + 1; j < n; j++) {
      const slack = limit - lineWidth(i, j - 1);
      let c = slack * slack + cost[j]!;
      if (lineWidth(i, j - 1) > limit) c += overLimitPenalty;
      if (c < cost[i]!) {
        cost[i] = c;
        nextBreak[i] = j;
      }
    }
  }
  const lines: string[][] = [];
  for (let i = 0; i < n; i = nextBreak[i]!) lines.push(words.slice(i, nextBreak[i]));
  return lines;
}

/** One cell as tablewriter lays it out: its lines, and the width it claims for its column. */
export interface WrappedCell {
  readonly lines: string[];
  readonly width: number;
}

/**
 * A cell as tablewriter lays it out with auto-wrap and reflow (its defaults): all lines joined into
 * one paragraph, then wrapped to the widest line capped at `maxCellWidth`, the cap raised to the
 * longest word, since words are never split. The cell claims the capped width even when its
 * wrapped lines are all narrower (a 43-column text wrapped into 28 and 14 still claims 30).
 */
export function wrapCell(text: string): WrappedCell {
  const lines = text.split("\n");
  const limit = Math.min(maxCellWidth, Math.max(0, ...lines.map(width)));
  const words = lines.join(" ").split(" ");
  const wordLimit = Math.max(limit, ...words.map(width));
  const wrapped = wrapWords(words, wordLimit).map((line) => line.join(" "));
  return { lines: wrapped, width: Math.max(limit, ...wrapped.map(width)) };
}

/** Renders a table as tablewriter does with ALIGN_RIGHT and its default auto-wrap. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const titles = header.map((h) => wrapCell(h));
  const cells = rows.map((row) => header.map((_h, i) => wrapCell(row[i] ?? "")));
  const widths = titles.map((t, i) => Math.max(t.width, ...cells.map((r) => r[i]!.width)));
  const border = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  const center = (text: string, w: number) => {
    const gap = Math.max(0, w - width(text));
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + text + " ".repeat(gap - left);
  };
  // A row is as tall as its tallest cell; shorter cells are padded with blank lines.
  const renderRow = (row: readonly WrappedCell[], align: (text: string, w: number) => string) => {
    const height = Math.max(...row.map((cell) => cell.lines.length));
    let text = "";
    for (let line = 0; line < height; line++) text += `| ${widths.map((w, i) => align(row[i]!.lines[line] ?? "", w)).join(" | ")} |\n`;
    return text;
  };
  // tablewriter upper-cases headers and shows underscores as spaces.
  const headerCells = titles.map((t) => ({ ...t, lines: t.lines.map((line) => line.replace(/_/g, " ").toUpperCase()) }));
  let text = border;
  text += renderRow(headerCells, center);
  text += border;
  for (const row of cells) text += renderRow(row, (cell, w) => cell.padStart(w));
  text += border;
  return text;
}

export class TablePrinter extends UnsupportedPrinter {
  constructor() {
    super("table");
  }

  private table({ header, rows }: { header: string[]; rows: string[][] }): void {
    out(renderTable(header, rows));
  }

  override memberList(r: pb.MemberListResponse): void {
    this.table(tables.memberList(r, hex));
  }
  override endpointHealth(list: readonly EndpointHealth[]): void {
    this.table(tables.endpointHealth(list));
  }
  override endpointStatus(list: readonly EndpointStatus[]): void {
    this.table(tables.endpointStatus(list, hex, humanizeBytes));
  }
  override endpointHashKV(list: readonly EndpointHashKV[]): void {
    this.table(tables.endpointHashKV(list));
  }
  override dbStatus(s: DbStatus): void {
    this.table(tables.dbStatus(s, humanizeBytes));
  }
}
