/**
 * cairnctl against Cairn, with etcdctl as the oracle: the same script of operator commands (the
 * seeds' commands and the rest of the everyday set) runs once with etcdctl on a fresh Cairn and once
 * with cairnctl on another fresh Cairn with the same flags and ports, and the transcripts must be
 * identical. The differential suite (diff.test.ts) does this against real etcd; this checks that
 * cairnctl is as much at home on Cairn, including Cairn's error paths.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, requireEtcd, startMember } from "../e2e/harness.js";
import { baseNormalize } from "./normalize.js";

const cairnctl = resolve("bin/cairnctl");

/** One command per line; each line's output is framed so a difference points at its command. */
const script = String.raw`
$CTL put foo bar
$CTL put foo bar2 --prev-kv
$CTL get foo -w json
$CTL get foo -w fields
$CTL get foo --rev 2 --print-value-only
$CTL put /registry/pods/default/a '{"kind":"Pod"}'
$CTL put /registry/pods/default/b '{"kind":"Pod","b":1}'
$CTL put /registry/secrets/default/token s3cr3t
$CTL get / --prefix --keys-only
$CTL get /registry/pods/ --prefix --count-only -w json
$CTL get /registry/ --prefix --limit 1 --sort-by=MODIFY --order=DESCEND
$CTL get --from-key /registry/secrets -w simple
$CTL get foo --consistency=s
$CTL del /registry/pods/default/a --prev-kv
$CTL del /nothing
printf 'value("foo") = "bar2"\n\nput t yes\n\nput t no\n\n' | $CTL txn -w json
printf 'mod("foo") > "100"\n\nput t yes\n\nput t no\n\n' | $CTL txn
$CTL compaction 3
$CTL get foo --rev 2
$CTL compaction 3
$CTL compaction 100000
$CTL get foo --rev 100000
timeout 3 $CTL watch foo --rev 3 -w json; echo "watch exit $?"
timeout 3 $CTL watch /registry/ --prefix --rev 4 --prev-kv; echo "watch exit $?"
$CTL member list -w table
$CTL member list -w json
$CTL endpoint status -w table
$CTL endpoint status -w json
$CTL endpoint health
$CTL endpoint health --cluster -w table
$CTL endpoint hashkv -w table
$CTL alarm list
$CTL alarm disarm
$CTL defrag
$CTL defrag --cluster
cd $WORK && $CTL snapshot save s.db 2>/dev/null && $CTL snapshot status s.db -w json
$CTL move-leader 1
ID=$($CTL member list | cut -d, -f1); $CTL move-leader $ID
$CTL version
# Leases, locks and elections last: lease ids are random, and hashes cover them.
L=$($CTL lease grant 600 | cut -d' ' -f2); echo "lease $L"; $CTL put leased v --lease=$L; $CTL lease timetolive $L --keys; $CTL lease list; $CTL lease keep-alive --once $L; $CTL lease revoke $L; $CTL get leased; $CTL lease timetolive $L
$CTL lease revoke 1234abcd
$CTL put bad v --lease=1234abcd
timeout -s INT 2 $CTL lock seed-lock; echo "lock exit $?"
timeout -s INT 2 $CTL elect seed-election p1; echo "elect exit $?"
$CTL get seed --prefix --keys-only
head -c 2000000 /dev/zero | tr '\0' x | $CTL put k
$CTL nosuchcommand
$CTL get
`;

/** Values that differ between two runs of the same tool on fresh servers (clock stamps, client ids and our name as the diff suite). */
function normalize(text: string): string {
  return baseNormalize(text)
    .replace(/took\s*(=|:)?\s*[0-9.]+(µs|ms|s|m)\b/g, "took <duration>")
    .replace(/"took":"[^"]*"/g, '"took":"<duration>"')
    .replace(/\b[0-9a-f]{16}\b/g, "<hex16>")
    .replace(/lease [0-9a-f]+/g, "lease <id>")
    .replace(/remaining\(\d+s\)/g, "remaining(<ttl>)")
    .replace(/"ID":\d+/g, '"ID":<id>')
    .replace(/\bseed-(lock|election)\/[0-9a-f]+/g, "seed-$1/<lease>")
    .replace(/"dbSize(InUse)?":\d+/g, '"dbSize$1":<n>')
    .replace(/\d+(\.\d+)? (kB|MB)/g, "<size>")
    // Durations in table cells change the column widths.
    .replace(/\b[0-9]+(\.[0-9]+)?(µs|ms|s)\b/g, "<d>")
    .replace(/-{2,}/g, "--")
    .replace(/ {2,}/g, " ");
}

async function transcript(tool: string, ports: { clientPort: number; peerPort: number }): Promise<string> {
  const member = await startMember("cairn", ports);
  const work = mkdtempSync(join(tmpdir(), "cairn-ctl-server-"));
  try {
    let out = "";
    for (const line of script.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"))) {
      const env: NodeJS.ProcessEnv = {};
      for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("ETCDCTL_")) env[key] = value;
      Object.assign(env, { ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: member.endpoint, CTL: tool, WORK: work });
      const result = spawnSync("timeout", ["--signal=KILL", "60", "bash", "-c", line], { env, encoding: "utf8" });
      out += `$ ${line}\n${result.stdout}${result.stderr === "" ? "" : `[stderr]\n${result.stderr}`}[exit ${result.status}]\n`;
    }
    return normalize(out);
  } finally {
    await member.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

test("operators' commands: cairnctl on Cairn prints what etcdctl prints on Cairn", { timeout: 300_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  const ports = { clientPort: await freePort(), peerPort: await freePort() };
  const expected = await transcript("etcdctl", ports);
  const actual = await transcript(cairnctl, ports);
  const [e, a] = [expected.split("\n"), actual.split("\n")];
  const first = e.findIndex((line, i) => line !== a[i]);
  if (first !== -1) {
    const command = e.slice(0, first + 1).reverse().find((line) => line.startsWith("$ "));
    assert.equal(a.slice(first - 3, first + 8).join("\n"), e.slice(first - 3, first + 8).join("\n"), `first difference under: ${command}`);
  }
  assert.equal(actual, expected);
});
