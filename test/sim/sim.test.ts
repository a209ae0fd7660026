/**
 * Bounded simulator runs for CI: every honest profile on a fixed set of seeds must be free of
 * violations; the lying-disk profile must be caught within a bounded seed set; runs replay exactly.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_OPTIONS, runSeed } from "./simulation.js";
import { HONEST_PROFILES, findProfile } from "./profiles.js";

const SEEDS_PER_PROFILE = 16;

for (const profile of HONEST_PROFILES) {
  test(`simulator: profile ${profile.name} has no violations on ${SEEDS_PER_PROFILE} seeds`, () => {
    for (let seed = 1; seed <= SEEDS_PER_PROFILE; seed++) {
      const result = runSeed(seed, profile);
      assert.deepEqual(result.violations, [], `seed ${seed}: replay with npm run sim -- --seed ${seed} --profile ${profile.name} --trace`);
      assert.ok(result.opsCompleted > 0, `seed ${seed}: the workload made progress`);
    }
  });
}

test("simulator: the lying-disk profile is caught within 20 seeds", () => {
  const lying = findProfile("lying-disk");
  let caught = 0;
  const kinds = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const result = runSeed(seed, lying);
    if (result.violations.length > 0) caught++;
    for (const v of result.violations) kinds.add(v.split(":")[0]!);
  }
  assert.ok(caught > 0, "no seed exposed the lying disk");
  // The lost writes must surface as safety violations, not only as stalls.
  assert.ok([...kinds].some((k) => k !== "liveness"), `only ${[...kinds].join(", ")}`);
});

test("simulator: a seed replays to the identical outcome", () => {
  const profile = findProfile("chaos");
  const options = { ...DEFAULT_OPTIONS, faultTicks: 600 };
  assert.deepEqual(runSeed(42, profile, options), runSeed(42, profile, options));
});
