/**
 * The deterministic cluster simulator. One seed decides everything: cluster size and options,
 * message delays, losses, duplicates, partitions, crashes, disk faults and the client workload.
 * Time is simulated milliseconds; members tick every TICK_MS. Each member runs the Ready loop of
 * src/raft/node.ts against a SimDisk, and applies entries to a KvStore; clients' operations are
 * recorded with their call and return times for the linearizability checker.
 *
 * Phases: a fault phase (`faultTicks`), then healing (partitions healed, crashed members
 * restarted, no more loss or crashes) and a liveness probe that must commit within
 * `livenessBoundTicks`.
 */
import { RawNode, type RaftLimits, type Ready } from "../../src/raft/node.js";
import { MemoryStorage, emptySnapshot } from "../../src/raft/storage.js";
import { SeededRandom } from "../../src/raft/rand.js";
import { ProposalDroppedError } from "../../src/raft/errors.js";
import { decodeConfChange } from "../../src/raft/confchange.js";
import { ConfChangeType, EntryType, MessageType, RaftRole, type ConfChange, type Entry, type NodeId, type Snapshot } from "../../src/raft/types.js";
import { SafetyChecker, type LogView } from "./checkers.js";
import { SimDisk } from "./disk.js";
import { KvStore, decodeCommand, encodeCommand, type KvCommand } from "./kv.js";
import { checkLinearizability, type KvOperation } from "./linearizability.js";
import { SimNetwork } from "./network.js";
import type { Profile } from "./profiles.js";

export const TICK_MS = 10;

export interface SimOptions {
  /** Ticks of the fault phase. */
  faultTicks: number;
  /** Ticks allowed, after healing, for a new proposal to commit on every member. */
  livenessBoundTicks: number;
  /** Print a trace of notable events. */
  trace?: (line: string) => void;
}

export const DEFAULT_OPTIONS: SimOptions = { faultTicks: 1500, livenessBoundTicks: 400 };

export interface SimResult {
  seed: number;
  profile: string;
  members: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Heartbeat interval and limits of the run, for the failure report. */
  settings: string;
  violations: string[];
  /** Simulated ticks run (all phases). */
  ticks: number;
  /** Client operations completed / invoked. */
  opsCompleted: number;
  opsInvoked: number;
  crashes: number;
  membershipChanges: number;
  transfers: number;
  lostWrites: number;
  linearizabilityInconclusive: boolean;
  maxCommitIndex: number;
}

const ELECTION_TICKS = 10;
/** Per-run choices of heartbeat interval and flow-control limits, so every setting gets exercised. */
const HEARTBEAT_CHOICES = [1, 1, 2, 3];
const MAX_MSG_BYTES_CHOICES = [1, 256, 4096, 1 << 20];
const MAX_INFLIGHT_CHOICES = [1, 2, 16, 256];
const MAX_UNCOMMITTED_BYTES_CHOICES = [0, 512, 1 << 16];
const KEYS = ["a", "b", "c"];
const CLIENTS = 4;
/** A client gives up on an operation after this many ticks (its outcome becomes unknown). */
const OP_TIMEOUT_TICKS = 150;

/** One simulated member: Raft, its disk, its state machine, and the client requests it serves. */
class SimMember {
  node!: RawNode;
  storage!: MemoryStorage;
  kv!: KvStore;
  alive = true;
  /** Tick at which a crashed member restarts. */
  restartAt = 0;
  /** Simulated ms until which the member is paused (neither ticks nor handles messages). */
  pausedUntilMs = 0;
  /** Client operations proposed through this member, by op id. */
  pendingOps = new Map<number, KvOperation>();
  /** ReadIndex requests by context, then awaiting apply of `index`. */
  pendingReads = new Map<string, { op: KvOperation; index: number | undefined }>();
  appliedIndex = 0;

  constructor(readonly id: NodeId, readonly disk: SimDisk) {}
}

