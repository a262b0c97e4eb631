export { type CheckpointManifest, decodeManifest, encodeManifest } from './checkpoint-manifest.js';
export { CheckpointPublisher, type CheckpointSnapshot, type PublishResult } from './checkpoint-publisher.js';
export {
  type CheckpointStore,
  checkpointBaseName,
  FileSystemCheckpointStore,
  LATEST_POINTER_NAME,
  type LatestCheckpoint,
  type LoadedCheckpoint,
  replayStartOf,
  type SkippedCheckpoint,
} from './checkpoint-store.js';
export { type Ring1Checkpoint, Ring1Checkpointer } from './ring1-checkpointer.js';
export { decodeStateFile, encodeStateFile } from './state-file.js';
