/** Encoder and decoder of the 32-byte WAL segment header (layout in constants.ts, docs/FORMAT.md). */

import {
  MIN_WAL_FORMAT_VERSION,
  SEGMENT_BASE_TIME_OFFSET,
  SEGMENT_FIRST_LSN_OFFSET,
  SEGMENT_HEADER_CRC_OFFSET,
  SEGMENT_HEADER_SIZE,
  SEGMENT_HEADER_SIZE_OFFSET,
  SEGMENT_MAGIC,
  SEGMENT_MAGIC_OFFSET,
  SEGMENT_NUMBER_OFFSET,
  SEGMENT_VERSION_OFFSET,
  WAL_COMMIT_TIME_FORMAT_VERSION,
  WAL_FORMAT_VERSION,
} from './constants.js';
import { crc32c } from './crc32c.js';

/** What a segment header says. */
export interface SegmentHeader {
  /** Format version the segment was written with. */
  version: number;
  /** The segment's number; consecutive segments have consecutive numbers. */
  segmentNumber: number;
  /** LSN of the segment's first record. */
  firstLsn: number;
  /**
   * Version 4 on: the segment's base time, whole seconds since the Unix epoch; its batches'
   * commit times are counted from it. Undefined for versions 1–3 (no commit times).
   */
  baseSeconds?: number | undefined;
}

/**
 * Writes a header for `segmentNumber` / `firstLsn` (version {@link WAL_FORMAT_VERSION}) into a
 * new 32-byte buffer, with `time.baseSeconds` (whole seconds since the Unix epoch, a u32;
 * default 0) as the segment's base time.
 */
export function encodeSegmentHeader(
  segmentNumber: number,
  firstLsn: number,
  time: { baseSeconds?: number | undefined } = {},
): Uint8Array {
  const buf = new Uint8Array(SEGMENT_HEADER_SIZE);
  const view = new DataView(buf.buffer);
  view.setUint32(SEGMENT_MAGIC_OFFSET, SEGMENT_MAGIC, true);
  view.setUint16(SEGMENT_VERSION_OFFSET, WAL_FORMAT_VERSION, true);
  view.setUint16(SEGMENT_HEADER_SIZE_OFFSET, SEGMENT_HEADER_SIZE, true);
  view.setBigUint64(SEGMENT_NUMBER_OFFSET, BigInt(segmentNumber), true);
  view.setBigUint64(SEGMENT_FIRST_LSN_OFFSET, BigInt(firstLsn), true);
  view.setUint32(SEGMENT_BASE_TIME_OFFSET, time.baseSeconds ?? 0, true);
  view.setUint32(SEGMENT_HEADER_CRC_OFFSET, crc32c(buf, 0, SEGMENT_HEADER_CRC_OFFSET), true);
  return buf;
}

/** Why a header did not decode. */
export type SegmentHeaderProblem = 'short' | 'checksum' | 'magic' | 'version';

/**
 * Decodes the header at the start of `buf`. Returns the problem instead of throwing, so the
 * caller can tell a torn header (possible only in the newest segment) from corruption.
 * A header with a valid checksum but a version outside [MIN_WAL_FORMAT_VERSION,
 * WAL_FORMAT_VERSION] is reported as `version`.
 */
export function decodeSegmentHeader(buf: Uint8Array): SegmentHeader | SegmentHeaderProblem {
  if (buf.length < SEGMENT_HEADER_SIZE) return 'short';
  const view = new DataView(buf.buffer, buf.byteOffset, SEGMENT_HEADER_SIZE);
  if (view.getUint32(SEGMENT_HEADER_CRC_OFFSET, true) !== crc32c(buf, 0, SEGMENT_HEADER_CRC_OFFSET)) {
    return 'checksum';
  }
  if (view.getUint32(SEGMENT_MAGIC_OFFSET, true) !== SEGMENT_MAGIC) return 'magic';
  const version = view.getUint16(SEGMENT_VERSION_OFFSET, true);
  if (
    version < MIN_WAL_FORMAT_VERSION ||
    version > WAL_FORMAT_VERSION ||
    view.getUint16(SEGMENT_HEADER_SIZE_OFFSET, true) !== SEGMENT_HEADER_SIZE
  ) {
    return 'version';
  }
  const header: SegmentHeader = {
    version,
    segmentNumber: Number(view.getBigUint64(SEGMENT_NUMBER_OFFSET, true)),
    firstLsn: Number(view.getBigUint64(SEGMENT_FIRST_LSN_OFFSET, true)),
  };
  if (version >= WAL_COMMIT_TIME_FORMAT_VERSION)
    header.baseSeconds = view.getUint32(SEGMENT_BASE_TIME_OFFSET, true);
  return header;
}
