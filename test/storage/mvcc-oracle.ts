/**
 * A naive model of etcd's MVCC semantics for property tests: the whole history is kept as a list
 * of change sets and every question is answered by replaying it. Slow and obviously right.
 */
import type { KeyValue } from "../../src/storage/schema.js";
import { SortOrder, SortTarget, type RangeRequest, type RangeResponse } from "../../src/storage/mvcc/range.js";

export type Change = { kind: "put"; key: string; value: string; lease: bigint } | { kind: "delete"; key: string; end: string | null };

interface Version {
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: bigint;
}

/** Keys and ends are latin1 strings, so string order is byte order. "" end means "to the last key". */
export class Oracle {
  /** history[i] = change set applied at revision i + 2 (a new store is at revision 1). */
  private readonly history: Change[][] = [];
  compacted = -1;

  get revision(): number {
    return this.history.length + 1;
  }

  /** Applies a change set; returns whether the revision advanced (deletes of nothing do not). */
  apply(changes: Change[]): boolean {
    const before = this.stateAt(this.revision);
    const effective: Change[] = [];
    const live = new Map(before);
    for (const c of changes) {
      if (c.kind === "put") {
        effective.push(c);
        live.set(c.key, { value: c.value, create: 0, mod: 0, version: 0, lease: c.lease });
      } else {
        const doomed = [...live.keys()].filter((k) => inRange(k, c.key, c.end));
        if (doomed.length > 0) effective.push(c);
        for (const k of doomed) live.delete(k);
      }
    }
    if (effective.length === 0) return false;
    this.history.push(changes);
    return true;
  }

  /** Every live key at `rev` with its version data. */
  stateAt(rev: number): Map<string, Version> {
    const state = new Map<string, Version>();
    for (let i = 0; i < this.history.length && i + 2 <= rev; i++) {
      const main = i + 2;
      for (const c of this.history[i]!) {
        if (c.kind === "put") {
          const prev = state.get(c.key);
          state.set(c.key, { value: c.value, create: prev?.create ?? main, mod: main, version: (prev?.version ?? 0) + 1, lease: c.lease });
        } else {
          for (const k of [...state.keys()]) if (inRange(k, c.key, c.end)) state.delete(k);
        }
      }
    }
    return state;
  }

  /** etcd's Range semantics over the replayed state. */
  range(req: { key: string; end: string | null } & Omit<RangeRequest, "key" | "rangeEnd">): RangeResponse | "compacted" | "future" {
    const rev = req.revision ?? 0;
    if (rev > this.revision) return "future";
    const at = rev <= 0 ? this.revision : rev;
    if (at < this.compacted) return "compacted";
    let kvs: KeyValue[] = [...this.stateAt(at)]
      .filter(([k]) => inRange(k, req.key, req.end))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => ({ key: latin1(k), value: latin1(v.value), createRevision: v.create, modRevision: v.mod, version: v.version, lease: v.lease }));
    const count = kvs.length;
    if (req.countOnly === true) return { kvs: [], more: false, count, revision: this.revision };
    if ((req.maxModRevision ?? 0) !== 0) kvs = kvs.filter((kv) => kv.modRevision <= req.maxModRevision!);
    if ((req.minModRevision ?? 0) !== 0) kvs = kvs.filter((kv) => kv.modRevision >= req.minModRevision!);
    if ((req.maxCreateRevision ?? 0) !== 0) kvs = kvs.filter((kv) => kv.createRevision <= req.maxCreateRevision!);
    if ((req.minCreateRevision ?? 0) !== 0) kvs = kvs.filter((kv) => kv.createRevision >= req.minCreateRevision!);
    const target = req.sortTarget ?? SortTarget.Key;
    let order = req.sortOrder ?? SortOrder.None;
    if (order === SortOrder.None && target !== SortTarget.Key) order = SortOrder.Ascend;
    if (order !== SortOrder.None) {
      const field = (kv: KeyValue): number | string =>
        target === SortTarget.Key ? Buffer.from(kv.key).toString("latin1")
          : target === SortTarget.Value ? Buffer.from(kv.value).toString("latin1")
            : target === SortTarget.Version ? kv.version : target === SortTarget.Create ? kv.createRevision : kv.modRevision;
      const cmp = (a: KeyValue, b: KeyValue) => (field(a) < field(b) ? -1 : field(a) > field(b) ? 1 : 0);
      kvs.sort(order === SortOrder.Ascend ? cmp : (a, b) => cmp(b, a));
    }
    const limit = req.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs = kvs.slice(0, limit);
    if (req.keysOnly === true) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));
    return { kvs, more, count, revision: this.revision };
  }

  /**
   * Revision keys ("main_sub", with "t" for tombstones) the engine must hold after compaction at
   * `compacted`: everything after it, plus per key the latest change at or before it when that
   * change is a put.
   */
  expectedEngineRevisions(): Set<string> {
    const out = new Set<string>();
    const latestAtCompact = new Map<string, string | null>();
    for (let i = 0; i < this.history.length; i++) {
      const main = i + 2;
      let sub = 0;
      const live = this.stateAt(main - 1);
      for (const c of this.history[i]!) {
        const touched: { key: string; id: string; put: boolean }[] = [];
        if (c.kind === "put") {
          touched.push({ key: c.key, id: `${main}_${sub++}`, put: true });
          live.set(c.key, { value: c.value, create: 0, mod: 0, version: 0, lease: 0n });
        } else {
          for (const k of [...live.keys()].filter((k) => inRange(k, c.key, c.end)).sort()) {
            touched.push({ key: k, id: `${main}_${sub++}t`, put: false });
            live.delete(k);
          }
        }
        for (const t of touched) {
          if (main > this.compacted) out.add(t.id);
          else latestAtCompact.set(t.key, t.put ? t.id : null);
        }
      }
    }
    for (const id of latestAtCompact.values()) if (id !== null) out.add(id);
    return out;
  }
}

export function inRange(key: string, from: string, end: string | null): boolean {
  if (end === null) return key === from;
  return key >= from && (end === "" || key < end);
}

export function latin1(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "latin1"));
}
