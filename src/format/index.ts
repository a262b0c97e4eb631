export * from './constants.js';
export { crc32c, crc32cJs, NATIVE_THRESHOLD_BYTES } from './crc32c.js';
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
  type FrameInfo,
  FrameStatus,
  peekFrameLsn,
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
