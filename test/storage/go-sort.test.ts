/** Go 1.19 sort.Sort reimplementation: a correct sort on every input shape (property test). */
import test from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { goSort } from "../../src/storage/mvcc/go-sort.js";

test("goSort sorts every array (duplicates, sorted, reversed, long) and keeps its elements", () => {
  const shapes = fc.oneof(
    fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 400 }),
    fc.array(fc.integer(), { maxLength: 400 }),
    fc.integer({ min: 0, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
    fc.integer({ min: 0, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => n - i)),
    fc.integer({ min: 0, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => (i * 7919) % 13)),
  );
  fc.assert(
    fc.property(shapes, (values) => {
      const items = values.map((v, i) => ({ v, i }));
      goSort(items, (a, b) => a.v < b.v);
      for (let k = 1; k < items.length; k++) assert.ok(items[k - 1]!.v <= items[k]!.v);
      assert.deepEqual(items.map((x) => x.i).sort((a, b) => a - b), values.map((_, i) => i));
    }),
    { seed: 19, numRuns: 300 },
  );
});

test("up to 12 elements the order of equal elements is kept (insertion sort)", () => {
  const items = [3, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1, 3].map((v, i) => ({ v, i }));
  goSort(items, (a, b) => a.v < b.v);
  assert.deepEqual(items.map((x) => x.i), [1, 4, 7, 10, 3, 6, 9, 0, 2, 5, 8, 11]);
});
