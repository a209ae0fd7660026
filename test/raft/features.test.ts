/** Unit tests of the Raft core's features, each on a small in-process cluster. */
import test from "node:test";
import assert from "node:assert/strict";
import { Cluster, Member, enc } from "./harness.js";
import { ProposalDroppedError } from "../../src/raft/node.js";
import { ProgressState } from "../../src/raft/progress.js";
import { ConfChangeType, MessageType, RaftRole, type NodeId } from "../../src/raft/types.js";
import { decodeConfChange, encodeConfChange } from "../../src/raft/confchange.js";

function elect(c: Cluster, id: number): Member {
  c.stabilize();
  c.member(id).node.campaign();
  c.stabilize();
  const leader = c.leader();
  assert.equal(leader?.id, BigInt(id));
  return leader!;
}

/** Ticks every member `n` times, stabilizing after each tick. */
function run(c: Cluster, n: number): void {
  for (let i = 0; i < n; i++) {
    c.tickAll();
    c.stabilize();
  }
}

test("pre-vote: an isolated member does not raise its term and does not disrupt the leader on return", () => {
  const c = new Cluster(3, { preVote: true });
  elect(c, 1);
  const term = c.member(1).node.raft.term;
  c.isolate(3);
  run(c, 50);
  assert.equal(c.member(3).node.raft.term, term, "pre-candidate must not bump its term");
  assert.equal(c.member(3).node.raft.role, RaftRole.PreCandidate);
  c.heal();
  run(c, 5);
  assert.equal(c.leader()?.id, 1n);
  assert.equal(c.member(1).node.raft.term, term);
});

test("without pre-vote an isolated member raises its term and deposes the leader on return", () => {
  const c = new Cluster(3, { preVote: false });
  elect(c, 1);
  const term = c.member(1).node.raft.term;
  c.isolate(3);
  run(c, 50);
  assert.ok(c.member(3).node.raft.term > term);
  c.heal();
  run(c, 30);
  assert.ok(c.member(1).node.raft.term > term, "the old leader saw the higher term");
});

test("check-quorum: an isolated leader steps down within an election timeout", () => {
  const c = new Cluster(3, { checkQuorum: true });
  elect(c, 1);
  c.isolate(1);
  run(c, 25);
  assert.notEqual(c.member(1).node.raft.role, RaftRole.Leader);
});

test("check-quorum: members in contact with a leader ignore a disruptive vote request", () => {
  const c = new Cluster(3, { checkQuorum: true });
  elect(c, 1);
  const term = c.member(1).node.raft.term;
  // Member 3 campaigns on its own (as if its timer fired during a brief partition).
  c.isolate(3);
  c.member(3).node.campaign();
  c.stabilize();
  c.heal();
  c.member(3).node.campaign();
  // Deliver only 3's vote requests, then check nobody moved to its term.
  c.stabilize();
  assert.equal(c.member(2).node.raft.term, term);
  assert.equal(c.member(2).node.raft.lead, 1n);
});

test("in-flight window bounds outstanding appends and pauses the follower", () => {
  const c = new Cluster(3, { maxInflightMsgs: 2 });
  const leader = elect(c, 1);
  c.cut.add("2-1"); // responses from 2 are lost, so the window never frees
  for (let i = 0; i < 6; i++) {
    leader.node.propose(enc(`p${i}`));
    c.stabilize();
  }
  const pr = leader.node.raft.tracker.progress.get(2n)!;
  assert.equal(pr.state, ProgressState.Replicate);
  assert.equal(pr.inflights.count(), 2);
  assert.ok(pr.isPaused());
  c.heal();
  run(c, 3);
  for (const m of c.members.values()) assert.equal(m.appliedData().length, 6);
});

