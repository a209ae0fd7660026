/**
 * The status printers' pieces that etcdctl gets from Go libraries: go-humanize's byte sizes (with
 * Go's round-half-even %.0f) and tablewriter's layout. The byte-for-byte comparison with etcdctl
 * itself is in test/bbolt/etcd-snapshot.test.ts; these cases need no etcd.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { formatStatus, humanizeBytes, renderTable } from "../../src/utl/printers.js";

test("humanizeBytes matches go-humanize's Bytes", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [9, "9 B"],
    [10, "10 B"],
    [999, "999 B"],
    [1000, "1.0 kB"],
    [1024, "1.0 kB"],
    [9999, "10 kB"],
    [20480, "20 kB"], // 20.5 rounds half to even under %.0f
    [65536, "66 kB"], // 65.5 rounds half to even: 66
    [53248, "53 kB"],
    [82854982, "83 MB"],
    [158855168, "159 MB"],
    [1_000_000_000, "1.0 GB"],
  ];
  for (const [size, text] of cases) assert.equal(humanizeBytes(size), text, String(size));
});

test("table and other formats render as etcdctl does", () => {
  const status = { hash: 0x1c538cb, revision: 23n, totalKey: 26, totalSize: 53248 };
  assert.equal(
    formatStatus(status, "table"),
    [
      "+---------+----------+------------+------------+",
      "|  HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |",
      "+---------+----------+------------+------------+",
      "| 1c538cb |       23 |         26 |      53 kB |",
      "+---------+----------+------------+------------+",
      "",
    ].join("\n"),
  );
  assert.equal(formatStatus(status, "simple"), "1c538cb, 23, 26, 53 kB\n");
  assert.equal(formatStatus(status, "json"), '{"hash":29702347,"revision":23,"totalKey":26,"totalSize":53248}\n');
  assert.equal(formatStatus(status, "fields"), '"Hash" : 29702347\n"Revision" : 23\n"Keys" : 26\n"Size" : 53248\n');
  // Headers are centred with the extra space on the right; underscores become spaces.
  assert.equal(renderTable(["a_b"], [["12345"]]).split("\n")[1], "|  A B  |");
});
