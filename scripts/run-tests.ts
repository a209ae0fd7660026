/**
 * Test runner for `npm test`: finds every compiled `*.test.js` under dist/ and hands them to
 * Node's built-in test runner, so that helper modules living beside tests are never run as tests.
 * Arguments narrow the set: `npm test -- raft` runs only files whose path contains "raft".
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function findTests(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = findTests("dist/test", []).filter(
  (f) => filters.length === 0 || filters.some((pattern) => f.includes(pattern)),
).sort();
if (files.length === 0) {
  process.stderr.write(`run-tests: no test files match ${JSON.stringify(filters)}\n`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