test("conflict hint: a follower with a long divergent suffix is repaired in few round trips", () => {
  const c = new Cluster(3);
  const leader1 = elect(c, 1);
  // Leader 1 appends 50 entries that reach nobody.
  c.isolate(1);
  for (let i = 0; i < 50; i++) leader1.node.propose(enc(`lost${i}`));
  c.stabilize();
  // Member 2 becomes leader of the others and commits 5 entries.
  c.member(2).node.campaign();
  c.stabilize();
  for (let i = 0; i < 5; i++) c.member(2).node.propose(enc(`kept${i}`));
  c.stabilize();
  // Member 3 takes over, so its probe of member 1 starts at its own last index, far past the
  // point where the logs diverge.
  c.member(3).node.campaign();
  c.stabilize();
  assert.equal(c.member(3).node.raft.role, RaftRole.Leader);
  c.heal();
  // Count rejected appends while the logs converge.
  let rejections = 0;
  c.observer = (msg) => {
    if (msg.type === MessageType.AppResp && msg.reject) rejections++;
  };
  run(c, 20);
  assert.deepEqual(c.member(1).appliedData(), ["kept0", "kept1", "kept2", "kept3", "kept4"]);
  assert.ok(rejections >= 1 && rejections <= 2, `expected 1 or 2 rejections, got ${rejections}`);
});

test("uncommitted size limit drops proposals once the limit is reached", () => {
  const c = new Cluster(3, { maxUncommittedEntriesSizeBytes: 100 });
  const leader = elect(c, 1);
  c.isolate(1);
  leader.node.propose(new Uint8Array(40));
  leader.node.propose(new Uint8Array(40));
  assert.throws(() => leader.node.propose(new Uint8Array(40)), ProposalDroppedError);
  c.heal();
  run(c, 3);
  // Once committed, the budget is free again.
  leader.node.propose(new Uint8Array(40));
  c.stabilize();
});

test("followers forward proposals; disabled forwarding drops them", () => {
  const c = new Cluster(3);
  elect(c, 1);
  c.member(3).node.propose(enc("fwd"));
  c.stabilize();
  assert.deepEqual(c.member(1).appliedData(), ["fwd"]);
  const d = new Cluster(3);
  elect(d, 1);
  const m = d.member(2);
  m.node = new (m.node.constructor as typeof import("../../src/raft/node.js").RawNode)({ ...m.config(), disableProposalForwarding: true });
  d.stabilize();
  run(d, 1);
  assert.throws(() => m.node.propose(enc("x")), ProposalDroppedError);
});

test("snapshots: a lagging follower behind the compacted log receives a snapshot", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  c.isolate(3);
  for (let i = 0; i < 10; i++) leader.node.propose(enc(`e${i}`));
  c.stabilize();
  const applied = leader.node.status().applied;
  leader.storage.createSnapshot(applied, leader.node.status().confState, enc(`state@${applied}`));
  leader.storage.compact(applied);
  c.heal();
  let snapshotsSent = 0;
  c.observer = (msg) => {
    if (msg.type !== MessageType.Snap) return;
    snapshotsSent++;
    leader.node.reportSnapshot(msg.to, true);
  };
  run(c, 10);
  assert.equal(snapshotsSent, 1);
  const follower = c.member(3);
  assert.equal(follower.storage.snapshot().metadata.index, applied);
  assert.equal(new TextDecoder().decode(follower.storage.snapshot().data), `state@${applied}`);
  leader.node.propose(enc("after"));
  c.stabilize();
  assert.deepEqual(follower.appliedData(), ["after"]);
  assert.equal(follower.node.status().applied, leader.node.status().applied);
});

test("restart from persisted storage keeps term, vote and log", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  leader.node.propose(enc("a"));
  c.stabilize();
  const m = c.member(2);
  const before = m.node.status().hardState;
  m.node = new (m.node.constructor as typeof import("../../src/raft/node.js").RawNode)(m.config());
  assert.deepEqual(m.node.status().hardState, before);
  assert.equal(m.node.raft.raftLog.lastIndex(), leader.node.raft.raftLog.lastIndex());
});

function confChange(type: ConfChangeType, nodeId: NodeId) {
  return { id: 7n, type, nodeId, context: new Uint8Array(0) };
}

