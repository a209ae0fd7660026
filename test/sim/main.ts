/**
 * The simulator's command line:
 *
 *   npm run sim -- --seeds N [--seed S] [--profile NAME] [--ticks T] [--trace] [--quiet]
 *
 * Runs seeds S..S+N-1 (S defaults to 1, N to 1). Without --profile, seed k runs the honest
 * profile k mod (number of honest profiles); `--profile all` cycles through every profile,
 * lying-disk included. A failing seed prints its violations and a one-line replay command. The last
 * line is `seeds: N, violations: V`, where V counts the seeds with at least one violation.
 * Exits 1 if V > 0.
 */
import { DEFAULT_OPTIONS, runSeed, type SimResult } from "./simulation.js";
import { HONEST_PROFILES, PROFILES, findProfile, type Profile } from "./profiles.js";

interface Args {
  seeds: number;
  seed: number;
  profile: string | undefined;
  ticks: number;
  trace: boolean;
  quiet: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 1, seed: 1, profile: undefined, ticks: DEFAULT_OPTIONS.faultTicks, trace: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--seeds") args.seeds = Number(value());
    else if (a === "--seed") args.seed = Number(value());
    else if (a === "--profile") args.profile = value();
    else if (a === "--ticks") args.ticks = Number(value());
    else if (a === "--trace") args.trace = true;
    else if (a === "--quiet") args.quiet = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.seeds) || args.seeds < 1) throw new Error("--seeds must be a positive integer");
  if (!Number.isSafeInteger(args.seed)) throw new Error("--seed must be an integer");
  return args;
}

export function profileForSeed(seed: number, name: string | undefined): Profile {
  if (name === undefined) return HONEST_PROFILES[seed % HONEST_PROFILES.length]!;
  if (name === "all") return PROFILES[seed % PROFILES.length]!;
  return findProfile(name);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  let failing = 0;
  let ticks = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  for (let k = 0; k < args.seeds; k++) {
    const seed = args.seed + k;
    const profile = profileForSeed(seed, args.profile);
    const trace = args.trace ? (line: string) => process.stdout.write(`${line}\n`) : undefined;
    const result: SimResult = runSeed(seed, profile, { ...DEFAULT_OPTIONS, faultTicks: args.ticks, trace });
    ticks += result.ticks;
    if (result.violations.length > 0) {
      failing++;
      process.stdout.write(`FAIL seed ${seed} profile ${profile.name} (${result.members} members, preVote=${result.preVote}, checkQuorum=${result.checkQuorum}, ${result.settings})\n`);
      for (const v of result.violations) process.stdout.write(`  ${v}\n`);
      const ticksArg = args.ticks === DEFAULT_OPTIONS.faultTicks ? "" : ` --ticks ${args.ticks}`;
      process.stdout.write(`  replay: npm run sim -- --seed ${seed} --profile ${profile.name}${ticksArg} --trace\n`);
    } else if (!args.quiet) {
      process.stdout.write(
        `ok seed ${seed} profile ${profile.name}: ${result.members} members, ${result.ticks} ticks, commit ${result.maxCommitIndex}, ops ${result.opsCompleted}/${result.opsInvoked}, crashes ${result.crashes}${result.membershipChanges ? `, membership changes ${result.membershipChanges}` : ""}${result.transfers ? `, transfers ${result.transfers}` : ""}${result.lostWrites ? `, lost writes ${result.lostWrites}` : ""}${result.linearizabilityInconclusive ? ", linearizability inconclusive" : ""}\n`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    `speed: ${Math.round(ticks / seconds)} simulated ticks/s wall, ${Math.round(ticks / cpuSeconds)} per CPU second (${ticks} ticks in ${seconds.toFixed(1)} s)\n`,
  );
  process.stdout.write(`seeds: ${args.seeds}, violations: ${failing}\n`);
  process.exitCode = failing > 0 ? 1 : 0;
}

main();
