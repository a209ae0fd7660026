/** The simulator's replicated state machine: a tiny key-value map with put, get and compare-and-swap. */

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

  apply(cmd: KvCommand): KvResult {
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
    return encoder.encode(JSON.stringify([...this.data].sort()));
  }

  static deserialize(bytes: Uint8Array): KvStore {
    const store = new KvStore();
    if (bytes.byteLength === 0) return store;
    for (const [k, v] of JSON.parse(decoder.decode(bytes)) as Array<[string, string]>) store.data.set(k, v);
    return store;
  }
}
