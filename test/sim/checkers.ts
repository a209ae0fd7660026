/**
 * Safety checkers over what the simulator observes: at most one leader per term, log matching,
 * leader completeness and state-machine safety. Each records human-readable violations rather than
 * throwing, so one run reports everything it found.
 */
import type { Entry, NodeId } from "../../src/raft/types.js";

/** What the checkers need of a member's log. `term(i)` is 0 outside [firstIndex - 1, lastIndex]. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number;
  /** Entries in [lo, hi). */
  slice(lo: number, hi: number): Entry[];
}

/** Entries as plain data, for hand-made logs in tests. */
export class ArrayLog implements LogView {
  /** entries[i] has index first + i. */
  constructor(readonly entries: Entry[], readonly first = 1) {}
  firstIndex(): number {
    return this.first;
  }
  lastIndex(): number {
    return this.first + this.entries.length - 1;
  }
  term(index: number): number {
    return this.entries[index - this.first]?.term ?? 0;
  }
  slice(lo: number, hi: number): Entry[] {
    return this.entries.slice(lo - this.first, hi - this.first);
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SafetyChecker {
  readonly violations: string[] = [];
  /** Leader seen for each term. */
  private readonly leaders = new Map<number, NodeId>();
  /**
   * The entry first applied at each index, by any member: the committed log as observed.
   * `commitTermBound` bounds the term in which it was committed from above: the lowest current
   * term of any member when it applied the entry (a member learns of a commit from a leader of
   * that term or an earlier one).
   */
  private readonly committed = new Map<number, { term: number; data: Uint8Array; node: NodeId; commitTermBound: number }>();
  /** Highest index in `committed`. */
  private committedMax = 0;
  /** Kinds of violation already reported, so that one fault does not flood the report. */
  private readonly reported = new Set<string>();

  private report(kind: string, message: string): void {
    if (this.reported.has(kind)) return;
    this.reported.add(kind);
    this.violations.push(`${kind}: ${message}`);
  }

  /**
   * A member became leader of `term`. Checks election safety (one leader per term) and leader
   * completeness: its log holds every entry known to have been committed in an earlier term. (A
   * leader of an older term can be elected late, e.g. after a pause, when later terms have already
   * committed more: those entries it need not have.)
   */
  observeLeader(term: number, id: NodeId, log: LogView, now: number): void {
    const previous = this.leaders.get(term);
    if (previous !== undefined && previous !== id) {
      this.report("election-safety", `term ${term} has two leaders: ${previous} and ${id} (t=${now})`);
    }
    this.leaders.set(term, id);
    const from = Math.max(1, log.firstIndex());
    for (let index = from; index <= this.committedMax; index++) {
      const c = this.committed.get(index);
      if (c === undefined || c.commitTermBound >= term) continue;
      if (log.term(index) !== c.term) {
        this.report(
          "leader-completeness",
          `leader ${id} of term ${term} lacks committed entry ${c.term}/${index} (has term ${log.term(index)}, last ${log.lastIndex()}) (t=${now})`,
        );
        return;
      }
    }
  }

  /**
   * Member `id`, whose current term is `currentTerm`, applied `entry`. Checks state-machine
   * safety: the same entry at each index everywhere.
   */
  observeApply(id: NodeId, entry: Entry, currentTerm: number, now: number): void {
    const c = this.committed.get(entry.index);
    if (c === undefined) {
      this.committed.set(entry.index, { term: entry.term, data: entry.data, node: id, commitTermBound: currentTerm });
      if (entry.index > this.committedMax) this.committedMax = entry.index;
      return;
    }
    if (currentTerm < c.commitTermBound) c.commitTermBound = currentTerm;
    if (c.term !== entry.term || !bytesEqual(c.data, entry.data)) {
      this.report(
        "state-machine-safety",
        `member ${id} applied ${entry.term}/${entry.index} but member ${c.node} applied ${c.term}/${entry.index} with different contents (t=${now})`,
      );
    }
  }

  /**
   * Log matching: if two logs hold an entry with the same index and term, they are identical up to
   * that index. Compares each pair over the range both still hold.
   */
  checkLogMatching(logs: ReadonlyMap<NodeId, LogView>, now: number): void {
    const ids = [...logs.keys()];
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const message = compareLogs(logs.get(ids[i]!)!, logs.get(ids[j]!)!);
        if (message) this.report("log-matching", `members ${ids[i]} and ${ids[j]}: ${message} (t=${now})`);
      }
    }
  }
}

/** Returns a description of a log matching violation between a and b, or undefined. */
export function compareLogs(a: LogView, b: LogView): string | undefined {
  const lo = Math.max(a.firstIndex(), b.firstIndex());
  const hi = Math.min(a.lastIndex(), b.lastIndex());
  if (hi < lo) return undefined;
  const ea = a.slice(lo, hi + 1);
  const eb = b.slice(lo, hi + 1);
  let matched = false;
  for (let k = ea.length - 1; k >= 0; k--) {
    const x = ea[k]!;
    const y = eb[k]!;
    if (!matched) {
      if (x.term === y.term) {
        matched = true;
        if (!bytesEqual(x.data, y.data)) return `entry ${x.term}/${x.index} differs in contents`;
      }
      continue;
    }
    if (x.term !== y.term || !bytesEqual(x.data, y.data)) {
      return `logs agree at a later index but differ at ${x.index} (terms ${x.term} vs ${y.term})`;
    }
  }
  return undefined;
}
