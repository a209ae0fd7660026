/**
 * Child process for the MVCC crash test: applies "entries" (one put each) to an MvccStore on LMDB,
 * committing each with its consistent index, and reports every committed index on stdout until
 * it is killed. Usage: node mvcc-crash-child.js <dir>
 */
import { writeSync } from "node:fs";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";

const store = MvccStore.open(new LmdbBackend({ path: process.argv[2]! }));
for (let index = store.consistentIndex() + 1; ; index++) {
  const txn = store.write();
  txn.put(new TextEncoder().encode(`k${index % 50}`), new TextEncoder().encode(String(index)), 0n);
  txn.put(new TextEncoder().encode("last"), new TextEncoder().encode(String(index)), 0n);
  txn.end();
  store.setConsistentIndex(index);
  store.commit();
  writeSync(1, `${index}\n`);
}
