/**
 * A minimal in-process cluster for Raft unit tests: each member is a RawNode over a MemoryStorage,
 * driven by the documented Ready loop; messages are queued and delivered on demand.
 */
import { RawNode, type RawNodeConfig, type Ready } from "../../src/raft/node.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { SeededRandom } from "../../src/raft/rand.js";
import { decodeConfChange } from "../../src/raft/confchange.js";
import { EntryType, type Entry, type Message, type NodeId } from "../../src/raft/types.js";
import type { ReadState } from "../../src/raft/raft.js";

export interface MemberOptions {
  peers?: NodeId[];
  preVote?: boolean;
  checkQuorum?: boolean;
  electionTicks?: number;
  heartbeatTicks?: number;
  maxSizePerMsgBytes?: number;
  maxInflightMsgs?: number;
  maxUncommittedEntriesSizeBytes?: number;
  seed?: number;
}

export class Member {
  readonly storage = new MemoryStorage();
  node: RawNode;
  /** Entries applied, in order. */
  applied: Entry[] = [];
  readStates: ReadState[] = [];

  constructor(readonly id: NodeId, readonly options: MemberOptions) {
    this.node = new RawNode(this.config(options.peers));
  }

  config(peers?: NodeId[]): RawNodeConfig {
    const o = this.options;
    return {
      id: this.id,
      peers,
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: o.heartbeatTicks ?? 1,
      storage: this.storage,
      random: new SeededRandom((o.seed ?? 1) * 1000 + Number(this.id)),
      limits: {
        maxSizePerMsgBytes: o.maxSizePerMsgBytes ?? 1 << 20,
        maxInflightMsgs: o.maxInflightMsgs ?? 256,
        maxUncommittedEntriesSizeBytes: o.maxUncommittedEntriesSizeBytes ?? 0,
      },
      preVote: o.preVote ?? false,
      checkQuorum: o.checkQuorum ?? false,
    };
  }

  /** Handles one Ready in the documented order; returns its messages. */
  handleReady(): { ready: Ready; messages: Message[] } | undefined {
    if (!this.node.hasReady()) return undefined;
    const rd = this.node.ready();
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    for (const entry of rd.committedEntries) {
      if (entry.type === EntryType.ConfChange) this.node.applyConfChange(decodeConfChange(entry.data));
      this.applied.push(entry);
    }
    this.readStates.push(...rd.readStates);
    this.node.advance(rd);
    return { ready: rd, messages: rd.messages };
  }

  /** Payloads of applied normal entries with data, as strings. */
  appliedData(): string[] {
    return this.applied.filter((e) => e.type === EntryType.Normal && e.data.byteLength > 0).map((e) => new TextDecoder().decode(e.data));
  }
}

export class Cluster {
  readonly members = new Map<NodeId, Member>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Pairs "from-to" whose messages are dropped. */
  readonly cut = new Set<string>();
  /** Sees every message as it is sent (before any drop). */
  observer: ((msg: Message) => void) | undefined = undefined;

  constructor(count: number, options: MemberOptions = {}) {
    const ids = Array.from({ length: count }, (_, i) => BigInt(i + 1));
    for (const id of ids) this.members.set(id, new Member(id, { ...options, peers: ids }));
  }

  member(id: NodeId | number): Member {
    const m = this.members.get(BigInt(id));
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  isolate(id: NodeId | number): void {
    for (const other of this.members.keys()) {
      if (other === BigInt(id)) continue;
      this.cut.add(`${id}-${other}`);
      this.cut.add(`${other}-${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Runs Ready handling and message delivery until nothing is left to do. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const m of this.members.values()) {
        const out = m.handleReady();
        if (out) {
          progressed = true;
          if (this.observer) for (const msg of out.messages) this.observer(msg);
          this.queue.push(...out.messages);
        }
      }
      const batch = this.queue;
      this.queue = [];
      for (const msg of batch) {
        progressed = true;
        if (this.cut.has(`${msg.from}-${msg.to}`)) continue;
        const target = this.members.get(msg.to);
        if (!target) continue;
        try {
          target.node.step(msg);
        } catch (error) {
          if (!(error instanceof Error && error.name === "ProposalDroppedError")) throw error;
        }
      }
      if (!progressed) return;
    }
    throw new Error("cluster did not stabilize");
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) for (const m of this.members.values()) m.node.tick();
  }

  leader(): Member | undefined {
    for (const m of this.members.values()) if (m.node.raft.lead === m.id && m.node.raft.role === 2) return m;
    return undefined;
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
