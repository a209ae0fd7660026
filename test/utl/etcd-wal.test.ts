/**
 * The etcd WAL and .snap encoders in src/storage/etcd: golden bytes captured from etcdctl 3.4.23
 * (so these run without etcd), round trips through the decoders, the CRC chain, 8-byte framing,
 * and refusal of torn tails and corruption.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { bootstrapSnapshot, bootstrapWalRecords, type BootstrapCluster } from "../../src/storage/etcd/bootstrap.js";
import {
  CONF_CHANGE_ADD_NODE,
  ENTRY_CONF_CHANGE,
  decodeRaftConfChange,
  decodeRaftEntry,
  decodeRaftHardState,
  decodeWalMetadata,
  decodeWalSnapshot,
} from "../../src/storage/etcd/proto.js";
import { SnapFileError, decodeSnapFile, encodeSnapFile, snapFileName } from "../../src/storage/etcd/snap.js";
import { goJsonString } from "../../src/storage/etcd/v2store.js";
import {
  EtcdWalEncoder,
  EtcdWalError,
  WAL_CRC_TYPE,
  WAL_ENTRY_TYPE,
  WAL_METADATA_TYPE,
  WAL_SNAPSHOT_TYPE,
  WAL_STATE_TYPE,
  decodeWalSegment,
  encodeFrameSize,
  walFileName,
} from "../../src/storage/etcd/wal.js";
import { buildInitialCluster } from "../../src/utl/membership.js";

/** `etcdctl snapshot restore` with every flag at its default. */
function defaultCluster(): BootstrapCluster {
  const cluster = buildInitialCluster({
    name: "default",
    initialCluster: "default=http://localhost:2380",
    initialClusterToken: "etcd-cluster",
    initialAdvertisePeerURLs: "http://localhost:2380",
  });
  return { clusterId: cluster.clusterId, localId: cluster.local.id, members: cluster.members };
}

function threeMembers(local: string): BootstrapCluster {
  const cluster = buildInitialCluster({
    name: local,
    initialCluster: "a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,c=http://10.0.0.3:2380",
    initialClusterToken: "tok",
    initialAdvertisePeerURLs: `http://10.0.0.${local.charCodeAt(0) - 96}:2380`,
  });
  return { clusterId: cluster.clusterId, localId: cluster.local.id, members: cluster.members };
}

/** The written part of the WAL etcdctl 3.4.23 restores with default flags (the rest is zeros). */
const GOLDEN_DEFAULT_WAL =
  "040000000000008408041000000000002000000000000000080110bb81c7fc051a1608cdd2918bd2b881cf8e0110b298eaf1948386fccd010e0000000000008208051094bbc7ed0e1a04080010000000" +
  "7400000000000084080210c2ee92950b1a6a08011001180122620800100018cdd2918bd2b881cf8e0122517b226964223a31303237363635373734333933323937353433372c227065657255524c73223a5b22687474703a2f2f6c6f63616c686f73743a32333830225d2c226e616d65223a2264656661756c74227d00000000" +
  "19000000000000870803109b98d6c3081a0f080110cdd2918bd2b881cf8e011801000000000000000e00000000000082080510b8e0e0e1061a04080110010000";
/** sha256 of the .snap file etcdctl 3.4.23 writes with default flags. */
const GOLDEN_DEFAULT_SNAP_SHA256 = "391e233526d2ed237b95d33b9d3c7975cf3db23b1913a478baacdeee4177b533";

