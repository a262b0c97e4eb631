export {
  type BatchedFileInput,
  type BatchUploader,
  batchObjectName,
  CheckpointBatcher,
  type CheckpointBatcherOptions,
  type CheckpointBatcherStats,
} from './checkpoint-batcher.js';
export {
  type CheckpointProblem,
  type CheckpointValidation,
  type LatestCheckpoint,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  loadChainManifests,
  loadCheckpoint,
  loadLatestCheckpoint,
  MAX_CHAIN_LENGTH,
  planRetention,
  pruneCheckpoints,
  type RetentionPolicy,
  replayStartOf,
  type SkippedCheckpoint,
  validateCheckpointChain,
} from './checkpoint-chain.js';
export {
  CheckpointConfig,
  type CheckpointOptions,
  DEFAULT_CHECKPOINT_OPTIONS,
  resolveCheckpointOptions,
} from './checkpoint-config.js';
export {
  CHECKPOINT_CHANNEL_NAME,
  CHECKPOINT_STEPS,
  type CheckpointStep,
  type CheckpointStepMessage,
} from './checkpoint-events.js';
export { type CheckpointKindInput, chooseCheckpointKind } from './checkpoint-kind.js';
export { CheckpointPublisher, type PublishResult } from './checkpoint-publisher.js';
export {
  type CheckpointDataFile,
  type CheckpointDraft,
  type CheckpointStore,
  checkpointFileName,
  checkpointFilePath,
  checkpointName,
  FileSystemCheckpointStore,
  type FileSystemCheckpointStoreOptions,
  type LatestPointer,
  parseCheckpointName,
} from './checkpoint-store.js';
export {
  type CreateCheckpointOptions,
  IncrementalCheckpointManager,
  type IncrementalCheckpointManagerInit,
  type IncrementalCheckpointStats,
  MAX_CHECKPOINT_REPLAY_RECORDS,
  type RecoveredCopy,
} from './incremental-checkpoint-manager.js';
export {
  type ObjectStoreCheckpointStats,
  ObjectStoreCheckpointStore,
} from './object-store-checkpoint-store.js';
export {
  type CoreCheckpointParticipant,
  coreConnectorName,
  PER_CORE_CHECKPOINT_CHANNEL,
  PER_CORE_CHECKPOINT_STEPS,
  PerCoreCheckpointCoordinator,
  type PerCoreCheckpointOptions,
  type PerCoreCheckpointResult,
  type PerCoreCheckpointStep,
} from './per-core-checkpoint-coordinator.js';
export {
  STORAGE_CLASSES,
  type StorageClassName,
  TIER_TAG,
  type Tier,
  TieringPolicy,
  type TieringPolicyOptions,
  type TieringResult,
} from './tiering-policy.js';
export { validateCheckpoint } from './validate-checkpoint.js';
