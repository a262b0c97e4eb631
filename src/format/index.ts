export {
  type CheckpointExtras,
  type CheckpointFileEntry,
  type CheckpointKind,
  type CheckpointManifest,
  type CheckpointStateSummary,
  type ConnectorCheckpoint,
  decodeManifest,
  encodeManifest,
  type IncrementalCheckpointMetadata,
  type OperatorCheckpoint,
  type PerCoreWalPosition,
  type SinkCommitStatus,
} from './checkpoint-manifest.js';
export {
  CleanShutdownEncoder,
  type CleanShutdownMarker,
  decodeCleanMarker,
  encodeCleanMarker,
} from './clean-shutdown.js';
export {
  CODEC_FRAME_HEADER_SIZE,
  CODEC_FRAME_MAGIC,
  CODEC_FRAME_VERSION,
  type CodecFrameHeader,
  CodecId,
  codecNameOf,
  decodeCodecFrame,
  decodeObject,
  type EncodedObject,
  encodeCodecFrame,
  encodeObject,
  FrameTransform,
  isCodecFrame,
} from './codec.js';
export * from './constants.js';
export {
  CRC32C_FALLBACK_WARNING,
  crc32c,
  crc32cImplementation,
  crc32cJs,
  maskCrc32c,
  NATIVE_THRESHOLD_BYTES,
  unmaskCrc32c,
} from './crc32c.js';
export {
  ABORT_ENCODER,
  CheckpointMarkerEncoder,
  CommitEncoder,
  DeleteEncoder,
  decodeEntry,
  type PayloadEncoder,
  PutEncoder,
  type SourceOffsets,
  type WalEntry,
} from './entry-codec.js';
export {
  CoreEntryEncoder,
  comparePerCoreEntries,
  decodeCoreEntry,
  type PerCoreWalEntry,
  type WalOperation,
} from './per-core-entry.js';
export {
  type BatchInfo,
  BatchStatus,
  peekBatchLsn,
  peekBatchSegment,
  readBatch,
  sealBatch,
  writeBatchHeaderFields,
  writeBatchRecordHeader,
} from './record-batch.js';
export {
  type FrameInfo,
  FrameStatus,
  peekFrameLsn,
  type RecordPayload,
  readFrame,
  readU64,
  sealFrame,
  writeU64,
} from './record-frame.js';
export {
  decodeSegmentHeader,
  encodeSegmentHeader,
  type SegmentHeader,
  type SegmentHeaderProblem,
} from './segment-header.js';
export {
  applyStateFile,
  decodeStateFile,
  encodeStateFile,
  encodeStateFileChunks,
  readStateFile,
  type StateFileEntry,
  type StateFileEntryRange,
  type StateFileInfo,
  type StateFileTarget,
  scanStateFile,
} from './state-file.js';
export { StateFileStreamReader, type StreamedStateFileInfo } from './state-file-reader.js';
export {
  type KeyBytesEntry,
  type StateBlock,
  StateFileV3Encoder,
  sortStateEntries,
} from './state-file-v3.js';
export { packSegment, unpackSegment } from './wal-pack.js';
