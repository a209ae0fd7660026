/**
 * Member and cluster IDs derived from restore flags, checked against etcd's well-known defaults and
 * against what real etcd 3.4 recovers after `etcdctl snapshot restore` with the same flags.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { clusterIdFromMemberIds, formatId, memberIdFromPeerURLs } from "../../src/storage/membership.js";
import { buildInitialCluster } from "../../src/utl/membership.js";
import { etcdctlOk, freePort, readStartupIds, requireEtcd, tempDir } from "../bbolt/etcd-harness.js";
import { writeFixtureSnapshot } from "./fixtures.js";

test("etcd's default member and cluster IDs", () => {
  // The IDs every default single-member etcd reports (name default, http://localhost:2380, etcd-cluster).
  const cluster = buildInitialCluster({
    name: "default",
    initialCluster: "default=http://localhost:2380",
    initialClusterToken: "etcd-cluster",
    initialAdvertisePeerURLs: "http://localhost:2380",
  });
  assert.equal(formatId(cluster.local.id), "8e9e05c52164694d");
  assert.equal(formatId(cluster.clusterId), "cdf818194e3a8c32");
  // URL order does not matter: the URLs are sorted before hashing.
  assert.equal(memberIdFromPeerURLs(["http://b:2", "http://a:1"], "t"), memberIdFromPeerURLs(["http://a:1", "http://b:2"], "t"));
  // Member order does not matter either.
  assert.equal(clusterIdFromMemberIds([3n, 1n, 2n]), clusterIdFromMemberIds([1n, 2n, 3n]));
});

test("IDs match what etcd recovers after etcdctl snapshot restore with the same flags", async (t) => {
  if (!requireEtcd(t)) return;
  const dir = tempDir("membership");
  try {
    const snapshot = join(dir.path, "s.db");
    writeFixtureSnapshot(snapshot);
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const configs = [
      { name: "solo", initialCluster: `solo=${url(0)}`, token: "tok-a", advertise: url(0), memberCount: 1 },
      {
        name: "b",
        initialCluster: `a=${url(0)},b=${url(1)},b=${url(3)},c=${url(2)}`,
        token: "three-member-token",
        advertise: `${url(3)},${url(1)}`,
        memberCount: 3,
      },
    ];
    for (const [index, config] of configs.entries()) {
      const dataDir = join(dir.path, `restored-${index}`);
      etcdctlOk([
        "snapshot", "restore", snapshot,
        `--data-dir=${dataDir}`,
        `--name=${config.name}`,
        `--initial-cluster=${config.initialCluster}`,
        `--initial-cluster-token=${config.token}`,
        `--initial-advertise-peer-urls=${config.advertise}`,
      ]);
      const ids = await readStartupIds({
        dataDir,
        name: config.name,
        peerURL: config.advertise.split(",")[1] ?? config.advertise,
        initialCluster: config.initialCluster,
        token: config.token,
        memberCount: config.memberCount,
      });
      const ours = buildInitialCluster({
        name: config.name,
        initialCluster: config.initialCluster,
        initialClusterToken: config.token,
        initialAdvertisePeerURLs: config.advertise,
      });
      assert.equal(formatId(ours.local.id), ids.localMemberId, `${config.name}: member ID`);
      assert.equal(formatId(ours.clusterId), ids.clusterId, `${config.name}: cluster ID`);
      assert.deepEqual(
        new Map(ours.members.map((m) => [formatId(m.id), m.peerURLs.join(" ")])),
        ids.members,
        `${config.name}: every member's ID and peer URLs`,
      );
    }
  } finally {
    dir.cleanup();
  }
});
