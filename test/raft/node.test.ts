import test from "node:test";
import assert from "node:assert/strict";
import { Cluster, enc } from "./harness.js";
import { ProposalDroppedError } from "../../src/raft/node.js";
import { RaftRole } from "../../src/raft/types.js";

test("a single voter elects itself and commits proposals", () => {
  const c = new Cluster(1);
  const m = c.member(1);
  c.stabilize(); // apply the bootstrap conf change entries: campaigning waits for them
  m.node.campaign();
  c.stabilize();
  assert.equal(m.node.raft.role, RaftRole.Leader);
  m.node.propose(enc("a"));
  m.node.propose(enc("b"));
  c.stabilize();
  assert.deepEqual(m.appliedData(), ["a", "b"]);
  assert.equal(m.node.status().hardState.commit, m.storage.lastIndex());
});

test("a single voter elects itself by ticking", () => {
  const c = new Cluster(1);
  for (let i = 0; i < 30 && !c.leader(); i++) {
    c.tickAll();
    c.stabilize();
  }
  assert.equal(c.leader()?.id, 1n);
});

test("three members elect a leader and replicate", () => {
  const c = new Cluster(3);
  c.stabilize();
  c.member(1).node.campaign();
  c.stabilize();
  assert.equal(c.leader()?.id, 1n);
  c.member(1).node.propose(enc("x"));
  c.member(2).node.propose(enc("y")); // forwarded
  c.stabilize();
  for (const m of c.members.values()) assert.deepEqual(m.appliedData(), ["x", "y"]);
});

test("proposal with no leader throws ProposalDroppedError", () => {
  const c = new Cluster(3);
  assert.throws(() => c.member(1).node.propose(enc("x")), ProposalDroppedError);
});

test("three members elect by ticking with pre-vote and check-quorum", () => {
  const c = new Cluster(3, { preVote: true, checkQuorum: true });
  for (let i = 0; i < 100 && !c.leader(); i++) {
    c.tickAll();
    c.stabilize();
  }
  const leader = c.leader();
  assert.ok(leader);
  leader.node.propose(enc("z"));
  c.stabilize();
  for (const m of c.members.values()) assert.deepEqual(m.appliedData(), ["z"]);
});
