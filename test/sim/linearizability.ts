/**
 * A linearizability checker for key-value histories, after Wing & Gong with Lowe's memoization
 * (as in Porcupine): depth-first search over the order in which concurrent operations take
 * effect, pruning states (set of linearized ops + model state) already explored. The history is
 * partitioned by key first, since operations on different keys are independent (P-compositionality).
 */

/** One client operation with its real-time interval. */
export interface KvOperation {
  clientId: number;
  key: string;
  kind: "put" | "get" | "cas";
  /** put: value written; cas: value written on success. */
  value?: string;
  /** cas: value expected. */
  expected?: string;
  /** Time the client invoked the operation. */
  call: number;
  /**
   * Time the client saw the response, or Infinity if it never did (timeout, crash): then the
   * operation may have taken effect at any time after `call`, or not at all.
   */
  return: number;
  /** get: value read (null = absent); cas: whether it succeeded; put: unused. undefined when unknown. */
  output?: string | null | boolean;
}

/** State of one key: its value or null when absent. */
type KeyState = string | null;

/** Applies op to state; returns the new state, or undefined if the op's observed output is impossible. */
function step(state: KeyState, op: KvOperation): KeyState | undefined {
  switch (op.kind) {
    case "put":
      return op.value ?? null;
    case "get":
      if (op.output === undefined) return state;
      return op.output === state ? state : undefined;
    case "cas": {
      const matches = state === (op.expected ?? null);
      if (op.output === undefined) return matches ? (op.value ?? null) : state;
      if (op.output !== matches) return undefined;
      return matches ? (op.value ?? null) : state;
    }
  }
}

export interface LinearizabilityResult {
  ok: boolean;
  /** True if the search hit its budget before deciding (counted as ok, but reported). */
  inconclusive: boolean;
  /** The first key whose history is not linearizable. */
  badKey?: string;
}

interface Node {
  op: KvOperation;
  id: number;
  isCall: boolean;
  time: number;
  /** For a call node: its return node. */
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

/** Checks a whole history; `budget` bounds the search steps per key. */
export function checkLinearizability(history: readonly KvOperation[], budget = 2_000_000): LinearizabilityResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    // A read whose result was never seen constrains nothing.
    if (op.kind === "get" && op.output === undefined) continue;
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  let inconclusive = false;
  for (const key of [...byKey.keys()].sort()) {
    const result = checkKey(byKey.get(key)!, budget);
    if (result === "bad") return { ok: false, inconclusive, badKey: key };
    if (result === "unknown") inconclusive = true;
  }
  return { ok: true, inconclusive };
}

function checkKey(ops: KvOperation[], budget: number): "ok" | "bad" | "unknown" {
  // Build the event list: calls and returns ordered by time; at equal times calls come first,
  // which treats touching intervals as concurrent (the permissive choice).
  const events: Node[] = [];
  ops.forEach((op, id) => {
    const call: Node = { op, id, isCall: true, time: op.call, match: undefined, prev: undefined, next: undefined };
    const ret: Node = { op, id, isCall: false, time: op.return, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  events.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
  const head: Node = { op: ops[0]!, id: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (call: Node): void => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  const cache = new Set<string>();
  const stack: Array<{ call: Node; state: KeyState }> = [];
  let linearized = 0n;
  let state: KeyState = null;
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > budget) return "unknown";
    if (entry === undefined) return "bad";
    if (entry.isCall) {
      const next = step(state, entry.op);
      if (next !== undefined) {
        const bits = linearized | (1n << BigInt(entry.id));
        const key = `${bits.toString(36)}|${next === null ? "\u0000" : next}`;
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ call: entry, state });
          state = next;
          linearized = bits;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A return reached before its call was linearized: backtrack.
      const top = stack.pop();
      if (top === undefined) return "bad";
      state = top.state;
      linearized &= ~(1n << BigInt(top.call.id));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return "ok";
}
