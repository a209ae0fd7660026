/**
 * The completion scripts at work: each generated script is sourced in a real bash (non-interactive),
 * the shell's completion variables are set as readline would set them for a TAB press, and the
 * function the script registered with `complete -F` runs; COMPREPLY is what the user would be
 * offered. cairnctl's answers must be the ones etcdctl 3.4's own script gives for etcdctl.
 *
 * The scripts need the bash-completion package (`_get_comp_words_by_ref`). When it is not installed
 * a minimal stand-in is defined that takes the words exactly as COMP_WORDS holds them, which is what
 * bash-completion does for words without `=` or `:`; the cases below use only such words.
 * zsh, fish and PowerShell are exercised only when installed (their scripts are compared byte for
 * byte with etcdctl's in test/ctl/cases/completion.txt either way).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Command } from "../../src/ctl/cli/command.js";
import { Directive, getCompletions } from "../../src/ctl/cli/complete.js";

const cairnctl = resolve("bin/cairnctl");
const bashCompletionFile = "/usr/share/bash-completion/bash_completion";

function etcdctlPath(): string | undefined {
  const found = spawnSync("bash", ["-c", "command -v etcdctl"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const etcdctl = etcdctlPath();
const skipEtcdctl = (() => {
  if (etcdctl !== undefined) return false;
  if (process.env.CI === "true") throw new Error("etcdctl is required in CI but was not found on PATH");
  process.stdout.write("# skipping etcdctl comparisons: etcdctl not found on PATH\n");
  return "etcdctl not found on PATH";
})();

/** Stands in for bash-completion's _get_comp_words_by_ref: no re-joining of words split at `=` or `:`. */
const wordsShim = `_get_comp_words_by_ref() {
  cur=\${COMP_WORDS[COMP_CWORD]}
  prev=\${COMP_WORDS[COMP_CWORD-1]}
  words=("\${COMP_WORDS[@]}")
  cword=$COMP_CWORD
}`;

interface BashCompletion {
  /** The function `complete -p <name>` names. */
  readonly fn: string;
  readonly reply: string[];
}

/**
 * Sources `<program> completion bash [flags]`, then presses TAB after `line` (the words after the
 * program name; a trailing space starts a new empty word) and returns COMPREPLY.
 */
function bashComplete(program: string, name: string, line: string, scriptFlags: readonly string[] = []): BashCompletion {
  const words = line.split(" ");
  const script = `
set +e
${existsSync(bashCompletionFile) ? `source ${bashCompletionFile}` : wordsShim}
source <("$PROG" completion bash ${scriptFlags.join(" ")})
fn=$(complete -p "$NAME" | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
COMP_WORDS=("$PROG" ${words.map((w) => `'${w}'`).join(" ")})
COMP_CWORD=${words.length}
COMP_LINE="$PROG ${line}"
COMP_POINT=\${#COMP_LINE}
COMP_TYPE=9
COLUMNS=200
"$fn" 2>/dev/null
echo "fn=$fn"
printf 'reply=%s\\n' "\${COMPREPLY[@]}"
`;
  const result = spawnSync("bash", ["-c", script], { env: { ...process.env, PROG: program, NAME: name }, encoding: "utf8" });
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.split("\n");
  const fn = lines.find((l) => l.startsWith("fn="))?.slice(3) ?? "";
  return { fn, reply: lines.filter((l) => l.startsWith("reply=")).map((l) => l.slice(6)) };
}

/** What a TAB press offers, with descriptions collapsed to single spaces (their padding follows COLUMNS). */
function offered(completion: BashCompletion): string[] {
  return completion.reply.map((r) => r.replace(/ +/g, " "));
}

const lines = ["mem", "member ", "member l", "get --pr", "get --w", "completion ", "completion z", "snapshot s", "get --prefix --pr", "endpoint status --cl", "get k --endpoints ", "help me", "nosuch "];

