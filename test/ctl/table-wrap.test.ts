/**
 * cairnctl's table cells wrap as etcdctl's tablewriter does: fixtures recorded from etcdctl 3.4.23,
 * and wrapWords checked against an exhaustive search over every way to break a few words.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { renderTable, wrapCell, wrapWords } from "../../src/ctl/printers/table.js";

test("cells wrap as etcdctl printed them", () => {
  // endpoint health -w table, error of a failed authentication.
  assert.deepEqual(wrapCell("etcdserver: authentication failed, invalid user ID or password"), {
    lines: ["etcdserver: authentication", "failed, invalid user ID or", "password"],
    width: 30,
  });
  // endpoint status -w table with the NOSPACE alarm: the cell claims 30 columns though no line is that wide.
  assert.deepEqual(wrapCell("memberID:16423753096913310907 alarm:NOSPACE "), { lines: ["memberID:16423753096913310907", "alarm:NOSPACE "], width: 30 });
  // A word is never split: it widens its column instead.
  assert.deepEqual(wrapCell("http://127.0.0.1:1,http://127.0.0.1:2,https://x.example.com:2379"), {
    lines: ["http://127.0.0.1:1,http://127.0.0.1:2,https://x.example.com:2379"],
    width: 64,
  });
  assert.deepEqual(wrapCell(""), { lines: [""], width: 0 });
});

test("a wrapped row is as tall as its tallest cell, each line right-aligned", () => {
  const table = renderTable(["endpoint", "error"], [["127.0.0.1:2379", "etcdserver: authentication failed, invalid user ID or password"]]);
  assert.equal(
    table,
    [
      "+----------------+--------------------------------+",
      "|    ENDPOINT    |             ERROR              |",
      "+----------------+--------------------------------+",
      "| 127.0.0.1:2379 |     etcdserver: authentication |",
      "|                |     failed, invalid user ID or |",
      "|                |                       password |",
      "+----------------+--------------------------------+",
      "",
    ].join("\n"),
  );
});

/** The cost tablewriter minimizes: squared slack of every line but the last, plus a penalty per overlong line. */
function cost(lines: readonly (readonly number[])[], limit: number): number {
  let total = 0;
  lines.slice(0, -1).forEach((line) => {
    const width = line.reduce((a, b) => a + b, 0) + line.length - 1;
    total += (limit - width) ** 2 + (width > limit ? 1e5 : 0);
  });
  return total;
}

/** Every segmentation whose last line fits, by brute force. */
function allSegmentations(widths: readonly number[], limit: number): number[][][] {
  const results: number[][][] = [];
  const n = widths.length;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    const lines: number[][] = [[widths[0]!]];
    for (let i = 1; i < n; i++) {
      if (mask & (1 << (i - 1))) lines.push([]);
      lines[lines.length - 1]!.push(widths[i]!);
    }
    const last = lines[lines.length - 1]!;
    if (last.reduce((a, b) => a + b, 0) + last.length - 1 <= limit) results.push(lines);
  }
  return results;
}

test("wrapWords finds a cheapest segmentation (exhaustive oracle)", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 9 }), fc.integer({ min: 1, max: 30 }), (widths, cap) => {
      const limit = Math.max(cap, ...widths);
      const words = widths.map((w) => "x".repeat(w));
      const lines = wrapWords(words, limit);
      assert.deepEqual(lines.flat(), words);
      const got = cost(lines.map((line) => line.map((w) => w.length)), limit);
      const best = Math.min(...allSegmentations(widths, limit).map((s) => cost(s, limit)));
      assert.equal(got, best);
      for (const line of lines) assert.ok(line.join(" ").length <= limit);
    }),
    { seed: 8, numRuns: 2000 },
  );
});
