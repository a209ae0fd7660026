/** Quorum arithmetic against naive oracles, on random memberships (fast-check, fixed seed). */
import test from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Progress, ProgressTracker } from "../../src/raft/progress.js";

const membership = fc.record({
  matches: fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 9 }),
  learnerMatches: fc.array(fc.nat({ max: 50 }), { maxLength: 3 }),
});

function tracker(matches: number[], learnerMatches: number[]): ProgressTracker {
  const t = new ProgressTracker(4);
  matches.forEach((match, i) => {
    const id = BigInt(i + 1);
    t.voters.add(id);
    const pr = new Progress(match + 1, 4, false);
    pr.match = match;
    t.setProgress(id, pr);
  });
  learnerMatches.forEach((match, i) => {
    const id = BigInt(100 + i);
    t.learners.add(id);
    const pr = new Progress(match + 1, 4, true);
    pr.match = match;
    t.setProgress(id, pr);
  });
  return t;
}

test("committedIndex is the largest index a majority of voters hold (learners never count)", () => {
  fc.assert(
    fc.property(membership, ({ matches, learnerMatches }) => {
      const t = tracker(matches, learnerMatches);
      // Oracle: try every candidate index, keep the largest held by more than half the voters.
      let oracle = 0;
      for (const candidate of [...matches, ...learnerMatches]) {
        const holders = matches.filter((m) => m >= candidate).length;
        if (holders * 2 > matches.length && candidate > oracle) oracle = candidate;
      }
      assert.equal(t.committedIndex(), oracle);
    }),
    { seed: 20261123, numRuns: 20_000 },
  );
});

test("vote tally: won with a majority of grants, lost once a majority is impossible, else pending", () => {
  const votes = fc.array(fc.constantFrom<boolean | undefined>(true, false, undefined), { minLength: 1, maxLength: 9 });
  fc.assert(
    fc.property(votes, fc.array(fc.boolean(), { maxLength: 3 }), (voterVotes, learnerVotes) => {
      const t = tracker(voterVotes.map(() => 0), learnerVotes.map(() => 0));
      voterVotes.forEach((v, i) => {
        if (v !== undefined) t.recordVote(BigInt(i + 1), v);
      });
      learnerVotes.forEach((v, i) => t.recordVote(BigInt(100 + i), v));
      const granted = voterVotes.filter((v) => v === true).length;
      const missing = voterVotes.filter((v) => v === undefined).length;
      const n = voterVotes.length;
      const expected = granted * 2 > n ? "won" : (granted + missing) * 2 > n ? "pending" : "lost";
      assert.equal(t.tallyVotes().result, expected);
    }),
    { seed: 20261123, numRuns: 20_000 },
  );
});

test("quorumActive counts the leader and recently active voters only", () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 9 }), fc.array(fc.boolean(), { maxLength: 3 }), (active, learnerActive) => {
      const t = tracker(active.map(() => 0), learnerActive.map(() => 0));
      active.forEach((a, i) => (t.progress.get(BigInt(i + 1))!.recentActive = a));
      learnerActive.forEach((a, i) => (t.progress.get(BigInt(100 + i))!.recentActive = a));
      const count = active.filter((a, i) => a || i === 0).length;
      assert.equal(t.quorumActive(1n), count * 2 > active.length);
    }),
    { seed: 20261123, numRuns: 20_000 },
  );
});
