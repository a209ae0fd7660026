/**
 * The alarm bucket as the applier writes it: etcd's layout (key = encoded AlarmMember, empty
 * value), a raise and a disarm each committed with their entry's consistent index, and what a
 * reopened store loads.
 */
import test from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlarmRequest_AlarmAction, AlarmRequestSchema, AlarmType } from "../../src/api/gen/etcdserverpb/rpc_pb.js";
import { LmdbBackend } from "../../src/storage/backend/lmdb.js";
import { MvccStore } from "../../src/storage/mvcc/store.js";
import { ALARM_BUCKET } from "../../src/storage/schema.js";
import { AlarmStore, BackendApplier } from "../../src/server/apply.js";
import { MvccKvStore } from "../../src/server/store.js";

const MEMBER = 0x8e9e05c52164694dn;

function alarm(action: AlarmRequest_AlarmAction, type: AlarmType) {
  return create(AlarmRequestSchema, { action, memberID: MEMBER, alarm: type });
}

/** Opens the store in `dir`, loads its alarms, runs `fn`, closes; returns the raised alarm types. */
async function session(dir: string, fn: (applier: BackendApplier) => void): Promise<{ raised: AlarmType[]; index: number; keys: string[] }> {
  const backend = new LmdbBackend({ path: dir });
  const store = new MvccKvStore(MvccStore.open(backend));
  const alarms = new AlarmStore();
  alarms.load(store.alarmKeys());
  const applier = new BackendApplier(store, alarms);
  fn(applier);
  await store.close();
  const check = new LmdbBackend({ path: dir });
  const keys: string[] = [];
  check.forEach(ALARM_BUCKET, (key, value) => {
    assert.equal(value.length, 0);
    keys.push(Buffer.from(key).toString("hex"));
  });
  await check.close();
  return { raised: alarms.get(AlarmType.NONE).map((a) => a.alarm), index: store.consistentIndex(), keys };
}

test("raised alarms are stored in etcd's layout, survive a reopen, and a disarm removes them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-alarm-bucket-"));
  try {
    const first = await session(dir, (a) => {
      a.index = 5;
      a.alarm(alarm(AlarmRequest_AlarmAction.ACTIVATE, AlarmType.NOSPACE));
      a.index = 6;
      a.alarm(alarm(AlarmRequest_AlarmAction.ACTIVATE, AlarmType.NOSPACE)); // already raised
    });
    // etcd 3.4's bytes for {memberID: 0x8e9e05c52164694d, alarm: NOSPACE}.
    assert.deepEqual(first.keys, ["08cdd2918bd2b881cf8e011001"]);
    const second = await session(dir, (a) => {
      assert.equal(a.alarm(alarm(AlarmRequest_AlarmAction.GET, AlarmType.NONE)).alarms.length, 1, "loaded on open");
      a.index = 7;
      a.alarm(alarm(AlarmRequest_AlarmAction.ACTIVATE, AlarmType.CORRUPT));
    });
    assert.deepEqual(second.raised, [AlarmType.NOSPACE, AlarmType.CORRUPT]);
    assert.equal(second.keys.length, 2);
    const third = await session(dir, (a) => {
      a.index = 8;
      a.alarm(alarm(AlarmRequest_AlarmAction.DEACTIVATE, AlarmType.NOSPACE));
      a.index = 9;
      a.alarm(alarm(AlarmRequest_AlarmAction.DEACTIVATE, AlarmType.CORRUPT));
    });
    assert.deepEqual(third.keys, []);
    const fourth = await session(dir, () => undefined);
    assert.deepEqual(fourth.raised, []);
    assert.equal(fourth.index, 9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
