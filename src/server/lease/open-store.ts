/**
 * Opens the member's store with everything that hangs off it: the lessor (recovered from the
 * lease bucket before the MVCC store rebuilds its index, so keys reattach to their leases), the
 * MVCC store, and the watchable store through which all writes go (the change feed of Watch).
 */
import type { Backend } from "../../storage/backend/backend.js";
import { MvccStore } from "../../storage/mvcc/index.js";
import { WatchableStore } from "../../storage/watch/index.js";
import { DefragmentableBackend, removeDefragLeftovers } from "../defrag.js";
import { MvccKvStore } from "../store.js";
import { Lessor, type LeaseClock } from "./lessor.js";

export interface ServingStore {
  store: MvccKvStore;
  lessor: Lessor;
  watchable: WatchableStore;
}

/** Wires lessor, MVCC and watchable store on `backend`. */
export function openServingStoreOn(backend: Backend, options: { minLeaseTtlSeconds: number; clock: LeaseClock }): ServingStore {
  const lessor = new Lessor({ backend, clock: options.clock, minTtlSeconds: options.minLeaseTtlSeconds });
  lessor.recover();
  const mvcc = MvccStore.open(backend, { leaseHooks: lessor });
  const watchable = new WatchableStore(mvcc);
  lessor.setRangeDeleter(() => watchable.write());
  return { store: new MvccKvStore(mvcc, watchable), lessor, watchable };
}

/** Opens (or creates) the member's LMDB backend in `dir` (as openKvStore does) and wires it. */
export function openServingStore(dir: string, options: { minLeaseTtlSeconds: number; clock: LeaseClock }): ServingStore {
  removeDefragLeftovers(dir);
  return openServingStoreOn(new DefragmentableBackend(dir), options);
}