describe("__complete answers from the command tree", () => {
  // A tree that is not cairnctl's: candidates must come from it, not from a list of etcdctl's.
  const root = new Command(
    {
      use: "toy",
      short: "A toy",
      subcommands: [
        { use: "fetch <key>", short: "Fetches", flags: [{ name: "limit", shorthand: "l", kind: "int64", defaultText: "0", usage: "at most" }], run: () => undefined },
        { use: "feed", short: "Feeds", subcommands: [{ use: "cats", short: "Cats", run: () => undefined }] },
        { use: "secret", short: "Hidden", hidden: true, run: () => undefined },
        { use: "empty", short: "Nothing runnable" },
      ],
    },
    undefined,
    [{ name: "verbose", kind: "bool", defaultText: "false", usage: "say more" }],
  );

  test("sub-commands: visible and runnable (or groups of such), with their short text", () => {
    assert.deepEqual(getCompletions(root, ["f"]), { candidates: ["feed\tFeeds", "fetch\tFetches"], directive: Directive.noFileComp, error: undefined });
    assert.deepEqual(getCompletions(root, ["feed", ""]).candidates, ["cats\tCats"]);
    assert.deepEqual(getCompletions(root, ["s"]).candidates, []);
  });

  test("flags: inherited first, then local with shorthands; values get the default directive", () => {
    assert.deepEqual(getCompletions(root, ["fetch", "-"]).candidates, ["--verbose\tsay more", "--help\thelp for fetch", "-h\thelp for fetch", "--limit\tat most", "-l\tat most"]);
    assert.deepEqual(getCompletions(root, ["fetch", "--limit", ""]), { candidates: [], directive: Directive.default, error: undefined });
    assert.deepEqual(getCompletions(root, ["fetch", "--limit", "3", "--l"]).candidates, []);
  });

  test("errors: unknown command and bad flags", () => {
    assert.equal(getCompletions(root, ["nope", ""]).error, "Unable to find a command for arguments: [nope]");
    assert.equal(getCompletions(root, ["fetch", "--limit=x", ""]).error, 'Error while parsing flags from args [--limit=x]: invalid argument "x" for "-l, --limit" flag: strconv.ParseInt: parsing "x": invalid syntax');
  });
});

describe("bash completion script", () => {
  test("registers __start_cairnctl for cairnctl", () => {
    assert.equal(bashComplete(cairnctl, "cairnctl", "mem").fn, "__start_cairnctl");
  });

  test("completes commands, sub-commands and flags from cairnctl's tree", () => {
    assert.deepEqual(bashComplete(cairnctl, "cairnctl", "mem").reply, ["member"]);
    assert.deepEqual(
      offered(bashComplete(cairnctl, "cairnctl", "member ")).map((r) => r.split(" ")[0]),
      ["add", "list", "promote", "remove", "update"],
    );
    assert.deepEqual(offered(bashComplete(cairnctl, "cairnctl", "get --pr")), [
      "--prefix (Get keys with matching prefix)",
      '--print-value-only (Only write values when using the "simple" output format)',
    ]);
    assert.deepEqual(bashComplete(cairnctl, "cairnctl", "completion z").reply, ["zsh"]);
    assert.deepEqual(bashComplete(cairnctl, "cairnctl", "get --pr", ["--no-descriptions"]).reply, ["--prefix", "--print-value-only"]);
  });

  for (const line of lines) {
    for (const flags of [[], ["--no-descriptions"]]) {
      test(`offers what etcdctl offers for "${line}<TAB>"${flags.length > 0 ? " without descriptions" : ""}`, { skip: skipEtcdctl }, () => {
        const expected = bashComplete(etcdctl!, "etcdctl", line, flags);
        const actual = bashComplete(cairnctl, "cairnctl", line, flags);
        assert.equal(expected.fn, "__start_etcdctl");
        assert.equal(actual.fn, "__start_cairnctl");
        assert.deepEqual(actual.reply, expected.reply);
      });
    }
  }
});

for (const shell of ["zsh", "fish", "pwsh"]) {
  const installed = spawnSync("bash", ["-c", `command -v ${shell}`], { stdio: "ignore" }).status === 0;
  describe(`${shell} completion script`, { skip: installed ? false : `${shell} is not installed` }, () => {
    test("loads without errors", () => {
      const source =
        shell === "zsh"
          ? `autoload -U compinit; compinit -u; source <("${cairnctl}" completion zsh)`
          : shell === "fish"
            ? `"${cairnctl}" completion fish | source; complete --do-complete "cairnctl mem"`
            : `& "${cairnctl}" completion powershell | Out-String | Invoke-Expression`;
      const args = shell === "pwsh" ? ["-NoProfile", "-Command", source] : ["-c", source];
      // fish's script asks the cairnctl found on PATH.
      const result = spawnSync(shell, args, { encoding: "utf8", env: { ...process.env, PATH: `${resolve("bin")}:${process.env.PATH ?? ""}` } });
      assert.equal(result.status, 0, result.stderr);
      if (shell === "fish") assert.match(result.stdout, /^member\b/m);
    });
  });
}
