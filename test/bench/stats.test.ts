/** Percentiles and ratio orientation of the bench report. */
import test from "node:test";
import assert from "node:assert/strict";
import { concatSamples, quantile, summarize } from "../../bench/stats.js";
import { ratio, renderTable, type TableRow } from "../../bench/table.js";
import { share, shareStart } from "../../bench/workloads.js";

test("summarize reads percentiles by nearest rank", () => {
  const samples = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1..1000, reversed
  const s = summarize(samples);
  assert.equal(s.count, 1000);
  assert.equal(s.minMs, 1);
  assert.equal(s.maxMs, 1000);
  assert.equal(s.avgMs, 500.5);
  assert.equal(s.p50Ms, 500);
  assert.equal(s.p90Ms, 900);
  assert.equal(s.p99Ms, 990);
  assert.equal(s.p999Ms, 999);
  assert.equal(quantile(Float64Array.from([7]), 0.999), 7);
  assert.ok(Number.isNaN(summarize(new Float64Array(0)).p50Ms));
  assert.deepEqual([...concatSamples([Float64Array.from([1, 2]), Float64Array.from([3])])], [1, 2, 3]);
});

test("ratio is above 1 when cairn is better, for throughput and for latency", () => {
  const row = (better: TableRow["better"], etcd: number, cairn: number): TableRow => ({
    workload: "w",
    metric: "m",
    unit: "",
    better,
    values: { etcd, cairn },
  });
  assert.equal(ratio(row("higher", 100, 200), "etcd", "cairn"), 2);
  assert.equal(ratio(row("lower", 4, 2), "etcd", "cairn"), 2);
  assert.equal(ratio(row("lower", 2, 4), "etcd", "cairn"), 0.5);
  assert.equal(ratio({ ...row("higher", 1, 1), values: { etcd: 1 } }, "etcd", "cairn"), undefined);
  const table = renderTable([row("higher", 100, 200)], "etcd", "cairn");
  assert.match(table, /\| w +\| m +\| +100 \| +200 \| +2\.00x \|/);
});

test("share splits a total evenly and shareStart gives each part's first index", () => {
  const parts = [0, 1, 2].map((i) => share(10, i, 3));
  assert.deepEqual(parts, [4, 3, 3]);
  assert.deepEqual([0, 1, 2].map((i) => shareStart(10, i, 3)), [0, 4, 7]);
});
