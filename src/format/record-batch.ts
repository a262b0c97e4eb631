/**
 * Record batches (WAL format version 3; Kafka's RecordBatch, RocksDB's WriteBatch): one 32-byte
 * header and one CRC32C for many records, each inside it a 5-byte record header (type, length)
 * and its payload. The LSN of record i of a batch is the batch's first LSN + i. The header names
 * the segment the batch was written into, so old bytes of a reused file never parse as records
 * of the new one. From version 4 the header also carries the batch's commit time, in ms after
 * its segment's base time. Layout in constants.ts and docs/FORMAT.md, "Record batches".
 */

import { assert } from '../errors.js';
import {
  BATCH_COMMIT_TIME_OFFSET,
  BATCH_COUNT_OFFSET,
  BATCH_CRC_OFFSET,
  BATCH_CRC_START,
  BATCH_FIRST_LSN_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  BATCH_RECORD_HEADER_SIZE,
  BATCH_RECORD_LENGTH_OFFSET,
  BATCH_RECORD_TYPE_OFFSET,
  BATCH_RESERVED_OFFSET,
  BATCH_SEGMENT_OFFSET,
  MAX_BATCH_LENGTH,
  MAX_RECORD_PAYLOAD_BYTES,
  MAX_RECORD_TYPE,
} from './constants.js';
import { crc32c } from './crc32c.js';
import { FrameStatus, readU64, writeU64 } from './record-frame.js';

/** What a batch header says (filled by {@link readBatch}; also what {@link sealBatch} writes). */
export interface BatchInfo {
  /** Bytes of records after the header. */
  length: number;
  /** Records in the batch (≥ 1). */
  count: number;
  /** Number of the segment the batch was written into. */
  segment: number;
  /** LSN of the first record. */
  firstLsn: number;
  /**
   * Version 4 on: the batch's commit time, in ms after its segment's base time (a u32). Written
   * as 0 when absent; read only from a timed segment (`readBatch`'s `expect.timed`).
   */
  commitDeltaMs?: number;
}

/**
 * Writes the header fields of a batch (not its CRC) at `offset` in `header`: the CRC is computed
 * after, over these fields and the records, which may lie elsewhere (vectored writes).
 */
export function writeBatchHeaderFields(header: Buffer, offset: number, info: BatchInfo): void {
  header.writeUInt32LE(info.length, offset + BATCH_LENGTH_OFFSET);
  header.writeUInt32LE(info.count, offset + BATCH_COUNT_OFFSET);
  // Version 3's reserved field is version 4's commit time (0 when the segment has none).
  header.writeUInt32LE(info.commitDeltaMs ?? 0, offset + BATCH_COMMIT_TIME_OFFSET);
  writeU64(header, offset + BATCH_SEGMENT_OFFSET, info.segment);
  writeU64(header, offset + BATCH_FIRST_LSN_OFFSET, info.firstLsn);
}

/**
 * Seals a batch whose records already lie at `offset + BATCH_HEADER_SIZE` in `buf`: writes the
 * header and its CRC32C (one call over header fields and records). Returns the batch's total size.
 */
export function sealBatch(buf: Buffer, offset: number, info: BatchInfo): number {
  writeBatchHeaderFields(buf, offset, info);
  const end = offset + BATCH_HEADER_SIZE + info.length;
  buf.writeUInt32LE(crc32c(buf, offset + BATCH_CRC_START, end), offset + BATCH_CRC_OFFSET);
  return BATCH_HEADER_SIZE + info.length;
}

/** Writes one record header (type, payload length) at `offset`; the payload follows it. */
export function writeBatchRecordHeader(
  buf: Buffer,
  offset: number,
  type: number,
  payloadLength: number,
): void {
  buf[offset + BATCH_RECORD_TYPE_OFFSET] = type;
  buf.writeUInt32LE(payloadLength, offset + BATCH_RECORD_LENGTH_OFFSET);
}

/** {@link FrameStatus} plus the batch-only outcome. */
export const BatchStatus = {
  ...FrameStatus,
  /** A whole batch with a valid checksum, written into another segment (a reused file's old bytes). */
  OtherSegment: 5,
} as const;
export type BatchStatus = (typeof BatchStatus)[keyof typeof BatchStatus];

