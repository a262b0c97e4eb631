export { type CheckpointManifest, decodeManifest, encodeManifest } from './checkpoint-manifest.js';
export { CheckpointPublisher, type PublishResult } from './checkpoint-publisher.js';
export {
  type CheckpointStore,
  checkpointBaseName,
  FileSystemCheckpointStore,
  LATEST_POINTER_NAME,
  type LatestCheckpoint,
  type LoadedCheckpoint,
  type SkippedCheckpoint,
} from './checkpoint-store.js';
export { decodeStateFile, encodeStateFile } from './state-file.js';
