/**
 * Case files for the differential suite (test/ctl/cases/*.txt). A file is one group:
 *
 *   mode: fresh | shared     fresh: every case gets its own new etcd (one per tool, same ports, so
 *                            cluster and member ids agree); shared: one etcd for the whole group,
 *                            for read-only cases
 *   etcd: <flags>            extra etcd flags for the group
 *   tls: true                serve clients over TLS with client certificates ($CACERT $CERT $KEY)
 *   setup:                   (shared mode) indented shell lines run once, with real etcdctl
 *
 *   case: <name>
 *   setup:                   indented shell lines run before the command, with real etcdctl, output
 *                            discarded; variables they set are visible to the command
 *   cmd: <shell line>        the command under test; $CTL is etcdctl or bin/cairnctl
 *   stdin:                   indented lines fed to the command's standard input
 *   normalize: a, b          named normalizers (see diff.test.ts) applied to both outputs
 *   skip: <reason>           a known difference, reported and not run
 *   interact:                indented steps that drive the command while it runs, for commands
 *                            whose output races with their input (watch -i, watch -- cmd):
 *                              send <line>        write the line and a newline to its stdin
 *                              wait stdout <n>    wait until stdout holds n lines (stderr alike)
 *                              run <shell line>   run a line with real etcdctl, output discarded
 *                              until <shell line> run the line with real etcdctl again and again
 *                                                 until it succeeds (polls a condition)
 *                              signal <NAME>      send SIGNAME (INT, TERM, HUP) to the command the
 *                                                 script runs (the shell's children), not to the
 *                                                 shell, so `; echo "exit=$?"` still reports how
 *                                                 the command ended: its own code when it handles
 *                                                 the signal, 128+n when the signal killed it
 *                              close              close its stdin
 *                              kill               kill it (its whole process group) and stop
 *                            After the last step stdin is closed and the command must exit by
 *                            itself. A wait or until that is never satisfied times out and the
 *                            outputs are compared as they are. Not combined with stdin:.
 *
 * No fixed delays: `timeout` and `sleep` are refused in cmd:, setup: and interact lines, because
 * whether a command has printed everything (or a lease, lock or mirror has settled) after N
 * seconds depends on how loaded the machine is. A command that runs until interrupted waits for
 * its output (`wait`), then gets a `signal`; a condition is polled with `until`. diff.test.ts
 * also fails, on every run, an interactive case that waits for fewer stdout lines than a tool
 * printed (checkNoRace) and a table holding a normalized random id without table-width
 * (checkTableWidths): both would otherwise fail only now and then.
 *
 * Every script runs under bash with ETCDCTL_API=3, ETCDCTL_ENDPOINTS=$EP and EP, URL, DATA set, and
 * WORK: an empty scratch directory with the same path for both tools. CTL_CASES=word1,word2 runs
 * only the case files whose names contain one of the words; CTL_SHOW=1 prints etcdctl's output.
 */
import { readFileSync } from "node:fs";

export interface DiffCase {
  readonly name: string;
  readonly setup: string[];
  readonly cmd: string;
  readonly stdin: string | undefined;
  readonly normalize: string[];
  readonly skip: string | undefined;
  /** Steps of an interactive run (see above), or undefined for a plain run. */
  readonly interact: InteractStep[] | undefined;
}

export type InteractStep =
  | { readonly kind: "send"; readonly line: string }
  | { readonly kind: "wait"; readonly stream: "stdout" | "stderr"; readonly lines: number }
  | { readonly kind: "run"; readonly script: string }
  | { readonly kind: "until"; readonly script: string }
  | { readonly kind: "signal"; readonly signal: NodeJS.Signals }
  | { readonly kind: "close" }
  | { readonly kind: "kill" };

