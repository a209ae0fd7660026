/**
 * Snapshot files for cairnutl tests, written with Cairn's own writer so they need no etcd: etcd's
 * bucket names, revision keys in "key", a consistent index in "meta", an old member in "members".
 */
import { writeSnapshotFile } from "../../src/storage/bbolt/snapshot-file.js";

export function revisionKey(main: number, sub = 0): Buffer {
  const key = Buffer.alloc(17);
  key.writeBigInt64BE(BigInt(main), 0);
  key[8] = 0x5f;
  key.writeBigInt64BE(BigInt(sub), 9);
  return key;
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A mvccpb.KeyValue (key=1, create_revision=2, mod_revision=3, version=4, value=5), as etcd stores it. */
export function keyValueProto(key: string, value: string, revision: number): Buffer {
  const bytesField = (field: number, data: Buffer) => [(field << 3) | 2, ...varint(data.length), ...data];
  const intField = (field: number, n: number) => [(field << 3) | 0, ...varint(n)];
  return Buffer.from([
    ...bytesField(1, Buffer.from(key)),
    ...intField(2, revision),
    ...intField(3, revision),
    ...intField(4, 1),
    ...bytesField(5, Buffer.from(value)),
  ]);
}

/** Writes an etcd-shaped snapshot with `keyCount` revisions; returns nothing (the file is at `path`). */
export function writeFixtureSnapshot(path: string, keyCount = 50): void {
  writeSnapshotFile(path, (writer) => {
    writer.beginBucket("alarm");
    writer.endBucket();
    writer.beginBucket("cluster");
    writer.put(Buffer.from("clusterVersion"), Buffer.from("3.4.0"));
    writer.endBucket();
    writer.beginBucket("key");
    for (let rev = 1; rev <= keyCount; rev++) writer.put(revisionKey(rev), keyValueProto(`key-${rev}`, `value-${rev}`, rev));
    writer.endBucket();
    writer.beginBucket("lease");
    writer.endBucket();
    writer.beginBucket("members");
    writer.put(Buffer.from("bdae9bbc11dd390d"), Buffer.from('{"id":13668033151171901709,"peerURLs":["http://127.0.0.1:23801"],"name":"old"}'));
    writer.endBucket();
    writer.beginBucket("members_removed");
    writer.put(Buffer.from("1234"), Buffer.from("removed"));
    writer.endBucket();
    writer.beginBucket("meta");
    writer.put(Buffer.from("consistent_index"), Buffer.alloc(8, 0));
    writer.endBucket();
  });
}
