/**
 * The simulator's replicated state machine: a tiny key-value map with put, get and compare-and-swap.
 * Commands carry a unique operation id and are applied at most once (Raft thesis §6.3): the network
 * may duplicate a forwarded proposal, and Raft then appends it twice.
 */

/** A command carried in a log entry. `op` identifies the client operation it serves. */
export interface KvCommand {
  op: number;
  kind: "put" | "get" | "cas";
  key: string;
  value?: string;
  expected?: string;
}

export type KvResult = { kind: "put" } | { kind: "get"; value: string | null } | { kind: "cas"; ok: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export class KvStore {
  /** Current values. */
  readonly data = new Map<string, string>();
  /** Operation ids already applied. */
  readonly appliedOps = new Set<number>();

  /** Applies a command; returns undefined for a duplicate of one already applied. */
  apply(cmd: KvCommand): KvResult | undefined {
    if (this.appliedOps.has(cmd.op)) return undefined;
    this.appliedOps.add(cmd.op);
    switch (cmd.kind) {
      case "put":
        this.data.set(cmd.key, cmd.value ?? "");
        return { kind: "put" };
      case "get":
        return { kind: "get", value: this.data.get(cmd.key) ?? null };
      case "cas": {
        const current = this.data.get(cmd.key) ?? null;
        if (current !== (cmd.expected ?? null)) return { kind: "cas", ok: false };
        this.data.set(cmd.key, cmd.value ?? "");
        return { kind: "cas", ok: true };
      }
    }
  }

  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  serialize(): Uint8Array {
    return encoder.encode(JSON.stringify({ data: [...this.data].sort(), ops: [...this.appliedOps].sort((a, b) => a - b) }));
  }

  static deserialize(bytes: Uint8Array): KvStore {
    const store = new KvStore();
    if (bytes.byteLength === 0) return store;
    const state = JSON.parse(decoder.decode(bytes)) as { data: Array<[string, string]>; ops: number[] };
    for (const [k, v] of state.data) store.data.set(k, v);
    for (const op of state.ops) store.appliedOps.add(op);
    return store;
  }
}