/** Parses one `interact:` step. */
export function parseInteractStep(file: string, text: string): InteractStep {
  const space = text.indexOf(" ");
  const verb = space === -1 ? text : text.slice(0, space);
  const rest = space === -1 ? "" : text.slice(space + 1);
  const wait = /^(stdout|stderr) (\d+)$/.exec(rest);
  if (verb === "send") return { kind: "send", line: rest };
  if (verb === "wait" && wait !== null) return { kind: "wait", stream: wait[1] as "stdout" | "stderr", lines: Number(wait[2]) };
  if (verb === "run" && rest !== "") return { kind: "run", script: rest };
  if (verb === "until" && rest !== "") return { kind: "until", script: rest };
  if (verb === "signal" && /^(INT|TERM|HUP)$/.test(rest)) return { kind: "signal", signal: `SIG${rest}` as NodeJS.Signals };
  if (verb === "close" && rest === "") return { kind: "close" };
  if (verb === "kill" && rest === "") return { kind: "kill" };
  throw new Error(`${file}: cannot parse interact step ${JSON.stringify(text)}`);
}

export interface CaseGroup {
  readonly file: string;
  readonly mode: "fresh" | "shared";
  readonly etcdFlags: string[];
  readonly tls: boolean;
  readonly setup: string[];
  readonly cases: DiffCase[];
}

/**
 * Fixed delays race with the machine's speed (a `timeout 3` watch prints its history in time on an
 * idle machine and not under load), so case scripts may not use them; see the header.
 */
const fixedDelay = /(^|[\s;&|(`$])(timeout|sleep)\s/;

function checkNoFixedDelay(file: string, name: string, script: string): void {
  if (fixedDelay.test(script)) {
    throw new Error(`${file}: case ${JSON.stringify(name)} uses a fixed delay (timeout/sleep) in ${JSON.stringify(script)}: wait for output and send a signal, or poll with until`);
  }
}

/** Parses one case file. */
export function parseCaseFile(file: string): CaseGroup {
  const lines = readFileSync(file, "utf8").split("\n");
  let mode: "fresh" | "shared" = "fresh";
  let etcdFlags: string[] = [];
  let tls = false;
  const groupSetup: string[] = [];
  const cases: DiffCase[] = [];
  let current:
    | { name: string; setup: string[]; cmd: string; stdin: string[] | undefined; normalize: string[]; skip: string | undefined; interact: string[] | undefined }
    | undefined;
  let block: string[] | undefined;
  const finish = () => {
    if (current === undefined) return;
    if (current.cmd === "") throw new Error(`${file}: case ${JSON.stringify(current.name)} has no cmd`);
    if (current.interact !== undefined && current.stdin !== undefined) throw new Error(`${file}: case ${JSON.stringify(current.name)} has both stdin and interact`);
    for (const script of [current.cmd, ...current.setup, ...(current.interact ?? [])]) checkNoFixedDelay(file, current.name, script);
    cases.push({
      ...current,
      stdin: current.stdin === undefined ? undefined : `${current.stdin.join("\n")}\n`,
      interact: current.interact?.map((step) => parseInteractStep(file, step)),
    });
  };
  for (const raw of lines) {
    if (raw.startsWith("  ") && block !== undefined) {
      block.push(raw.slice(2));
      continue;
    }
    block = undefined;
    const line = raw.trimEnd();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon === -1) throw new Error(`${file}: cannot parse line ${JSON.stringify(line)}`);
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (key === "case") {
      finish();
      current = { name: value, setup: [], cmd: "", stdin: undefined, normalize: [], skip: undefined, interact: undefined };
      continue;
    }
    if (current === undefined) {
      if (key === "mode") mode = value === "shared" ? "shared" : "fresh";
      else if (key === "etcd") etcdFlags = value.split(/\s+/).filter((f) => f !== "");
      else if (key === "tls") tls = value === "true";
      else if (key === "setup") block = groupSetup;
      else throw new Error(`${file}: unknown group key ${key}`);
      continue;
    }
    if (key === "setup") block = current.setup;
    else if (key === "cmd") current.cmd = value;
    else if (key === "stdin") {
      current.stdin = [];
      block = current.stdin;
    } else if (key === "interact") {
      current.interact = [];
      block = current.interact;
    } else if (key === "normalize") current.normalize = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    else if (key === "skip") current.skip = value;
    else throw new Error(`${file}: unknown case key ${key}`);
  }
  finish();
  for (const script of groupSetup) checkNoFixedDelay(file, "(group setup)", script);
  return { file, mode, etcdFlags, tls, setup: groupSetup, cases };
}
