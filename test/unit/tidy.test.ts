/**
 * Tidy checks over the source tree: the deterministic core (Raft, MVCC) must not reach for wall
 * clocks, ambient randomness, timers or the console, and no FIXME may land.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const forbiddenInCore = [/\bDate\.now\b/, /\bnew Date\b/, /\bMath\.random\b/, /\bsetTimeout\b/, /\bsetInterval\b/, /\bconsole\./, /\bprocess\.hrtime\b/, /\bperformance\.now\b/];

test("deterministic core uses no clock, randomness, timers or console", () => {
  for (const file of [...sourceFiles("src/raft"), ...sourceFiles("src/storage/mvcc")]) {
    const text = readFileSync(file, "utf8");
    for (const pattern of forbiddenInCore) {
      assert.ok(!pattern.test(text), `${file} uses ${pattern.source}`);
    }
  }
});

test("no FIXME in src, test or bench", () => {
  for (const file of [...sourceFiles("src"), ...sourceFiles("test"), ...sourceFiles("bench")]) {
    if (file.endsWith("tidy.test.ts")) continue;
    assert.ok(!readFileSync(file, "utf8").includes("FIXME"), `${file} contains FIXME`);
  }
});
