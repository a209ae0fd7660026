/**
 * etcdctl's "table" output (olekukonko/tablewriter with right-aligned cells and centered,
 * upper-cased headers). Only member list, endpoint and snapshot status tables exist in etcdctl.
 */
import * as pb from "../../api/gen/etcdserverpb/rpc_pb.js";
import { out } from "../output.js";
import { hex, humanizeBytes } from "./go.js";
import { tables, UnsupportedPrinter, type DbStatus, type EndpointHashKV, type EndpointHealth, type EndpointStatus } from "./printer.js";

function width(text: string): number {
  return [...text].length;
}

/** Renders a table as tablewriter does with ALIGN_RIGHT. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const titles = header.map((h) => h.replace(/_/g, " ").toUpperCase());
  const widths = titles.map((t, i) => Math.max(width(t), ...rows.map((r) => width(r[i] ?? ""))));
  const border = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  const center = (text: string, w: number) => {
    const gap = w - width(text);
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + text + " ".repeat(gap - left);
  };
  let text = border;
  text += `| ${titles.map((t, i) => center(t, widths[i]!)).join(" | ")} |\n`;
  text += border;
  for (const row of rows) text += `| ${widths.map((w, i) => (row[i] ?? "").padStart(w)).join(" | ")} |\n`;
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
