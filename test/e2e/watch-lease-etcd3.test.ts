/**
 * The npm `etcd3` client (microsoft/etcd3, a widely used Node client) drives watch, lease, lock and
 * election against real etcd 3.4.23 and against cairn; the observable results are compared.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { requireEtcd, startMember, type Member } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function session(m: Member): Promise<string[]> {
  const client = new Etcd3({ hosts: m.url });
  const log: string[] = [];
  try {
    // Watch: a prefix watcher sees puts and deletes, a txn's events, with prev_kv.
    const events: string[] = [];
    const watcher = await client.watch().prefix("w/").withPreviousKV().create();
    watcher.on("put", (kv, prev) => events.push(`put ${kv.key.toString()}=${kv.value.toString()} v${kv.version} prev=${prev?.value.toString() ?? "-"}`));
    watcher.on("delete", (kv, prev) => events.push(`delete ${kv.key.toString()} prev=${prev?.value.toString() ?? "-"}`));
    await client.put("w/a").value("1");
    await client.put("w/a").value("2");
    await client.if("w/a", "Value", "==", "2").then(client.put("w/b").value("3"), client.put("w/c").value("4")).commit();
    await client.delete().prefix("w/");
    for (let i = 0; i < 400 && events.length < 6; i++) await sleep(50);
    log.push(`watch: ${events.join("; ")}`);
    await watcher.cancel();

    // Lease: grant, attach, ttl, keepalive, revoke deletes the keys.
    const lease = client.lease(30, { autoKeepAlive: false });
    await lease.grant();
    await lease.put("l/a").value("x");
    await lease.put("l/b").value("y");
    const renewed = await lease.keepaliveOnce();
    log.push(`keepalive TTL: ${renewed.TTL}`);
    log.push(`keys with lease: ${(await client.getAll().prefix("l/").keys()).sort().join(",")}`);
    await lease.revoke();
    log.push(`keys after revoke: ${(await client.getAll().prefix("l/").keys()).join(",")}`);
    // A short lease expires and takes its key (the minimum TTL makes 1 s into 2 s).
    const short = client.lease(1, { autoKeepAlive: false });
    await short.put("s/a").value("x");
    const lost = new Promise<string>((resolve) => short.on("lost", (err: Error) => resolve(err.constructor.name)));
    // Poll for the expiry (a fixed 4 s wait leaves only 2 s of slack on a loaded machine).
    for (let i = 0; i < 200 && (await client.get("s/a").string()) !== null; i++) await sleep(100);
    log.push(`short-lived key after expiry: ${JSON.stringify(await client.get("s/a").string())}`);
    await short.keepaliveOnce().catch(() => undefined);
    log.push(`lost: ${await Promise.race([lost, sleep(15_000).then(() => "not lost")])}`);

    // Lock: etcd3's lock refuses (does not wait) while another holder has it.
    const first = client.lock("L").ttl(10);
    await first.acquire();
    const refused = await client.lock("L").ttl(10).acquire().then(() => "acquired", (err: Error) => `${err.constructor.name}: ${err.message}`);
    await first.release();
    const after = await client.lock("L").ttl(10).do(() => "ran inside the lock");
    log.push(`lock: second while held -> ${refused}; after release -> ${after}`);

    // Election: campaign, leader, proclaim, observe, resign.
    const election = client.election("E", 10);
    const campaign = election.campaign("one");
    await new Promise<void>((resolve, reject) => {
      campaign.on("elected", () => resolve());
      campaign.on("error", reject);
    });
    log.push(`leader: ${await election.leader()}`);
    const observer = await election.observe();
    const changes: string[] = [];
    observer.on("change", (v: string | undefined) => changes.push(String(v)));
    await campaign.proclaim("two");
    for (let i = 0; i < 400 && changes.length < 1; i++) await sleep(50);
    log.push(`after proclaim: ${await election.leader()}; observed ${changes.join(",")}`);
    await observer.cancel();
    await campaign.resign();
    log.push(`after resign: ${String(await election.leader())}`);
  } finally {
    client.close();
  }
  return log;
}

test("the npm etcd3 client sees cairn as it sees etcd 3.4 (watch, lease, lock, election)", { timeout: 120_000 }, async (t) => {
  if (!requireEtcd(t)) return;
  const [etcd, cairn] = await Promise.all([startMember("etcd"), startMember("cairn")]);
  t.after(() => etcd.stop());
  t.after(() => cairn.stop());
  const [want, got] = await Promise.all([session(etcd), session(cairn)]);
  t.diagnostic(want.join("\n"));
  assert.deepEqual(got, want);
});
