/**
 * Go's text/tabwriter for the one configuration etcdctl uses for help text
 * (minwidth 0, tabwidth 8, padding 1, padchar '\t', no flags): tab-terminated cells are aligned in
 * column blocks of consecutive lines, and padding is written as tabs.
 */

const tabWidth = 8;
const padding = 1;

function runeCount(text: string): number {
  return [...text].length;
}

/** Aligns `text` as tabwriter.Writer followed by Flush would. */
export function tabwrite(text: string): string {
  const rawLines = text.split("\n");
  // Each line is its tab-terminated cells plus a final cell that is not aligned.
  const lines = rawLines.map((line) => line.split("\t"));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      let text = "";
      for (let j = 0; j < cells.length; j++) {
        const cell = cells[j]!;
        text += cell;
        if (j < cells.length - 1) {
          const width = widths[j];
          if (width === undefined) {
            text += "\t";
            continue;
          }
          const cellWidth = Math.ceil(width / tabWidth) * tabWidth;
          const pad = cellWidth - runeCount(cell);
          text += "\t".repeat(Math.ceil(pad / tabWidth));
        }
      }
      out.push(text);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let current = line0; current < line1; current++) {
      if (column >= lines[current]!.length - 1) continue;
      writeLines(start, current);
      start = current;
      let width = 0;
      for (; current < line1; current++) {
        const cells = lines[current]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, runeCount(cells[column]!) + padding);
      }
      widths.push(width);
      format(start, current);
      widths.pop();
      start = current;
      current -= 1;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join("\n");
}
