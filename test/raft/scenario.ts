/**
 * Interpreter for the data-driven Raft scenarios in test/raft/testdata/*.txt.
 *
 * A file is a sequence of blocks separated by blank lines. Each block is one command line, a line
 * `----`, and the expected output (no blank lines). `#` lines between blocks are comments. With
 * REWRITE=1 the files are rewritten with the actual output, to be reviewed as a diff.
 *
 * Commands (node ids are small integers; `(1,2)` is a list):
 *   add-nodes N [voters=(..)] [learners=(..)] [index=I] [pre-vote=B] [check-quorum=B]
 *             [election=T] [heartbeat=T] [inflight=N] [max-msg-bytes=N] [max-uncommitted-bytes=N]
 *             [empty=true]        add N members; bootstrap from a snapshot at index I (default 1)
 *                                 holding the given membership, or with empty storage if empty=true
 *   set-log ID terms=(..) [term=T] [vote=V]   replace ID's log after the bootstrap index with
 *                                 entries of these terms and restart it (for paper figures)
 *   campaign ID | propose ID DATA | read-index ID CTX | transfer-leader ID TO
 *   propose-conf-change ID add=N|remove=N|add-learner=N
 *   tick ID [COUNT] | tick-all [COUNT]       tick without processing readies
 *   run-ticks N                   N rounds of tick-all + stabilize; prints only the final state
 *   process-ready ID...           handle one Ready of each member (persist, queue messages, apply)
 *   deliver-msgs [ID...] [drop=true]  deliver (or drop) queued messages to the given members
 *   stabilize [ID...]             process readies and deliver messages until quiet
 *   partition (..) (..)... | isolate ID | heal   cut links between groups
 *   compact ID INDEX              snapshot the applied state at INDEX and compact the log
 *   restart ID                    crash (lose unpersisted state) and restart from storage
 *   raft-log ID | raft-state | status ID
 */
import { readFileSync, writeFileSync } from "node:fs";
import { RawNode, type RawNodeConfig } from "../../src/raft/node.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { SeededRandom } from "../../src/raft/rand.js";
import { decodeConfChange } from "../../src/raft/confchange.js";
import { ProposalDroppedError } from "../../src/raft/errors.js";
import { ProgressState } from "../../src/raft/progress.js";
import { ConfChangeType, EntryType, MessageType, RaftRole, type Entry, type Message, type NodeId } from "../../src/raft/types.js";
import type { Ready } from "../../src/raft/node.js";

interface Block {
  command: string;
  expected: string;
  /** Comment lines before the block, kept on rewrite. */
  comments: string[];
}