describe("etcd WAL encoder", () => {
  test("matches etcdctl 3.4.23's bootstrap WAL byte for byte (default flags)", () => {
    assert.equal(Buffer.from(bootstrapWalRecords(defaultCluster())).toString("hex"), GOLDEN_DEFAULT_WAL);
    assert.equal(walFileName(0n, 0n), "0000000000000000-0000000000000000.wal");
  });

  test("bootstrap WAL decodes to crc, metadata, snapshot 0, one AddNode per member, hard state, snapshot n", () => {
    const cluster = threeMembers("b");
    const records = decodeWalSegment(bootstrapWalRecords(cluster));
    assert.deepEqual(
      records.map((r) => r.type),
      [WAL_CRC_TYPE, WAL_METADATA_TYPE, WAL_SNAPSHOT_TYPE, WAL_ENTRY_TYPE, WAL_ENTRY_TYPE, WAL_ENTRY_TYPE, WAL_STATE_TYPE, WAL_SNAPSHOT_TYPE],
    );
    assert.deepEqual(decodeWalMetadata(records[1]!.data!), { nodeId: cluster.localId, clusterId: cluster.clusterId });
    assert.deepEqual(decodeWalSnapshot(records[2]!.data!), { index: 0n, term: 0n });
    cluster.members.forEach((member, i) => {
      const entry = decodeRaftEntry(records[3 + i]!.data!);
      assert.deepEqual({ type: entry.type, term: entry.term, index: entry.index }, { type: ENTRY_CONF_CHANGE, term: 1n, index: BigInt(i + 1) });
      const change = decodeRaftConfChange(entry.data!);
      assert.equal(change.type, CONF_CHANGE_ADD_NODE);
      assert.equal(change.nodeId, member.id);
      // The id is a JSON number beyond 2^53: compare the text.
      assert.equal(Buffer.from(change.context!).toString(), `{"id":${member.id},"peerURLs":${JSON.stringify(member.peerURLs)},"name":"${member.name}"}`);
    });
    assert.deepEqual(decodeRaftHardState(records[6]!.data!), { term: 1n, vote: cluster.members[0]!.id, commit: 3n });
    assert.deepEqual(decodeWalSnapshot(records[7]!.data!), { index: 3n, term: 1n });
  });

  test("frames are 8-byte aligned and the length field carries the padding flag", () => {
    for (let n = 0; n < 40; n++) {
      const { lenField, padBytes } = encodeFrameSize(n);
      assert.equal((n + padBytes) % 8, 0);
      assert.equal(Number(lenField & 0xffffffffffffffn), n);
      assert.equal(lenField >> 56n, padBytes === 0 ? 0n : BigInt(0x80 | padBytes));
    }
    const records = decodeWalSegment(bootstrapWalRecords(threeMembers("a")));
    for (const record of records) assert.equal(record.offset % 8, 0);
  });

  test("round trip of arbitrary records, continuing a CRC chain (fixed seed)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.record({ type: fc.constantFrom(WAL_ENTRY_TYPE, WAL_STATE_TYPE, WAL_SNAPSHOT_TYPE, WAL_METADATA_TYPE), data: fc.uint8Array({ maxLength: 700 }) }), { maxLength: 20 }),
        (previousCrc, input) => {
          const encoder = new EtcdWalEncoder(previousCrc);
          encoder.encodeCrc();
          for (const record of input) encoder.encode(record.type, record.data);
          const decoded = decodeWalSegment(encoder.bytes(), previousCrc);
          assert.equal(decoded[0]!.crc, previousCrc);
          assert.deepEqual(
            decoded.slice(1).map((r) => ({ type: r.type, data: Buffer.from(r.data ?? []) })),
            input.map((r) => ({ type: r.type, data: Buffer.from(r.data) })),
          );
          // Preallocated zeros after the records end the log.
          const padded = new Uint8Array(encoder.bytes().length + 4096);
          padded.set(encoder.bytes());
          assert.equal(decodeWalSegment(padded, previousCrc).length, input.length + 1);
        },
      ),
      { seed: 20261123, numRuns: 300 },
    );
  });

  test("a segment continued from the wrong CRC is refused", () => {
    const encoder = new EtcdWalEncoder(1234);
    encoder.encodeCrc();
    encoder.encode(WAL_ENTRY_TYPE, Buffer.from("entry"));
    assert.throws(() => decodeWalSegment(encoder.bytes(), 999), (e: unknown) => e instanceof EtcdWalError && e.code === "CRC_MISMATCH");
  });

  test("a changed byte or a reordered record breaks the CRC chain (corruption, not a torn write)", () => {
    const encoder = new EtcdWalEncoder();
    encoder.encodeCrc();
    for (const text of ["first entry!", "second entry", "third entry!"]) encoder.encode(WAL_ENTRY_TYPE, Buffer.from(text));
    const image = encoder.bytes();
    const records = decodeWalSegment(image);
    const flipped = Buffer.from(image);
    const secondDataAt = Buffer.from(image).indexOf("second");
    flipped[secondDataAt] = flipped[secondDataAt]! ^ 0x01;
    assert.throws(() => decodeWalSegment(flipped), (e: unknown) => e instanceof EtcdWalError && e.code === "CRC_MISMATCH" && e.offset === records[2]!.offset);
    // Swap the second and third frames (same length): each is valid alone, but not in this order.
    const a = image.subarray(records[2]!.offset, records[3]!.offset);
    const b = image.subarray(records[3]!.offset);
    assert.equal(a.length, b.length);
    const swapped = Buffer.concat([image.subarray(0, records[2]!.offset), b, a]);
    assert.throws(() => decodeWalSegment(swapped), (e: unknown) => e instanceof EtcdWalError && e.code === "CRC_MISMATCH");
  });

  test("a torn tail is refused: a cut-off last record, or a last record with a zeroed sector", () => {
    const encoder = new EtcdWalEncoder();
    encoder.encodeCrc();
    encoder.encode(WAL_ENTRY_TYPE, Buffer.alloc(100, 7));
    encoder.encode(WAL_ENTRY_TYPE, Buffer.alloc(2000, 9));
    const image = encoder.bytes();
    const last = decodeWalSegment(image)[2]!;
    const cut = image.subarray(0, image.length - 10);
    assert.throws(() => decodeWalSegment(cut), (e: unknown) => e instanceof EtcdWalError && e.code === "TORN_TAIL" && e.offset === last.offset);
    const zeroed = Buffer.from(image);
    const sectorStart = Math.ceil((last.offset + 64) / 512) * 512;
    zeroed.fill(0, sectorStart, sectorStart + 512);
    assert.throws(() => decodeWalSegment(zeroed), (e: unknown) => e instanceof EtcdWalError && e.code === "TORN_TAIL" && e.offset === last.offset);
  });
});

