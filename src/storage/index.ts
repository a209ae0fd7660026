/**
 * Cairn's storage layer: what the server, the snapshot tools and cairnutl import.
 *
 * - schema.ts: bucket names and byte layouts (etcd 3.4's backend; Cairn's WAL).
 * - wal/: the write-ahead log (durability point): `Wal.create/open`, `save` + `sync`, group
 *   `commit`, `saveSnapshot`, `releaseTo` + `purge`.
 * - backend/: the engine port (`Backend`) with `LmdbBackend` (production) and `MemoryBackend`.
 * - etcd/: etcd 3.4's own data-directory files (WAL segments, .snap files, the bootstrap v2
 *   store) and compact bbolt copies, for restoring and defragmenting etcd data directories.
 * - mvcc/: the revisioned key-value store (`MvccStore`) and etcd's Range/Put/DeleteRange request
 *   semantics (`executeRange`, `executePut`, `executeDeleteRange`).
 *
 * Apply contract for the server (one Raft Ready):
 *   1. wal.save(hardState, entries); wal.sync()            — acknowledge nothing before this
 *   2. for each committed entry with index > store.consistentIndex():
 *        apply it through store.write() / backend writes; store.setConsistentIndex(entry.index)
 *   3. store.commit()                                       — effects + index land atomically
 *   4. before wal.releaseTo(i) / wal.purge(max): await store.checkpoint() (engine durable ≥ i)
 */
export * from "./schema.js";
export { Wal, WalCorruptionError, WalWriteError, walExists } from "./wal/wal.js";
export type { WalOptions, WalState } from "./wal/wal.js";
export type { Backend, BucketEntry } from "./backend/backend.js";
export { LmdbBackend } from "./backend/lmdb.js";
export type { LmdbBackendOptions } from "./backend/lmdb.js";
export { MemoryBackend } from "./backend/memory.js";
export * from "./mvcc/index.js";