export function parseScenario(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  let i = 0;
  let comments: string[] = [];
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "") {
      i++;
      continue;
    }
    if (line.startsWith("#")) {
      comments.push(line);
      i++;
      continue;
    }
    const command = line;
    i++;
    if (lines[i] !== "----") throw new Error(`line ${i + 1}: expected ---- after "${command}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!);
    blocks.push({ command, expected: out.join("\n"), comments });
    comments = [];
  }
  return blocks;
}

export function formatScenario(blocks: Array<Block & { actual: string }>): string {
  return blocks.map((b) => [...b.comments, b.command, "----", b.actual].join("\n")).join("\n\n") + "\n";
}

/** Runs a scenario file; returns the blocks with actual output. Rewrites the file when REWRITE=1. */
export function runScenarioFile(path: string): Array<Block & { actual: string }> {
  const blocks = parseScenario(readFileSync(path, "utf8"));
  const env = new ScenarioEnv();
  const results = blocks.map((b) => ({ ...b, actual: env.run(b.command) }));
  if (process.env.REWRITE === "1") writeFileSync(path, formatScenario(results));
  return results;
}

interface NodeOptions {
  preVote: boolean;
  checkQuorum: boolean;
  electionTicks: number;
  heartbeatTicks: number;
  inflight: number;
  maxMsgBytes: number;
  maxUncommittedBytes: number;
}

class ScenarioMember {
  node: RawNode;
  /** Data of applied normal entries, standing in for a state machine. */
  appliedData: string[] = [];

  constructor(readonly id: NodeId, public storage: MemoryStorage, readonly options: NodeOptions, readonly seed: number) {
    this.node = new RawNode(this.config());
  }

  config(): RawNodeConfig {
    const o = this.options;
    return {
      id: this.id,
      electionTicks: o.electionTicks,
      heartbeatTicks: o.heartbeatTicks,
      storage: this.storage,
      random: new SeededRandom(this.seed),
      limits: { maxSizePerMsgBytes: o.maxMsgBytes, maxInflightMsgs: o.inflight, maxUncommittedEntriesSizeBytes: o.maxUncommittedBytes },
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
    };
  }
}

const decoder = new TextDecoder();

export class ScenarioEnv {
  private readonly members = new Map<NodeId, ScenarioMember>();
  /** Queued messages, in send order. */
  private queue: Message[] = [];
  /** Group number of each member under the current partition; members absent are reachable. */
  private groups = new Map<NodeId, number>();
  private out: string[] = [];

  run(command: string): string {
    this.out = [];
    const [name, ...rest] = tokenize(command);
    const args = rest.filter((a) => !a.includes("="));
    const kv = new Map(rest.filter((a) => a.includes("=")).map((a) => a.split("=", 2) as [string, string]));
    try {
      this.dispatch(name ?? "", args, kv);
    } catch (error) {
      if (error instanceof ProposalDroppedError) this.print(`error: ${error.message}`);
      else throw error;
    }
    return this.out.join("\n") || "ok";
  }

  private dispatch(name: string, args: string[], kv: Map<string, string>): void {
    const id = (i = 0): NodeId => BigInt(args[i] ?? "0");
    switch (name) {
      case "add-nodes":
        return this.addNodes(Number(args[0]), kv);
      case "set-log":
        return this.setLog(id(), kv);
      case "campaign":
        return this.member(id()).node.campaign();
      case "propose":
        return this.member(id()).node.propose(new TextEncoder().encode(args[1] ?? ""));
      case "propose-conf-change":
        return this.proposeConfChange(id(), kv);
      case "read-index":
        return this.member(id()).node.readIndex(new TextEncoder().encode(args[1] ?? ""));
      case "transfer-leader":
        return this.member(id()).node.transferLeader(id(1));
      case "tick":
        for (let i = 0; i < Number(args[1] ?? 1); i++) this.member(id()).node.tick();
        return;
      case "tick-all":
        for (let i = 0; i < Number(args[0] ?? 1); i++) for (const m of this.members.values()) m.node.tick();
        return;
      case "run-ticks": {
        // N rounds of tick-all + stabilize, printing only the final state.
        const saved = this.out;
        this.out = [];
        for (let i = 0; i < Number(args[0] ?? 1); i++) {
          for (const m of this.members.values()) m.node.tick();
          this.stabilize([...this.members.keys()]);
        }
        this.out = saved;
        return this.printState();
      }
      case "process-ready":
        for (const a of args) this.processReady(this.member(BigInt(a)));
        return;
      case "deliver-msgs":
        this.deliver(args.length ? args.map(BigInt) : [...this.members.keys()], kv.get("drop") === "true");
        return;
      case "stabilize":
        return this.stabilize(args.length ? args.map(BigInt) : [...this.members.keys()]);
      case "partition":
        this.groups.clear();
        args.forEach((group, g) => {
          for (const n of parseList(group)) this.groups.set(n, g);
        });
        return;
      case "isolate":
        this.groups.clear();
        for (const m of this.members.keys()) this.groups.set(m, m === id() ? 1 : 0);
        return;
      case "heal":
        this.groups.clear();
        return;
      case "compact":
        return this.compact(id(), Number(args[1]));
      case "restart":
        return this.restart(id());
      case "raft-log":
        return this.printLog(id());
      case "raft-state":
        return this.printState();
      case "status":
        return this.printStatus(id());
      default:
        throw new Error(`unknown command ${name}`);
    }
  }

  private member(id: NodeId): ScenarioMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  private print(line: string): void {
    this.out.push(line);
  }

  private addNodes(count: number, kv: Map<string, string>): void {
    const first = this.members.size + 1;
    const ids = Array.from({ length: count }, (_, i) => BigInt(first + i));
    const voters = kv.has("voters") ? parseList(kv.get("voters")!) : ids;
    const learners = kv.has("learners") ? parseList(kv.get("learners")!) : [];
    const index = Number(kv.get("index") ?? 1);
    const options: NodeOptions = {
      preVote: kv.get("pre-vote") === "true",
      checkQuorum: kv.get("check-quorum") === "true",
      electionTicks: Number(kv.get("election") ?? 10),
      heartbeatTicks: Number(kv.get("heartbeat") ?? 1),
      inflight: Number(kv.get("inflight") ?? 256),
      maxMsgBytes: Number(kv.get("max-msg-bytes") ?? 1 << 20),
      maxUncommittedBytes: Number(kv.get("max-uncommitted-bytes") ?? 0),
    };
    for (const id of ids) {
      const storage = new MemoryStorage();
      if (kv.get("empty") !== "true") {
        storage.applySnapshot({ metadata: { index, term: 1, confState: { voters, learners } }, data: new Uint8Array(0) });
      }
      const m = new ScenarioMember(id, storage, options, Number(id));
      this.members.set(id, m);
      const s = m.node.status();
      this.print(`${id}: voters=${fmtIds(s.confState.voters)} learners=${fmtIds(s.confState.learners)} term=${s.hardState.term} commit=${s.hardState.commit} last=${m.node.raft.raftLog.lastIndex()}`);
    }
  }

  private setLog(id: NodeId, kv: Map<string, string>): void {
    const m = this.member(id);
    const snap = m.storage.snapshot();
    const first = snap.metadata.index + 1;
    const storage = new MemoryStorage();
    storage.applySnapshot(snap);
    const terms = parseList(kv.get("terms") ?? "()").map(Number);
    storage.append(terms.map((term, i) => ({ term, index: first + i, type: EntryType.Normal, data: new TextEncoder().encode(`t${term}`) })));
    const term = Number(kv.get("term") ?? Math.max(1, ...terms));
    storage.setHardState({ term, vote: BigInt(kv.get("vote") ?? 0), commit: snap.metadata.index });
    m.storage = storage;
    m.node = new RawNode(m.config());
    m.appliedData = [];
    this.queue = this.queue.filter((msg) => msg.from !== id && msg.to !== id);
    this.printLog(id);
  }

  private proposeConfChange(id: NodeId, kv: Map<string, string>): void {
    let type = ConfChangeType.AddNode;
    let target = "0";
    if (kv.has("add")) target = kv.get("add")!;
    else if (kv.has("remove")) (type = ConfChangeType.RemoveNode), (target = kv.get("remove")!);
    else if (kv.has("add-learner")) (type = ConfChangeType.AddLearnerNode), (target = kv.get("add-learner")!);
    this.member(id).node.proposeConfChange({ id: 0n, type, nodeId: BigInt(target), context: new Uint8Array(0) });
  }

  /** Handles one Ready in the documented order; returns false if there was none. */
  private processReady(m: ScenarioMember): boolean {
    if (!m.node.hasReady()) return false;
    const rd = m.node.ready();
    this.print(`> ${m.id} handling Ready`);
    for (const line of formatReady(rd)) this.print(`  ${line}`);
    if (rd.snapshot) {
      m.storage.applySnapshot(rd.snapshot);
      m.appliedData = decoder.decode(rd.snapshot.data).split(",").filter((s) => s.length > 0);
    }
    m.storage.append(rd.entries);
    if (rd.hardState) m.storage.setHardState(rd.hardState);
    this.queue.push(...rd.messages);
    for (const entry of rd.committedEntries) {
      if (entry.type === EntryType.ConfChange) {
        const cs = m.node.applyConfChange(decodeConfChange(entry.data));
        this.print(`  ${m.id} applied conf change: voters=${fmtIds(cs.voters)} learners=${fmtIds(cs.learners)}`);
      } else if (entry.data.byteLength > 0) {
        m.appliedData.push(decoder.decode(entry.data));
      }
    }
    m.node.advance(rd);
    return true;
  }

  private reachable(from: NodeId, to: NodeId): boolean {
    const a = this.groups.get(from);
    const b = this.groups.get(to);
    return a === undefined || b === undefined || a === b;
  }

  /** Delivers queued messages addressed to `targets`; returns whether any were delivered or dropped. */
  private deliver(targets: NodeId[], drop: boolean): boolean {
    const keep: Message[] = [];
    const byTarget = new Map<NodeId, Message[]>();
    for (const msg of this.queue) {
      if (!targets.includes(msg.to)) keep.push(msg);
      else byTarget.set(msg.to, [...(byTarget.get(msg.to) ?? []), msg]);
    }
    this.queue = keep;
    let any = false;
    for (const target of [...targets].sort((a, b) => Number(a - b))) {
      const msgs = byTarget.get(target);
      if (!msgs) continue;
      any = true;
      const m = this.members.get(target);
      this.print(drop || !m ? `> ${target} dropping messages` : `> ${target} receiving messages`);
      for (const msg of msgs) {
        const cut = !this.reachable(msg.from, msg.to);
        this.print(`  ${formatMessage(msg)}${cut ? " (partitioned)" : ""}`);
        if (drop || cut || !m) {
          if (msg.type === MessageType.Snap) this.members.get(msg.from)?.node.reportSnapshot(msg.to, false);
          continue;
        }
        const role = m.node.raft.role;
        try {
          m.node.step(msg);
        } catch (error) {
          if (!(error instanceof ProposalDroppedError)) throw error;
          this.print(`  error: ${error.message}`);
        }
        if (msg.type === MessageType.Snap) this.members.get(msg.from)?.node.reportSnapshot(msg.to, true);
        if (m.node.raft.role !== role) this.print(`  ${target} became ${RaftRole[m.node.raft.role]} at term ${m.node.raft.term}`);
      }
    }
    return any;
  }

  private stabilize(ids: NodeId[]): void {
    for (let round = 0; round < 1000; round++) {
      let any = false;
      for (const id of ids) any = this.processReady(this.member(id)) || any;
      any = this.deliver(ids, false) || any;
      if (!any) return;
    }
    throw new Error("stabilize did not converge");
  }

  private compact(id: NodeId, index: number): void {
    const m = this.member(id);
    const confState = m.node.status().confState;
    const data = new TextEncoder().encode(m.appliedData.join(","));
    m.storage.createSnapshot(index, confState, data);
    m.storage.compact(index);
    this.printLog(id);
  }

  private restart(id: NodeId): void {
    const m = this.member(id);
    this.queue = this.queue.filter((msg) => msg.from !== id && msg.to !== id);
    m.node = new RawNode(m.config());
    const snapData = decoder.decode(m.storage.snapshot().data);
    m.appliedData = snapData.split(",").filter((s) => s.length > 0);
    this.printState();
  }

  private printLog(id: NodeId): void {
    const log = this.member(id).node.raft.raftLog;
    const first = log.firstIndex();
    const last = log.lastIndex();
    if (first > 1) this.print(`snapshot at ${first - 1}/${log.term(first - 1)}`);
    if (last < first) {
      this.print("log is empty");
      return;
    }
    for (const entry of log.slice(first, last + 1, Number.MAX_SAFE_INTEGER)) this.print(formatEntry(entry));
    this.print(`committed=${log.committed} applied=${log.applied}`);
  }

  private printState(): void {
    for (const m of this.members.values()) {
      const r = m.node.raft;
      this.print(`${m.id}: ${RaftRole[r.role]} term=${r.term} vote=${r.vote} lead=${r.lead} commit=${r.raftLog.committed} last=${r.raftLog.lastIndex()} applied=[${m.appliedData.join(" ")}]`);
    }
  }

  private printStatus(id: NodeId): void {
    const s = this.member(id).node.status();
    this.print(`${id}: ${RaftRole[s.softState.role]} term=${s.hardState.term} lead=${s.softState.lead} commit=${s.hardState.commit} applied=${s.applied} transferee=${s.leadTransferee}`);
    for (const [peer, pr] of [...(s.progress ?? new Map())].sort((a, b) => Number(a[0] - b[0]))) {
      this.print(`  ${peer}: ${ProgressState[pr.state]} match=${pr.match} next=${pr.next}${pr.isLearner ? " learner" : ""} inflight=${pr.inflight}`);
    }
  }
}

function tokenize(line: string): string[] {
  // Lists like (1, 2) may contain spaces: join them back.
  return line.replace(/\(\s*([^)]*)\)/g, (_, inner: string) => `(${inner.replace(/\s+/g, "")})`).trim().split(/\s+/);
}

function parseList(text: string): NodeId[] {
  const inner = text.replace(/[()]/g, "").trim();
  return inner === "" ? [] : inner.split(",").map((s) => BigInt(s));
}

function fmtIds(ids: NodeId[]): string {
  return `(${ids.join(",")})`;
}

export function formatEntry(entry: Entry): string {
  if (entry.type === EntryType.ConfChange) {
    const cc = decodeConfChange(entry.data);
    const kind = { [ConfChangeType.AddNode]: "add", [ConfChangeType.RemoveNode]: "remove", [ConfChangeType.UpdateNode]: "update", [ConfChangeType.AddLearnerNode]: "add-learner" }[cc.type];
    return `${entry.term}/${entry.index} ConfChange ${kind} ${cc.nodeId}`;
  }
  return `${entry.term}/${entry.index} ${entry.data.byteLength === 0 ? "empty" : JSON.stringify(decoder.decode(entry.data))}`;
}

export function formatMessage(m: Message): string {
  let s = `${m.from}->${m.to} Msg${MessageType[m.type]} term=${m.term}`;
  switch (m.type) {
    case MessageType.App:
      s += ` log=${m.logTerm}/${m.index} commit=${m.commit}`;
      if (m.entries.length) s += ` entries=[${m.entries.map(formatEntry).join(", ")}]`;
      break;
    case MessageType.AppResp:
      s += ` index=${m.index}`;
      if (m.reject) s += ` rejected hint=${m.logTerm}/${m.rejectHint}`;
      break;
    case MessageType.Vote:
    case MessageType.PreVote:
      s += ` log=${m.logTerm}/${m.index}`;
      break;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      if (m.reject) s += " rejected";
      break;
    case MessageType.Heartbeat:
      s += ` commit=${m.commit}`;
      if (m.context.byteLength) s += ` ctx=${decoder.decode(m.context)}`;
      break;
    case MessageType.HeartbeatResp:
      if (m.context.byteLength) s += ` ctx=${decoder.decode(m.context)}`;
      break;
    case MessageType.Snap:
      s += ` snapshot=${m.snapshot?.metadata.term}/${m.snapshot?.metadata.index} voters=${fmtIds(m.snapshot?.metadata.confState.voters ?? [])}`;
      break;
    case MessageType.Prop:
      s += ` entries=[${m.entries.map(formatEntry).join(", ")}]`;
      break;
    case MessageType.ReadIndex:
    case MessageType.ReadIndexResp:
      s += ` index=${m.index} ctx=${decoder.decode(m.entries[0]?.data ?? new Uint8Array(0))}`;
      break;
    default:
      break;
  }
  return s;
}

function formatReady(rd: Ready): string[] {
  const lines: string[] = [];
  if (rd.softState) lines.push(`Lead:${rd.softState.lead} State:${RaftRole[rd.softState.role]}`);
  if (rd.hardState) lines.push(`HardState term=${rd.hardState.term} vote=${rd.hardState.vote} commit=${rd.hardState.commit}`);
  if (rd.snapshot) lines.push(`Snapshot ${rd.snapshot.metadata.term}/${rd.snapshot.metadata.index} voters=${fmtIds(rd.snapshot.metadata.confState.voters)} learners=${fmtIds(rd.snapshot.metadata.confState.learners)}`);
  if (rd.entries.length) lines.push(`Entries: ${rd.entries.map(formatEntry).join(", ")}`);
  if (rd.committedEntries.length) lines.push(`CommittedEntries: ${rd.committedEntries.map(formatEntry).join(", ")}`);
  for (const rs of rd.readStates) lines.push(`ReadState index=${rs.index} ctx=${decoder.decode(rs.requestCtx)}`);
  if (rd.messages.length) {
    lines.push("Messages:");
    for (const m of rd.messages) lines.push(formatMessage(m));
  }
  return lines;
}
