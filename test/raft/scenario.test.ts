/**
 * Runs every data-driven scenario in test/raft/testdata. On a mismatch, review the diff; if the new
 * behaviour is right, regenerate with `REWRITE=1 npm test -- scenario` and commit the files.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runScenarioFile } from "./scenario.js";

const dir = join("test", "raft", "testdata");

for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  test(`scenario ${file}`, () => {
    const blocks = runScenarioFile(join(dir, file));
    if (process.env.REWRITE === "1") return;
    for (const block of blocks) {
      assert.equal(block.actual, block.expected, `${file}: output of "${block.command}" differs`);
    }
  });
}