/**
 * Checks the batch at `offset` in `buf[.., end)`: length cap, bounds, checksum, then the header's
 * fixed fields and that its records (valid types, lengths within the cap) fill it exactly; last,
 * that it was written into segment `segment`. On `Ok` fills `out`. With `expect.timed` (a version
 * 4 segment) the header's u32 at offset 12 is the commit time (`out.commitDeltaMs`); otherwise it
 * is reserved and must be zero.
 */
export function readBatch(
  buf: Buffer,
  offset: number,
  end: number,
  expect: { segment: number | undefined; out: BatchInfo; timed?: boolean | undefined },
): BatchStatus {
  if (end - offset < BATCH_HEADER_SIZE) return BatchStatus.Truncated;
  const length = buf.readUInt32LE(offset + BATCH_LENGTH_OFFSET);
  if (length > MAX_BATCH_LENGTH) return BatchStatus.BadLength;
  const batchEnd = offset + BATCH_HEADER_SIZE + length;
  if (batchEnd > end) return BatchStatus.Truncated;
  if (buf.readUInt32LE(offset + BATCH_CRC_OFFSET) !== crc32c(buf, offset + BATCH_CRC_START, batchEnd))
    return BatchStatus.BadChecksum;
  const count = buf.readUInt32LE(offset + BATCH_COUNT_OFFSET);
  if (count === 0 || (expect.timed !== true && buf.readUInt32LE(offset + BATCH_RESERVED_OFFSET) !== 0))
    return BatchStatus.BadType;
  // The records must fill the batch exactly, with valid types: a checksummed batch that does not
  // is from a newer writer (or a bug), never something to guess at.
  let p = offset + BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (batchEnd - p < BATCH_RECORD_HEADER_SIZE) return BatchStatus.BadType;
    const type = buf[p + BATCH_RECORD_TYPE_OFFSET]!;
    const payloadLength = buf.readUInt32LE(p + BATCH_RECORD_LENGTH_OFFSET);
    if (type === 0 || type > MAX_RECORD_TYPE || payloadLength > MAX_RECORD_PAYLOAD_BYTES)
      return BatchStatus.BadType;
    p += BATCH_RECORD_HEADER_SIZE + payloadLength;
    if (p > batchEnd) return BatchStatus.BadType;
  }
  if (p !== batchEnd) return BatchStatus.BadType;
  const segment = readU64(buf, offset + BATCH_SEGMENT_OFFSET);
  const out = expect.out;
  out.length = length;
  out.count = count;
  out.segment = segment;
  out.firstLsn = readU64(buf, offset + BATCH_FIRST_LSN_OFFSET);
  out.commitDeltaMs = expect.timed === true ? buf.readUInt32LE(offset + BATCH_COMMIT_TIME_OFFSET) : 0;
  if (expect.segment !== undefined && segment !== expect.segment) return BatchStatus.OtherSegment;
  return BatchStatus.Ok;
}

/** Reads the (unchecked) first-LSN field of a batch header at `offset`. */
export function peekBatchLsn(buf: Buffer, offset: number): number {
  return readU64(buf, offset + BATCH_FIRST_LSN_OFFSET);
}

/** Reads the (unchecked) segment-number field of a batch header at `offset`. */
export function peekBatchSegment(buf: Buffer, offset: number): number {
  return readU64(buf, offset + BATCH_SEGMENT_OFFSET);
}

/**
 * Re-seals the valid batch at `batch.offset` in `buf` (described by `batch.info`, as
 * {@link readBatch} filled it) to hold only its first `batch.keep` records, in place: count, length and CRC32C are rewritten.
 * Returns the shortened batch's total size. A batch is the unit the reader takes whole or not,
 * so a cut inside one (point-in-time recovery to an LSN in the middle of a group) must make a
 * smaller valid batch, never cut bytes out of a checksummed one.
 */
export function shortenBatch(buf: Buffer, batch: { offset: number; info: BatchInfo; keep: number }): number {
  const { offset, info, keep } = batch;
  assert(keep >= 1 && keep <= info.count, `shortenBatch keeps ${keep} of ${info.count} records`);
  let p = offset + BATCH_HEADER_SIZE;
  for (let i = 0; i < keep; i++) {
    p += BATCH_RECORD_HEADER_SIZE + buf.readUInt32LE(p + BATCH_RECORD_LENGTH_OFFSET);
  }
  return sealBatch(buf, offset, { ...info, count: keep, length: p - offset - BATCH_HEADER_SIZE });
}