test("membership: add a voter that starts empty; it catches up and votes", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  leader.node.proposeConfChange(confChange(ConfChangeType.AddNode, 4n));
  c.stabilize();
  c.members.set(4n, new Member(4n, {}));
  leader.node.propose(enc("x"));
  run(c, 3);
  assert.deepEqual(c.member(4).appliedData(), ["x"]);
  assert.deepEqual(c.member(4).node.status().confState.voters, [1n, 2n, 3n, 4n]);
  assert.equal(leader.node.raft.tracker.quorum(), 3);
});

test("membership: only one change at a time; the second becomes a no-op", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  c.isolate(2);
  c.isolate(3);
  leader.node.proposeConfChange(confChange(ConfChangeType.AddNode, 4n));
  leader.node.proposeConfChange(confChange(ConfChangeType.AddNode, 5n));
  c.stabilize();
  c.heal();
  run(c, 3);
  assert.deepEqual(leader.node.status().confState.voters, [1n, 2n, 3n, 4n]);
});

test("membership: learners replicate but neither vote nor count toward quorum; promotion makes them voters", () => {
  const c = new Cluster(1);
  const leader = elect(c, 1);
  leader.node.proposeConfChange(confChange(ConfChangeType.AddLearnerNode, 2n));
  c.stabilize();
  c.members.set(2n, new Member(2n, {}));
  leader.node.propose(enc("l"));
  run(c, 3);
  assert.deepEqual(c.member(2).appliedData(), ["l"]);
  assert.deepEqual(leader.node.status().confState, { voters: [1n], learners: [2n] });
  // The learner never campaigns.
  c.member(2).node.campaign();
  run(c, 30);
  assert.equal(c.member(2).node.raft.role, RaftRole.Follower);
  // Quorum is still 1: commits proceed with the learner cut off.
  c.isolate(2);
  leader.node.propose(enc("solo"));
  c.stabilize();
  assert.deepEqual(leader.appliedData(), ["l", "solo"]);
  c.heal();
  leader.node.proposeConfChange(confChange(ConfChangeType.AddNode, 2n));
  run(c, 3);
  assert.deepEqual(leader.node.status().confState, { voters: [1n, 2n], learners: [] });
  assert.equal(leader.node.raft.tracker.quorum(), 2);
});

test("membership: a removed leader steps down and the rest elect a new one", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  leader.node.proposeConfChange(confChange(ConfChangeType.RemoveNode, 1n));
  c.stabilize();
  assert.notEqual(leader.node.raft.role, RaftRole.Leader);
  c.members.delete(1n);
  run(c, 40);
  const next = c.leader();
  assert.ok(next && next.id !== 1n);
  assert.deepEqual(next.node.status().confState.voters, [2n, 3n]);
});

test("leader transfer hands leadership to an up-to-date member", () => {
  const c = new Cluster(3, { checkQuorum: true, preVote: true });
  const leader = elect(c, 1);
  leader.node.propose(enc("before"));
  c.stabilize();
  leader.node.transferLeader(3n);
  c.stabilize();
  assert.equal(c.leader()?.id, 3n);
  c.member(3).node.propose(enc("after"));
  c.stabilize();
  assert.deepEqual(c.member(1).appliedData(), ["before", "after"]);
});

test("leader transfer to a lagging member first catches it up; proposals are dropped meanwhile", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  c.isolate(3);
  leader.node.propose(enc("x"));
  c.stabilize();
  leader.node.transferLeader(3n);
  assert.throws(() => leader.node.propose(enc("y")), ProposalDroppedError);
  c.heal();
  run(c, 2);
  assert.equal(c.leader()?.id, 3n);
});

test("ReadIndex on the leader and on a follower yields the commit index after a heartbeat quorum", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  leader.node.propose(enc("w"));
  c.stabilize();
  const commit = leader.node.status().hardState.commit;
  leader.node.readIndex(enc("r1"));
  c.stabilize();
  assert.deepEqual(leader.readStates.map((r) => [r.index, new TextDecoder().decode(r.requestCtx)]), [[commit, "r1"]]);
  c.member(2).node.readIndex(enc("r2"));
  c.stabilize();
  assert.deepEqual(c.member(2).readStates.map((r) => [r.index, new TextDecoder().decode(r.requestCtx)]), [[commit, "r2"]]);
});