export class Simulation {
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly members = new Map<NodeId, SimMember>();
  readonly history: KvOperation[] = [];
  /** Current members (running or crashed); removed members leave this list. */
  private ids: NodeId[];
  /** Id the next added member gets. */
  private nextMemberId: number;
  /** Index of the latest conf change applied by any member, and its effects still to carry out. */
  private lastConfIndex = 1;
  private membershipEffects: ConfChange[] = [];
  private membershipChanges = 0;
  private transfers = 0;
  /** Op ids of the liveness probe's markers proposed after healing. */
  private readonly probeMarker = new Set<number>();
  /** Heartbeat interval and Raft limits chosen for this run. */
  readonly settings: { heartbeatTicks: number; limits: RaftLimits };
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private now = 0;
  private ticks = 0;
  private nextOpId = 1;
  /** Per client: the operation in progress and when it gives up. */
  private readonly clients: Array<{ op: KvOperation | undefined; opId: number; deadline: number; member: NodeId }> = [];
  private partitionEndsAt = -1;
  private crashes = 0;
  private faultsEnabled = true;
  private readonly violations: string[] = [];

  constructor(readonly seed: number, readonly profile: Profile, readonly options: SimOptions = DEFAULT_OPTIONS) {
    this.random = new SeededRandom(seed);
    const sizes = [3, 3, 3, 4, 5, 5, 6, 7];
    const n = sizes[this.random.intn(sizes.length)]!;
    this.preVote = this.random.chance(0.5);
    this.checkQuorum = this.random.chance(0.5);
    const pick = <T>(choices: readonly T[]): T => choices[this.random.intn(choices.length)]!;
    this.settings = {
      heartbeatTicks: pick(HEARTBEAT_CHOICES),
      limits: {
        maxSizePerMsgBytes: pick(MAX_MSG_BYTES_CHOICES),
        maxInflightMsgs: pick(MAX_INFLIGHT_CHOICES),
        maxUncommittedEntriesSizeBytes: pick(MAX_UNCOMMITTED_BYTES_CHOICES),
      },
    };
    this.ids = Array.from({ length: n }, (_, i) => BigInt(i + 1));
    this.nextMemberId = n + 1;
    this.network = new SimNetwork(
      { minDelayMs: profile.minDelayMs, maxDelayMs: profile.maxDelayMs, lossRate: profile.lossRate, duplicateRate: profile.duplicateRate },
      this.random.fork(),
    );
    // Every member starts from the same bootstrap snapshot: index 1, all voters, empty store.
    const bootstrap: Snapshot = {
      metadata: { index: 1, term: 1, confState: { voters: [...this.ids], learners: [] } },
      data: new KvStore().serialize(),
    };
    for (const id of this.ids) {
      const member = new SimMember(id, new SimDisk(bootstrap, profile.lyingDisk));
      this.members.set(id, member);
      this.start(member);
    }
    for (let c = 0; c < CLIENTS; c++) this.clients.push({ op: undefined, opId: 0, deadline: 0, member: 0n });
  }

  private trace(line: string): void {
    this.options.trace?.(`[t=${this.ticks}] ${line}`);
  }

  // ---- member lifecycle ----

  /** (Re)starts a member from its disk. */
  private start(member: SimMember): void {
    const disk = member.disk;
    const storage = new MemoryStorage();
    if (disk.snapshot.metadata.index > 0) storage.applySnapshot(disk.snapshot);
    storage.append(disk.entries);
    const snapIndex = disk.snapshot.metadata.index;
    // A lying disk can leave a commit index past the log it kept; clamp so the member can run
    // and the checkers can see the consequences.
    const commit = Math.min(Math.max(disk.hardState.commit, snapIndex), storage.lastIndex());
    storage.setHardState({ ...disk.hardState, commit });
    member.storage = storage;
    member.kv = KvStore.deserialize(disk.snapshot.data);
    member.appliedIndex = snapIndex;
    member.pendingOps.clear();
    member.pendingReads.clear();
    member.node = new RawNode({
      id: member.id,
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: this.settings.heartbeatTicks,
      storage,
      random: this.random.fork(),
      applied: snapIndex,
      limits: this.settings.limits,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
    });
    member.alive = true;
  }

