/**
 * The restore target for a Cairn member: the snapshot's buckets are bulk-loaded into the LMDB
 * backend at `<data-dir>/member/snap`, where `cairn` opens its store. The WAL directory stays
 * empty: `cairn`, started with the same --name, --initial-cluster and --initial-cluster-token as the
 * restore, creates its WAL and derives the same member and cluster IDs that the restore checked.
 */
import { join } from "node:path";
import { LmdbBackend } from "../storage/backend/lmdb.js";
import { loadBuckets } from "../storage/mvcc/index.js";
import { ALL_BUCKETS, KEY_BUCKET, META_BUCKET, META_CONSISTENT_INDEX, decodeKeyValue, decodeRevisionKey } from "../storage/schema.js";
import { RestoreError, type RestorePlan, type RestoreTarget } from "./snapshot-restore.js";

/** Where `cairn` keeps its backend inside a data directory. */
export function backendDir(dataDir: string): string {
  return join(dataDir, "member", "snap");
}

/** Entries to load: everything in the plan except the consistent index (see below). */
function* restoredEntries(plan: RestorePlan): Generator<{ bucket: string; key: Uint8Array; value: Uint8Array }> {
  const consistentIndexKey = Buffer.from(META_CONSISTENT_INDEX);
  for (const bucket of plan.buckets()) {
    for (const entry of bucket.entries) {
      if (entry.isBucket) throw new RestoreError(`bucket ${JSON.stringify(bucket.name)} holds a nested bucket, which etcd's schema never does`);
      // The consistent index names an entry of the old cluster's Raft log. The restored member
      // starts a new log at index 1, and would skip every entry up to the old index: drop it.
      if (bucket.name === META_BUCKET && Buffer.compare(entry.key, consistentIndexKey) === 0) continue;
      if (bucket.name === KEY_BUCKET) checkKeyBucketEntry(entry.key, entry.value);
      yield { bucket: bucket.name, key: entry.key, value: entry.value };
    }
  }
}

/**
 * Checks that a key-bucket entry is what Cairn's MVCC store can rebuild its index from: a 17- or
 * 18-byte revision key and a decodable mvccpb.KeyValue.
 */
function checkKeyBucketEntry(key: Uint8Array, value: Uint8Array): void {
  try {
    decodeRevisionKey(key);
    decodeKeyValue(value);
  } catch (error) {
    throw new RestoreError(`key bucket entry ${Buffer.from(key).toString("hex")} is not an etcd revision key with a KeyValue: ${(error as Error).message}`);
  }
}

/** Bulk-loads a restore plan into a Cairn backend. */
export const cairnRestoreTarget: RestoreTarget = {
  async write(plan: RestorePlan, dataDir: string): Promise<void> {
    const backend = new LmdbBackend({ path: backendDir(dataDir) });
    try {
      loadBuckets(backend, restoredEntries(plan));
      // Every bucket etcd's schema has exists afterwards, even those the snapshot lacked.
      for (const bucket of ALL_BUCKETS) backend.createBucket(bucket);
      backend.commit();
    } finally {
      await backend.close();
    }
  },
};
