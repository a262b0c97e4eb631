export { type RecordVisitor, type SegmentScan, scanSegment, type TornTail } from './segment-scanner.js';
export { listSegmentNumbers, parseSegmentFileName, segmentFileName } from './segment-name.js';
export { type WalReadStats, WalReader } from './wal-reader.js';
export { type WalOptions, type WalStats, WriteAheadLog } from './write-ahead-log.js';