  private crash(member: SimMember): void {
    member.alive = false;
    member.pausedUntilMs = 0;
    member.disk.crash(this.random, this.profile.maxLostWrites);
    member.restartAt = this.ticks + 10 + this.random.intn(150);
    this.crashes++;
    this.trace(`crash ${member.id}`);
  }

  /** Runs `fn` on a member; a thrown assertion is a Raft panic: reported, and the member is stopped. */
  private guard(member: SimMember, what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (error instanceof ProposalDroppedError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      this.violation(`panic: member ${member.id} during ${what}: ${message}`);
      member.alive = false;
      member.restartAt = Number.MAX_SAFE_INTEGER;
    }
  }

  private violation(message: string): void {
    if (this.violations.length < 20) this.violations.push(`${message} (t=${this.ticks})`);
  }

  // ---- the Ready loop ----

  private handleReady(member: SimMember): void {
    for (let guardRounds = 0; member.alive && member.node.hasReady() && guardRounds < 100; guardRounds++) {
      const rd = member.node.ready();
      this.handleOneReady(member, rd);
    }
  }

  private handleOneReady(member: SimMember, rd: Ready): void {
    const raft = member.node.raft;
    if (rd.softState?.role === RaftRole.Leader) {
      this.trace(`${member.id} leader of term ${raft.term}`);
      this.checker.observeLeader(raft.term, member.id, logView(member), this.ticks);
    }
    // 1. Persist.
    member.disk.write(rd.snapshot, rd.entries, rd.hardState, rd.mustSync);
    if (rd.snapshot) member.storage.applySnapshot(rd.snapshot);
    member.storage.append(rd.entries);
    if (rd.hardState) member.storage.setHardState(rd.hardState);
    // 2. Send.
    for (const m of rd.messages) {
      const queued = this.network.send(m, this.now);
      if (!queued && m.type === MessageType.Snap) member.node.reportSnapshot(m.to, false);
      if (!queued) continue;
    }
    // 3. Apply.
    if (rd.snapshot) {
      member.kv = KvStore.deserialize(rd.snapshot.data);
      member.appliedIndex = rd.snapshot.metadata.index;
    }
    for (const entry of rd.committedEntries) this.apply(member, entry);
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.requestCtx);
      const read = member.pendingReads.get(key);
      if (read) read.index = rs.index;
    }
    member.node.advance(rd);
    this.serveReads(member);
    this.maybeCompact(member);
  }

  private apply(member: SimMember, entry: Entry): void {
    this.checker.observeApply(member.id, entry, member.node.raft.term, this.ticks);
    if (entry.index !== member.appliedIndex + 1) {
      this.violation(`apply-order: member ${member.id} applied ${entry.index} after ${member.appliedIndex}`);
    }
    member.appliedIndex = entry.index;
    if (entry.type === EntryType.ConfChange) {
      const cc = decodeConfChange(entry.data);
      member.node.applyConfChange(cc);
      if (entry.index > this.lastConfIndex) {
        this.lastConfIndex = entry.index;
        this.membershipEffects.push(cc);
      }
      return;
    }
    if (entry.data.byteLength === 0) return;
    const cmd = decodeCommand(entry.data);
    const result = member.kv.apply(cmd);
    const op = member.pendingOps.get(cmd.op);
    if (op === undefined || result === undefined) return;
    member.pendingOps.delete(cmd.op);
    op.return = this.now;
    op.output = result.kind === "get" ? result.value : result.kind === "cas" ? result.ok : undefined;
    this.finishClientOp(op);
  }

  private serveReads(member: SimMember): void {
    for (const [key, read] of member.pendingReads) {
      if (read.index === undefined || read.index > member.appliedIndex) continue;
      member.pendingReads.delete(key);
      read.op.return = this.now;
      read.op.output = member.kv.read(read.op.key);
      this.finishClientOp(read.op);
    }
  }

  private maybeCompact(member: SimMember): void {
    const applied = member.appliedIndex;
    const first = member.storage.firstIndex();
    if (applied - first < this.profile.compactThreshold) return;
    const snapshot = member.storage.createSnapshot(applied, member.node.status().confState, member.kv.serialize());
    member.disk.saveSnapshot(snapshot);
    // Keep a short tail so slightly lagging followers catch up from the log.
    const keep = this.random.intn(Math.max(1, Math.floor(this.profile.compactThreshold / 2)));
    member.storage.compact(Math.max(applied - keep, member.storage.firstIndex()));
  }

  // ---- clients ----

  private finishClientOp(op: KvOperation): void {
    const client = this.clients[op.clientId];
    if (client?.op === op) client.op = undefined;
  }

  private runClients(): void {
    for (let c = 0; c < this.clients.length; c++) {
      const client = this.clients[c]!;
      if (client.op !== undefined) {
        if (this.ticks >= client.deadline) {
          // Give up: the outcome stays unknown (return = Infinity).
          const member = this.members.get(client.member);
          member?.pendingOps.delete(client.opId);
          member?.pendingReads.delete(String(client.opId));
          client.op = undefined;
        }
        continue;
      }
      if (!this.random.chance(0.3)) continue;
      this.startClientOp(c);
    }
  }

  private startClientOp(clientId: number): void {
    const alive = this.ids.filter((id) => this.members.get(id)!.alive);
    if (alive.length === 0) return;
    const target = this.members.get(alive[this.random.intn(alive.length)]!)!;
    const opId = this.nextOpId++;
    const key = KEYS[this.random.intn(KEYS.length)]!;
    const roll = this.random.intn(10);
    const value = `v${opId}`;
    const op: KvOperation = { clientId, key, kind: "put", call: this.now, return: Infinity };
    let viaReadIndex = false;
    if (roll < 4) {
      op.kind = "put";
      op.value = value;
    } else if (roll < 7) {
      op.kind = "get";
      viaReadIndex = this.random.chance(0.5);
    } else {
      op.kind = "cas";
      op.value = value;
      // Expect the value the client last saw for this key, or a recent write: often right, sometimes stale.
      const seen = [...this.history].reverse().find((h) => h.key === key && h.kind === "put");
      op.expected = seen?.value;
    }
    const cmd: KvCommand = { op: opId, kind: op.kind, key, value: op.value, expected: op.expected };
    try {
      if (viaReadIndex) {
        target.pendingReads.set(String(opId), { op, index: undefined });
        this.guard(target, "readIndex", () => target.node.readIndex(new TextEncoder().encode(String(opId))));
      } else {
        target.pendingOps.set(opId, op);
        this.guard(target, "propose", () => target.node.propose(encodeCommand(cmd)));
      }
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      // Definitely not executed: leave it out of the history.
      target.pendingOps.delete(opId);
      return;
    }
    this.history.push(op);
    const client = this.clients[clientId]!;
    client.op = op;
    client.opId = opId;
    client.deadline = this.ticks + OP_TIMEOUT_TICKS;
    client.member = target.id;
    this.handleReady(target);
  }

  // ---- faults ----

  private injectFaults(): void {
    const p = this.profile;
    if (this.network.isCut() && this.ticks >= this.partitionEndsAt) {
      this.network.heal();
      this.trace("heal");
    }
    if (!this.network.isCut() && this.random.chance(p.partitionRate)) this.startPartition();
    if (this.random.chance(p.pauseRate)) {
      const running = this.ids.filter((id) => this.members.get(id)!.alive && this.members.get(id)!.pausedUntilMs <= this.now);
      if (running.length > 0) {
        const member = this.members.get(running[this.random.intn(running.length)]!)!;
        member.pausedUntilMs = this.now + TICK_MS * (5 + this.random.intn(4 * ELECTION_TICKS));
        this.trace(`pause ${member.id} until t=${member.pausedUntilMs / TICK_MS}`);
      }
    }
    if (this.random.chance(p.crashRate)) {
      const alive = this.ids.filter((id) => this.members.get(id)!.alive);
      if (alive.length > 0) this.crash(this.members.get(alive[this.random.intn(alive.length)]!)!);
    }
  }

  private startPartition(): void {
    const shuffled = this.ids.map((id) => ({ id, r: this.random.float() })).sort((a, b) => a.r - b.r).map((x) => x.id);
    const kind = this.random.intn(3);
    if (kind === 0) {
      const cut = 1 + this.random.intn(shuffled.length - 1);
      this.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (kind === 1) {
      this.network.partition([[shuffled[0]!], shuffled.slice(1)]);
    } else {
      // Asymmetric: some directed links drop, their reverse still works.
      const links = 1 + this.random.intn(shuffled.length);
      for (let i = 0; i < links; i++) {
        const a = this.ids[this.random.intn(this.ids.length)]!;
        const b = this.ids[this.random.intn(this.ids.length)]!;
        if (a !== b) this.network.cutLink(a, b);
      }
    }
    this.partitionEndsAt = this.ticks + 20 + this.random.intn(300);
    this.trace(`partition ${this.network.describeCut()}`);
  }

  private restartDue(): void {
    for (const member of this.members.values()) {
      if (!member.alive && this.ticks >= member.restartAt) {
        this.guard(member, "restart", () => this.start(member));
        this.trace(`restart ${member.id}`);
      }
    }
  }

  // ---- membership ----

  /** Proposes a random single-step membership change through the leader. */
  private maybeChangeMembership(): void {
    if (!this.random.chance(this.profile.membershipRate)) return;
    const leader = [...this.members.values()].find((m) => m.alive && m.node.raft.role === RaftRole.Leader);
    if (!leader) return;
    const { voters, learners } = leader.node.status().confState;
    let type: ConfChangeType;
    let nodeId: NodeId;
    const roll = this.random.intn(3);
    if (learners.length > 0 && roll === 0) {
      type = ConfChangeType.AddNode;
      nodeId = learners[this.random.intn(learners.length)]!;
    } else if (voters.length > 3 && (roll === 1 || voters.length + learners.length >= 7)) {
      type = ConfChangeType.RemoveNode;
      nodeId = voters[this.random.intn(voters.length)]!;
    } else if (voters.length + learners.length < 7) {
      type = this.random.chance(0.5) ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
      nodeId = BigInt(this.nextMemberId++);
    } else {
      return;
    }
    try {
      leader.node.proposeConfChange({ id: BigInt(this.nextOpId++), type, nodeId, context: new Uint8Array(0) });
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      return;
    }
    this.trace(`propose ${ConfChangeType[type]} ${nodeId} via ${leader.id}`);
    this.guard(leader, "ready", () => this.handleReady(leader));
  }

  /** Asks the leader to hand leadership to a random voter (a `move-leader`). */
  private maybeTransferLeadership(): void {
    if (!this.random.chance(this.profile.transferRate)) return;
    const leader = [...this.members.values()].find((m) => m.alive && m.node.raft.role === RaftRole.Leader);
    if (!leader) return;
    const voters = leader.node.status().confState.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = voters[this.random.intn(voters.length)]!;
    this.trace(`transfer leadership ${leader.id} -> ${target}`);
    this.transfers++;
    this.guard(leader, "transferLeader", () => {
      leader.node.transferLeader(target);
      this.handleReady(leader);
    });
  }

  /** Carries out committed membership changes: new members start empty, removed ones stop. */
  private applyMembershipEffects(): void {
    const effects = this.membershipEffects;
    this.membershipEffects = [];
    for (const cc of effects) {
      const id = cc.nodeId;
      if (cc.type === ConfChangeType.AddNode || cc.type === ConfChangeType.AddLearnerNode) {
        if (this.members.has(id)) continue;
        const member = new SimMember(id, new SimDisk(emptySnapshot(), this.profile.lyingDisk));
        this.members.set(id, member);
        this.ids.push(id);
        this.start(member);
        this.membershipChanges++;
        this.trace(`member ${id} joins`);
      } else if (cc.type === ConfChangeType.RemoveNode) {
        const member = this.members.get(id);
        if (!member || !this.ids.includes(id)) continue;
        member.alive = false;
        member.restartAt = Number.MAX_SAFE_INTEGER;
        this.ids = this.ids.filter((x) => x !== id);
        this.membershipChanges++;
        this.trace(`member ${id} removed`);
      }
    }
  }

  // ---- main loop ----

  private deliver(): void {
    const { delivered, dropped } = this.network.due(this.now);
    for (const m of dropped) {
      // The sender's transport notices a cut link: it reports the peer unreachable (and a failed snapshot).
      const sender = this.members.get(m.from);
      if (!sender?.alive) continue;
      this.guard(sender, "report", () => {
        sender.node.reportUnreachable(m.to);
        if (m.type === MessageType.Snap) sender.node.reportSnapshot(m.to, false);
        this.handleReady(sender);
      });
    }
    for (const m of delivered) {
      const target = this.members.get(m.to);
      const sender = this.members.get(m.from);
      if (target && target.alive && target.pausedUntilMs > this.now) {
        // The paused process reads its socket when it resumes.
        this.network.deliverAt(m, target.pausedUntilMs);
        continue;
      }
      if (!target || !target.alive) {
        if (m.type === MessageType.Snap && sender?.alive) sender.node.reportSnapshot(m.to, false);
        continue;
      }
      this.guard(target, `step ${MessageType[m.type]}`, () => target.node.step(m));
      if (m.type === MessageType.Snap && sender?.alive) {
        this.guard(sender, "reportSnapshot", () => {
          sender.node.reportSnapshot(m.to, true);
          this.handleReady(sender);
        });
      }
      this.guard(target, "ready", () => this.handleReady(target));
    }
  }

  private tickAll(): void {
    for (const member of this.members.values()) {
      if (!member.alive || member.pausedUntilMs > this.now) continue;
      this.guard(member, "tick", () => {
        member.node.tick();
        this.handleReady(member);
      });
    }
  }

  /** Advances simulated time by one tick (TICK_MS milliseconds). */
  private stepTick(): void {
    for (let ms = 0; ms < TICK_MS; ms++) {
      this.now++;
      this.deliver();
    }
    this.ticks++;
    this.tickAll();
  }

  run(): SimResult {
    const { faultTicks, livenessBoundTicks } = this.options;
    for (let t = 0; t < faultTicks; t++) {
      if (this.faultsEnabled) {
        this.injectFaults();
        this.maybeChangeMembership();
        this.maybeTransferLeadership();
      }
      this.applyMembershipEffects();
      this.restartDue();
      this.runClients();
      this.stepTick();
      if (t % 100 === 99) this.checkLogs();
    }
    this.healAll();
    // Let pending client operations settle before the probe.
    const probeDeadline = this.ticks + livenessBoundTicks;
    let live = false;
    while (this.ticks < probeDeadline) {
      this.applyMembershipEffects();
      this.stepTick();
      if (this.runProbe()) {
        live = true;
        break;
      }
    }
    if (!live) this.violation(`liveness: no commit on every member within ${livenessBoundTicks} ticks after healing; ${this.describeMembers()}`);
    this.checkLogs();
    const lin = checkLinearizability(this.history);
    if (!lin.ok) this.violation(`linearizability: history of key ${lin.badKey} is not linearizable`);
    let maxCommit = 0;
    for (const m of this.members.values()) maxCommit = Math.max(maxCommit, m.node.raft.raftLog.committed);
    return {
      seed: this.seed,
      profile: this.profile.name,
      members: this.ids.length,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      settings: `heartbeat=${this.settings.heartbeatTicks} maxMsgBytes=${this.settings.limits.maxSizePerMsgBytes} inflight=${this.settings.limits.maxInflightMsgs} maxUncommittedBytes=${this.settings.limits.maxUncommittedEntriesSizeBytes}`,
      violations: [...this.checker.violations.map((v) => `${v}`), ...this.violations],
      ticks: this.ticks,
      opsInvoked: this.history.length,
      opsCompleted: this.history.filter((o) => o.return !== Infinity).length,
      crashes: this.crashes,
      membershipChanges: this.membershipChanges,
      transfers: this.transfers,
      lostWrites: [...this.members.values()].reduce((sum, m) => sum + m.disk.lostWrites, 0),
      linearizabilityInconclusive: lin.inconclusive,
      maxCommitIndex: maxCommit,
    };
  }

  private describeMembers(): string {
    const parts: string[] = [];
    for (const m of this.members.values()) {
      if (!this.ids.includes(m.id)) continue;
      const r = m.node.raft;
      let line = `${m.id}${m.alive ? "" : "(down)"} ${RaftRole[r.role]} term=${r.term} lead=${r.lead} commit=${r.raftLog.committed} applied=${m.appliedIndex} last=${r.raftLog.lastIndex()} first=${r.raftLog.firstIndex()}`;
      const progress = m.node.status().progress;
      if (progress) line += ` progress{${[...progress].map(([id, p]) => `${id}:${p.state}/${p.match}/${p.next}${p.recentActive ? "" : "i"}`).join(" ")}}`;
      parts.push(line);
    }
    return parts.join("; ");
  }

  private healAll(): void {
    this.faultsEnabled = false;
    this.network.heal();
    this.network.config = { ...this.network.config, lossRate: 0, duplicateRate: 0 };
    for (const member of this.members.values()) member.pausedUntilMs = Math.min(member.pausedUntilMs, this.now + 1);
    for (const member of this.members.values()) {
      if (!member.alive && member.restartAt !== Number.MAX_SAFE_INTEGER) {
        this.guard(member, "restart", () => this.start(member));
      }
    }
    this.trace("healed");
  }

  /**
   * Liveness probe: propose a marker on the leader (re-proposing if leadership moves) and report
   * whether every running member has applied some marker.
   */
  private runProbe(): boolean {
    const running = [...this.members.values()].filter((m) => m.alive);
    if (running.length === 0) return false;
    const leader = running.find((m) => m.node.raft.role === RaftRole.Leader);
    if (leader && this.ticks % ELECTION_TICKS === 0) {
      const opId = this.nextOpId++;
      try {
        this.guard(leader, "propose", () => {
          leader.node.propose(encodeCommand({ op: opId, kind: "put", key: "__probe", value: String(opId) }));
          this.probeMarker.add(opId);
          this.handleReady(leader);
        });
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
      }
    }
    if (this.probeMarker.size === 0) return false;
    return running.every((m) => {
      const v = m.kv.read("__probe");
      return v !== null && this.probeMarker.has(Number(v));
    });
  }

  private checkLogs(): void {
    const logs = new Map<NodeId, LogView>();
    for (const m of this.members.values()) if (m.alive) logs.set(m.id, logView(m));
    this.checker.checkLogMatching(logs, this.ticks);
  }
}

function logView(member: SimMember): LogView {
  const log = member.node.raft.raftLog;
  return {
    firstIndex: () => log.firstIndex(),
    lastIndex: () => log.lastIndex(),
    term: (i) => log.term(i),
    slice: (lo, hi) => (lo >= hi ? [] : log.slice(lo, hi, Number.MAX_SAFE_INTEGER)),
  };
}

/** Runs one seed under one profile. */
export function runSeed(seed: number, profile: Profile, options: SimOptions = DEFAULT_OPTIONS): SimResult {
  return new Simulation(seed, profile, options).run();
}
