/** Public surface of the watchable store; see watchable-store.ts for the model. */
export {
  DEFAULT_MAX_REVISIONS_PER_BATCH,
  DEFAULT_MAX_WATCHERS_PER_SYNC,
  DEFAULT_STREAM_BUFFER_RESPONSES,
  EventType,
  WatchError,
  WatchStream,
  WatchableStore,
} from "./watchable-store.js";
export type { WatchEvent, WatchFilters, WatchResponse, WatchableStoreOptions } from "./watchable-store.js";
