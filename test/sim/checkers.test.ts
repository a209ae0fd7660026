/** The checkers must catch bad histories and logs: hand-made counterexamples, and legal look-alikes. */
import test from "node:test";
import assert from "node:assert/strict";
import { checkLinearizability, type KvOperation } from "./linearizability.js";
import { ArrayLog, SafetyChecker, compareLogs } from "./checkers.js";
import { EntryType, type Entry } from "../../src/raft/types.js";

function op(kind: KvOperation["kind"], key: string, call: number, ret: number, fields: Partial<KvOperation> = {}): KvOperation {
  return { clientId: 0, kind, key, call, return: ret, ...fields };
}

test("linearizability: a sequential history that reads its writes is accepted", () => {
  const h = [op("put", "a", 0, 1, { value: "1" }), op("get", "a", 2, 3, { output: "1" }), op("get", "b", 2, 3, { output: null })];
  assert.equal(checkLinearizability(h).ok, true);
});

test("linearizability: a stale read after a completed write is rejected", () => {
  const h = [op("put", "a", 0, 1, { value: "1" }), op("get", "a", 2, 3, { output: null })];
  const result = checkLinearizability(h);
  assert.equal(result.ok, false);
  assert.equal(result.badKey, "a");
});

test("linearizability: reads concurrent with a write may see either value, but not new then old", () => {
  const ok = [op("put", "a", 0, 10, { value: "1" }), op("get", "a", 1, 2, { output: null }), op("get", "a", 3, 4, { output: "1" })];
  assert.equal(checkLinearizability(ok).ok, true);
  const bad = [op("put", "a", 0, 10, { value: "1" }), op("get", "a", 1, 2, { output: "1" }), op("get", "a", 3, 4, { output: null })];
  assert.equal(checkLinearizability(bad).ok, false);
});

test("linearizability: two overlapping compare-and-swaps from the same value cannot both succeed", () => {
  const base = op("put", "k", 0, 1, { value: "x" });
  const bad = [base, op("cas", "k", 2, 5, { expected: "x", value: "y", output: true }), op("cas", "k", 3, 6, { expected: "x", value: "z", output: true })];
  assert.equal(checkLinearizability(bad).ok, false);
  const ok = [base, op("cas", "k", 2, 5, { expected: "x", value: "y", output: true }), op("cas", "k", 3, 6, { expected: "x", value: "z", output: false })];
  assert.equal(checkLinearizability(ok).ok, true);
});

test("linearizability: an operation with unknown outcome may take effect late or never", () => {
  const late = [op("put", "a", 0, Infinity, { value: "1" }), op("get", "a", 5, 6, { output: null }), op("get", "a", 7, 8, { output: "1" })];
  assert.equal(checkLinearizability(late).ok, true);
  const never = [op("put", "a", 0, Infinity, { value: "1" }), op("get", "a", 5, 6, { output: null })];
  assert.equal(checkLinearizability(never).ok, true);
  const flipflop = [op("put", "a", 0, Infinity, { value: "1" }), op("get", "a", 5, 6, { output: "1" }), op("get", "a", 7, 8, { output: null })];
  assert.equal(checkLinearizability(flipflop).ok, false);
});

test("linearizability: a lost write (acknowledged, then gone) is rejected", () => {
  const h = [
    op("put", "a", 0, 1, { value: "1" }),
    op("put", "a", 2, 3, { value: "2" }),
    op("get", "a", 4, 5, { output: "2" }),
    op("get", "a", 6, 7, { output: "1" }),
  ];
  assert.equal(checkLinearizability(h).ok, false);
});

const e = (term: number, index: number, data = `${term}/${index}`): Entry => ({ term, index, type: EntryType.Normal, data: new TextEncoder().encode(data) });

test("election safety: two leaders in one term are reported", () => {
  const c = new SafetyChecker();
  const log = new ArrayLog([e(1, 1)]);
  c.observeLeader(2, 1n, log, 0);
  c.observeLeader(3, 2n, log, 1);
  assert.deepEqual(c.violations, []);
  c.observeLeader(3, 3n, log, 2);
  assert.equal(c.violations.length, 1);
  assert.match(c.violations[0]!, /^election-safety: term 3 has two leaders/);
});

test("state-machine safety: different entries applied at one index are reported", () => {
  const c = new SafetyChecker();
  c.observeApply(1n, e(1, 1), 1, 0);
  c.observeApply(2n, e(1, 1), 1, 0);
  assert.deepEqual(c.violations, []);
  c.observeApply(3n, e(2, 1), 2, 1);
  assert.match(c.violations[0]!, /^state-machine-safety/);
  const d = new SafetyChecker();
  d.observeApply(1n, e(1, 1, "x"), 1, 0);
  d.observeApply(2n, e(1, 1, "y"), 1, 0);
  assert.equal(d.violations.length, 1, "same term, different contents");
});

test("leader completeness: a new leader missing a committed entry is reported", () => {
  const c = new SafetyChecker();
  c.observeApply(1n, e(1, 1), 1, 0);
  c.observeApply(1n, e(1, 2), 1, 0);
  c.observeLeader(2, 2n, new ArrayLog([e(1, 1), e(1, 2), e(2, 3)]), 1);
  assert.deepEqual(c.violations, []);
  c.observeLeader(3, 3n, new ArrayLog([e(1, 1), e(3, 2)]), 2);
  assert.match(c.violations[0]!, /^leader-completeness: leader 3 of term 3 lacks committed entry 1\/2/);
});

test("leader completeness: a leader of an older term elected late need not hold entries committed later", () => {
  const c = new SafetyChecker();
  // Entry 1/2 is first applied by members already at term 5: it may have been committed in term 5.
  c.observeApply(1n, e(1, 1), 1, 0);
  c.observeApply(1n, e(1, 2), 5, 1);
  c.observeLeader(4, 2n, new ArrayLog([e(1, 1), e(4, 2)]), 2);
  assert.deepEqual(c.violations, []);
  // But a leader of term 6 must hold it.
  c.observeLeader(6, 3n, new ArrayLog([e(1, 1), e(4, 2)]), 3);
  assert.equal(c.violations.length, 1);
});

test("log matching: divergent logs that agree at a later index are reported; legal divergence is not", () => {
  const a = new ArrayLog([e(1, 1), e(1, 2), e(2, 3)]);
  const b = new ArrayLog([e(1, 1), e(1, 2, "other"), e(2, 3)]);
  assert.match(compareLogs(a, b) ?? "", /differ at 2/);
  const c = new ArrayLog([e(1, 1), e(1, 2), e(3, 3), e(3, 4)]);
  assert.equal(compareLogs(a, c), undefined, "an uncommitted suffix from another term is legal");
  const d = new ArrayLog([e(1, 1), e(1, 2), e(2, 3, "forged")]);
  assert.match(compareLogs(a, d) ?? "", /differs in contents/);
  const checker = new SafetyChecker();
  checker.checkLogMatching(new Map([[1n, a], [2n, b], [3n, c]]), 0);
  assert.equal(checker.violations.length, 1);
  assert.match(checker.violations[0]!, /^log-matching: members 1 and 2/);
});

test("log matching compares only the range both logs still hold", () => {
  const compacted = new ArrayLog([e(2, 5), e(2, 6)], 5);
  const full = new ArrayLog([e(1, 1), e(1, 2), e(1, 3), e(2, 4), e(2, 5), e(2, 6)]);
  assert.equal(compareLogs(compacted, full), undefined);
});
