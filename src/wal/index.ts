export { saveBrokenCopy } from './broken-copy.js';
export { readCleanMarker } from './clean-marker.js';
export { CoreWalWriter, type CoreWalWriterOptions, type NanoClock, wallClockNs } from './core-wal-writer.js';
export {
  archivingParticipant,
  CoreWalArchive,
  type CoreWalArchiveOptions,
  coreArchivePrefix,
  coreArchiveStorage,
  listArchivedCores,
} from './per-core-wal-archive.js';
export { localParticipant, type PerCoreWalConfig, PerCoreWalManager } from './per-core-wal-manager.js';
export {
  coreWalDirName,
  mergeSegments,
  type PerCoreReadOptions,
  PerCoreWalReader,
  type SegmentStats,
} from './per-core-wal-reader.js';
export { type ReadWalOptions, readWal, type WalRecord, type WalRecordPosition } from './read-wal.js';
export { listSegments, readSegmentHead, type SegmentHead, walSize } from './segment-files.js';
export {
  batchFraming,
  FRAME_FRAMING,
  type FramedUnit,
  framingFor,
  type SegmentFraming,
} from './segment-framing.js';
export {
  brokenFileName,
  classifyWalFileName,
  listSegmentNumbers,
  parseSegmentFileName,
  segmentFileName,
  type WalFileKind,
} from './segment-name.js';
export {
  type RecordInfo,
  type RecordVisitor,
  type ScanSegmentOptions,
  type SegmentScan,
  scanSegment,
  type TornTail,
  tornWriteRuledOut,
  WAL_RECOVERY_MODES,
  type WalDamage,
  type WalRecoveryMode,
} from './segment-scanner.js';
export {
  archivedSegmentKey,
  listArchivedSegments,
  WAL_ARCHIVE_CHANNEL,
  WAL_ARCHIVE_POSITION_KEY,
  WalArchiver,
  type WalArchiveStats,
} from './wal-archiver.js';
export { type WalPosition, WalReader, type WalReadOptions, type WalReadStats } from './wal-reader.js';
export { cutWalAt } from './wal-repair.js';
export { type BorrowedRecord, type WalOptions, type WalStats, WriteAheadLog } from './write-ahead-log.js';
