/**
 * Child process for the LMDB durability test, run under strace: commits a few transactions and a
 * checkpoint on an LmdbBackend, marking each step with an access(2) call on a named path so the
 * syscall trace can be split into steps. Usage: node lmdb-durability-child.js <dir> <commits>
 */
import { accessSync } from "node:fs";
import { join } from "node:path";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";

const dir = process.argv[2]!;
const commits = Number(process.argv[3]);
const mark = (name: string): void => {
  try {
    accessSync(join(dir, `mark-${name}`));
  } catch {
    // The path does not exist; only the traced syscall matters.
  }
};

const backend = new LmdbBackend({ path: join(dir, "db") });
backend.createBucket("key");
backend.commit();
for (let i = 0; i < commits; i++) {
  mark(`commit-${i}`);
  backend.put("key", new TextEncoder().encode(`k${i}`), new Uint8Array(300).fill(i));
  backend.commit();
}
mark("commits-done");
// Writes the checkpoint cannot have been flushed by an earlier commit: put, commit, then checkpoint.
backend.put("key", new TextEncoder().encode("last"), new Uint8Array(300).fill(7));
backend.commit();
mark("checkpoint-start");
await backend.checkpoint();
mark("checkpoint-done");
process.exit(0);
