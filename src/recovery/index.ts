export {
  type CheckpointReport,
  type DataDirectoryProblem,
  type DataDirectoryReport,
  type DataDirectoryWarning,
  type ExamineOptions,
  examineDataDirectory,
  type RecoveryVerdict,
  type SegmentReport,
} from './examine-data-directory.js';
export {
  type OpenedPerCoreStore,
  openPerCoreOnObjectStore,
  type PerCoreObjectStoreOptions,
} from './open-per-core-on-object-store.js';
export {
  type PerCoreCut,
  type PerCoreRecoveredState,
  type PerCoreRecoveryConfig,
  PerCoreRecoveryManager,
  recoverPerCore,
} from './per-core-recovery.js';
export type { PointInTimeTarget } from './point-in-time.js';
export {
  CHECKPOINT_DIR_NAME,
  type OpenedStore,
  type RecoveredState,
  type RecoveryConfig,
  RecoveryManager,
  type RecoveryStats,
  WAL_DIR_NAME,
} from './recovery-manager.js';
export {
  type RestoreOptions,
  type RestoreResult,
  restoreFromObjectStore,
} from './restore-from-object-store.js';
export {
  detectObjectStoreCores,
  type PerCoreRestoreOptions,
  type PerCoreRestoreResult,
  restorePerCoreFromObjectStore,
} from './restore-per-core-from-object-store.js';
export { objectStoreOf, type StorageOptions } from './storage-location.js';
