export { type ReplayState, type ReplayTarget, replayWal, StateReplayer } from './apply-entry.js';
export {
  type BackpressurePolicy,
  ChangelogAwareStore,
  type ChangelogAwareStoreInit,
  type ChangelogAwareStoreOptions,
  type ChangelogAwareStoreParts,
  type ChangelogAwareStoreStats,
  type Ring1CheckpointResult,
  type Ring1Link,
} from './changelog-aware-store.js';
export type { CheckpointCallOptions } from './checkpoint-call.js';
export { MapStateBackend } from './map-state-backend.js';
export { type CoreProgress, PerCoreReplayer, type PerCoreTarget } from './per-core-replayer.js';
export type { ScanOptions } from './slab-cursor.js';
export { SlabSnapshot } from './slab-snapshot.js';
export { SlabStore, type SlabStoreOptions, type SlabStoreStats } from './slab-store.js';
export {
  copyStateBackend,
  createStateBackend,
  STATE_BACKENDS,
  type StateBackend,
  type StateBackendKind,
  type StateReader,
  type StateScan,
  type StateScanOptions,
  type StateSnapshot,
} from './state-backend.js';
export { compareUtf8 } from './state-scan.js';
export { WalStateStore, type WalStateStoreInit } from './wal-state-store.js';
