/**
 * An in-memory Backend: sorted maps, no files. For tests and the deterministic simulator; it has
 * the same visibility rules as the LMDB engine (pending writes seen by get, not by range).
 */
import { PendingBatch, compareBytes, keyBytes, keyString, type Backend, type BucketEntry } from "./backend.js";

export class MemoryBackend implements Backend {
  /** Committed data: bucket → key string → value. */
  private readonly data = new Map<string, Map<string, Uint8Array>>();
  private readonly pending = new PendingBatch();

  createBucket(bucket: string): void {
    if (!this.data.has(bucket)) this.pending.creates.add(bucket);
  }

  buckets(): string[] {
    return [...new Set([...this.data.keys(), ...this.pending.creates])].sort((a, b) => compareBytes(Buffer.from(a), Buffer.from(b)));
  }

  get(bucket: string, key: Uint8Array): Uint8Array | undefined {
    const pending = this.pending.lookup(bucket, key);
    if (pending !== undefined) return pending ?? undefined;
    return this.data.get(bucket)?.get(keyString(key));
  }

  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.pending.put(bucket, key, value.slice());
  }

  delete(bucket: string, key: Uint8Array): void {
    this.pending.put(bucket, key, null);
  }

  range(bucket: string, start: Uint8Array, end: Uint8Array | null, limit = 0): BucketEntry[] {
    this.pending.assertScannable(bucket);
    const m = this.data.get(bucket);
    if (m === undefined) return [];
    const out: BucketEntry[] = [];
    for (const k of [...m.keys()].sort()) {
      // latin1 strings sort by code unit = byte, so string order is byte order.
      const key = keyBytes(k);
      if (compareBytes(key, start) < 0) continue;
      if (end !== null && compareBytes(key, end) >= 0) break;
      out.push({ key, value: m.get(k)! });
      if (limit > 0 && out.length >= limit) break;
    }
    return out;
  }

  forEach(bucket: string, fn: (key: Uint8Array, value: Uint8Array) => void): void {
    for (const { key, value } of this.range(bucket, new Uint8Array(0), null)) fn(key, value);
  }

  hasPending(): boolean {
    return !this.pending.isEmpty();
  }

  commit(): void {
    for (const bucket of this.pending.creates) if (!this.data.has(bucket)) this.data.set(bucket, new Map());
    for (const [bucket, writes] of this.pending.writes) {
      let m = this.data.get(bucket);
      if (m === undefined) {
        m = new Map();
        this.data.set(bucket, m);
      }
      for (const [k, v] of writes) {
        if (v === null) m.delete(k);
        else m.set(k, v);
      }
    }
    this.pending.clear();
  }

  checkpoint(): Promise<void> {
    return Promise.resolve();
  }

  sizeBytes(): number {
    return this.sizeInUseBytes();
  }

  sizeInUseBytes(): number {
    let total = 0;
    for (const m of this.data.values()) for (const [k, v] of m) total += k.length + v.length;
    return total;
  }

  defragment(): Promise<void> {
    this.commit();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.commit();
    return Promise.resolve();
  }
}
