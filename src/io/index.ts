export { BoundedConcurrency } from './bounded-concurrency.js';
export {
  CODEC_FALLBACK_WARNING,
  CODEC_NAMES,
  CODEC_PACKAGES,
  type CodecLoaders,
  type CodecName,
  Codecs,
  type CodecsOptions,
  type CompressionSpec,
  DEFAULT_OBJECT_COMPRESSION,
  defaultCodecs,
  FALLBACK_CODEC,
  type Lz4Module,
  type ResolvedCompression,
  resolveCompression,
  ZSTD_OFF_THREAD_MIN_BYTES,
  type ZstdModule,
} from './codecs.js';
export type { Directory, DirectoryFile, DirectoryLock, OpenMode, OpenOptions } from './directory.js';
export { FsDirectory, TEMP_SUFFIX } from './fs-directory.js';
export { LOCK_FILE_NAME } from './fs-lock.js';
export { MemoryDirectory } from './memory-directory.js';
export {
  isObjectStoreUrl,
  type ObjectStoreConfig,
  objectStoreUrl,
  parseObjectStoreUrl,
  type ResolvedObjectStoreConfig,
  resolveObjectStoreConfig,
} from './object-store-config.js';
export {
  OBJECT_STORE_CHANNEL,
  type ObjectInfo,
  type ObjectStorageStats,
  type PutOptions,
  type PutResult,
  S3ObjectStorage,
} from './s3-object-storage.js';
export {
  type ClaimEpochOptions,
  type ClaimedEpoch,
  type EpochClaim,
  type EpochCutoff,
  type EpochObjectKind,
  listEpochs,
  WRITERS_PREFIX,
  WriterFence,
  WriterHistory,
  type WriterRecord,
  writerKey,
} from './writer-epoch.js';
export { ZstdWorker, type ZstdWorkerOptions } from './zstd-off-thread.js';
