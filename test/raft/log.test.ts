/** RaftLog (unstable + storage, appends, truncation, compaction) against a naive array model. */
import test from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RaftLog } from "../../src/raft/log.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { EntryType, type Entry } from "../../src/raft/types.js";

type Op =
  | { kind: "append"; back: number; terms: number[]; prevTermDelta: number; commitAhead: number }
  | { kind: "persist"; count: number }
  | { kind: "apply" }
  | { kind: "compact"; back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("append" as const),
    back: fc.nat({ max: 6 }),
    terms: fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 5 }),
    prevTermDelta: fc.constantFrom(0, 0, 0, 1),
    commitAhead: fc.nat({ max: 6 }),
  }),
  fc.record({ kind: fc.constant("persist" as const), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant("apply" as const) }),
  fc.record({ kind: fc.constant("compact" as const), back: fc.nat({ max: 4 }) }),
);

const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array([term]) });

test("RaftLog matches a naive model under appends, truncations, persistence and compaction", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const storage = new MemoryStorage();
      const log = new RaftLog(storage, 1 << 20);
      /** model[i] = term of entry i (index 0 unused). */
      const model: number[] = [0];
      let committed = 0;
      for (const o of ops) {
        if (o.kind === "append") {
          const last = model.length - 1;
          const prev = Math.max(0, last - o.back);
          const prevTerm = (model[prev] ?? 0) + o.prevTermDelta;
          // Entry terms must not decrease and must be at least prevTerm, as a leader would send.
          let t = Math.max(prevTerm, 1);
          const ents = o.terms.map((d, i) => entry(prev + 1 + i, (t = Math.max(t, d))));
          const matches = model[prev] === prevTerm || (prev === 0 && prevTerm === 0);
          // Naive: find the first conflict; a conflict at or below the commit index is impossible
          // from a correct leader, so skip such ops.
          let conflict = 0;
          for (const e of ents) {
            if (model[e.index] !== e.term) {
              conflict = e.index;
              break;
            }
          }
          if (matches && conflict !== 0 && conflict <= committed) continue;
          if (prev < log.firstIndex() - 1) continue;
          const leaderCommit = committed + o.commitAhead;
          const result = log.maybeAppend(prev, prevTerm, leaderCommit, ents);
          if (!matches) {
            assert.equal(result, undefined);
            continue;
          }
          assert.equal(result, prev + ents.length);
          if (conflict !== 0) {
            model.length = conflict;
            for (const e of ents) if (e.index >= conflict) model[e.index] = e.term;
          }
          committed = Math.max(committed, Math.min(leaderCommit, prev + ents.length));
        } else if (o.kind === "persist") {
          // Persist a prefix of the unstable entries, as a driver handling an older Ready would.
          const unstable = log.unstableEntries().slice(0, o.count);
          storage.append(unstable);
          const last = unstable[unstable.length - 1];
          if (last) log.stableTo(last.index, last.term);
        } else if (o.kind === "apply") {
          log.appliedTo(committed);
        } else {
          const at = log.applied - o.back;
          if (at < storage.firstIndex() || at > storage.lastIndex()) continue;
          storage.createSnapshot(at, { voters: [], learners: [] }, new Uint8Array());
          storage.compact(at);
        }
        assert.equal(log.lastIndex(), model.length - 1);
        assert.equal(log.committed, committed);
        for (let i = log.firstIndex(); i <= log.lastIndex(); i++) assert.equal(log.term(i), model[i], `term at ${i}`);
        const first = Math.max(log.applied + 1, log.firstIndex());
        assert.deepEqual(log.nextEntries().map((e) => e.index), range(first, committed));
      }
    }),
    { seed: 20261123, numRuns: 3_000 },
  );
});

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(i);
  return out;
}