test("ReadIndex is not answered by a leader cut off from its quorum", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  c.isolate(1);
  leader.node.readIndex(enc("r"));
  run(c, 3);
  assert.equal(leader.readStates.length, 0);
});

test("ConfChange encoding matches etcd's protobuf layout", () => {
  const cc = { id: 300n, type: ConfChangeType.AddLearnerNode, nodeId: 0xffff_ffff_ffff_ffffn, context: enc("ctx") };
  const bytes = encodeConfChange(cc);
  // 08 ac 02 | 10 03 | 18 ff ff ff ff ff ff ff ff ff 01 | 22 03 'c' 't' 'x'
  assert.deepEqual([...bytes.slice(0, 5)], [0x08, 0xac, 0x02, 0x10, 0x03]);
  assert.equal(bytes.length, 3 + 2 + 11 + 5);
  assert.deepEqual(decodeConfChange(bytes), cc);
});

test("restart re-delivers committed conf changes so membership is rebuilt", () => {
  const c = new Cluster(3);
  const leader = elect(c, 1);
  leader.node.proposeConfChange(confChange(ConfChangeType.AddLearnerNode, 4n));
  c.stabilize();
  const m = c.member(2);
  m.node = new (m.node.constructor as typeof import("../../src/raft/node.js").RawNode)(m.config());
  m.applied = [];
  // Before the first Ready the membership is only what the snapshot says (here: nothing).
  assert.deepEqual(m.node.status().confState, { voters: [], learners: [] });
  m.handleReady();
  assert.deepEqual(m.node.status().confState, { voters: [1n, 2n, 3n], learners: [4n] });
});

test("message size limit: appends carry at most maxSizePerMsgBytes of entries (but at least one)", () => {
  const c = new Cluster(3, { maxSizePerMsgBytes: 100 });
  const leader = elect(c, 1);
  c.isolate(2);
  c.isolate(3);
  for (let i = 0; i < 10; i++) leader.node.propose(new Uint8Array(30));
  leader.node.propose(new Uint8Array(500));
  c.stabilize();
  c.heal();
  let maxBytes = 0;
  let appends = 0;
  c.observer = (msg) => {
    if (msg.type !== MessageType.App || msg.entries.length === 0) return;
    appends++;
    const bytes = msg.entries.reduce((sum, e) => sum + e.data.byteLength + 16, 0);
    if (msg.entries.length > 1) maxBytes = Math.max(maxBytes, bytes);
  };
  run(c, 5);
  assert.ok(appends >= 4, `expected the backlog to be split, saw ${appends} appends`);
  assert.ok(maxBytes <= 100, `a multi-entry append carried ${maxBytes} bytes`);
  assert.equal(c.member(2).applied.length, leader.applied.length);
});

test("committed entries per Ready are bounded by maxCommittedSizePerReadyBytes", () => {
  const c = new Cluster(1);
  const m = c.member(1);
  m.node = new (m.node.constructor as typeof import("../../src/raft/node.js").RawNode)({
    ...m.config([1n]),
    limits: { maxSizePerMsgBytes: 1 << 20, maxInflightMsgs: 8, maxUncommittedEntriesSizeBytes: 0, maxCommittedSizePerReadyBytes: 200 },
  });
  c.stabilize();
  m.node.campaign();
  c.stabilize();
  for (let i = 0; i < 10; i++) m.node.propose(new Uint8Array(50));
  let readies = 0;
  while (m.node.hasReady()) {
    const out = m.handleReady()!;
    const bytes = out.ready.committedEntries.reduce((sum, e) => sum + e.data.byteLength + 16, 0);
    if (out.ready.committedEntries.length > 1) assert.ok(bytes <= 200, `${bytes} bytes in one Ready`);
    readies++;
  }
  assert.ok(readies >= 3);
  assert.equal(m.applied.filter((e) => e.data.byteLength === 50).length, 10);
});