describe("etcd .snap files", () => {
  test("match etcdctl 3.4.23's bootstrap .snap byte for byte (default flags)", () => {
    const snapshot = bootstrapSnapshot(defaultCluster());
    assert.equal(snapFileName(snapshot.term, snapshot.index), "0000000000000001-0000000000000001.snap");
    assert.equal(createHash("sha256").update(encodeSnapFile(snapshot)).digest("hex"), GOLDEN_DEFAULT_SNAP_SHA256);
  });

  test("round trip, and a CRC mismatch or an empty file is refused", () => {
    const snapshot = bootstrapSnapshot(threeMembers("c"));
    const bytes = encodeSnapFile(snapshot);
    const decoded = decodeSnapFile(bytes);
    assert.deepEqual({ ...decoded, data: Buffer.from(decoded.data!) }, { ...snapshot, data: Buffer.from(snapshot.data!) });
    const store = JSON.parse(Buffer.from(snapshot.data!).toString()) as { CurrentIndex: number; Root: { Children: { "0": { Children: { members: { Children: Record<string, unknown> } } } } } };
    assert.equal(store.CurrentIndex, 3);
    assert.equal(Object.keys(store.Root.Children["0"].Children.members.Children).length, 3);
    const damaged = Buffer.from(bytes);
    damaged[damaged.length - 40] = damaged[damaged.length - 40]! ^ 0xff;
    assert.throws(() => decodeSnapFile(damaged), SnapFileError);
    assert.throws(() => decodeSnapFile(new Uint8Array(0)), SnapFileError);
  });

  test("strings are escaped as Go's encoding/json escapes them", () => {
    assert.equal(goJsonString('a"b\\c\n<&>\u2028\u0001\u0008'), '"a\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u2028\\u0001\\u0008"');
  });
});
