/**
 * The clean-shutdown facts, in two places: the CleanShutdown record (type 7) that `close()`
 * appends as the log's last record, and the side file `wal/CLEAN` (layout in constants.ts,
 * docs/FORMAT.md). The record is the witness inside the log; the side file is the evidence that
 * survives when the log itself is cut short, record included.
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  CLEAN_MARKER_CRC_OFFSET,
  CLEAN_MARKER_END_OFFSET,
  CLEAN_MARKER_LSN_OFFSET,
  CLEAN_MARKER_MAGIC,
  CLEAN_MARKER_MAGIC_OFFSET,
  CLEAN_MARKER_RESERVED_OFFSET,
  CLEAN_MARKER_SEGMENT_OFFSET,
  CLEAN_MARKER_SIZE,
  CLEAN_MARKER_SIZE_OFFSET,
  CLEAN_MARKER_VERSION,
  CLEAN_MARKER_VERSION_OFFSET,
  CLEAN_SHUTDOWN_RECORD_SIZE,
  RecordType,
} from './constants.js';
import { crc32c } from './crc32c.js';
import type { PayloadEncoder } from './entry-codec.js';
import { readU64, writeU64 } from './record-frame.js';

/** What the side file `CLEAN` says: the log was closed cleanly and ended here. */
export interface CleanShutdownMarker {
  /** Number of the segment the log ended in. */
  segment: number;
  /** LSN of the log's last record (the CleanShutdown record itself, or the last record of a version 1 segment). */
  lsn: number;
  /** Size of that segment in bytes at close. */
  endOffset: number;
}

/**
 * CleanShutdown record payload encoder.
 *
 * Threads: a reusable scratch object: one per thread, never shared.
 */
export class CleanShutdownEncoder implements PayloadEncoder {
  /** Always `RecordType.CleanShutdown`: the WAL record type this encoder frames. */
  readonly recordType = RecordType.CleanShutdown;
  readonly byteLength = CLEAN_SHUTDOWN_RECORD_SIZE;
  /**
   * @param lastLsn LSN of the last record before this one.
   * @param segment number of the segment this record goes to.
   * @param offset byte offset of this record's frame in that segment.
   */
  constructor(
    private readonly lastLsn: number,
    private readonly segment: number,
    private readonly offset: number,
  ) {
    for (const [name, v] of [
      ['lastLsn', lastLsn],
      ['segment', segment],
      ['offset', offset],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `${name} must be a non-negative safe integer, got ${v}`,
        );
    }
  }
  encodeInto(buf: Buffer, offset: number): void {
    writeU64(buf, offset, this.lastLsn);
    writeU64(buf, offset + 8, this.segment);
    writeU64(buf, offset + 16, this.offset);
  }
}

/** Encodes the 40-byte side file. */
export function encodeCleanMarker(marker: CleanShutdownMarker): Buffer {
  const buf = Buffer.alloc(CLEAN_MARKER_SIZE);
  buf.writeUInt32LE(CLEAN_MARKER_MAGIC, CLEAN_MARKER_MAGIC_OFFSET);
  buf.writeUInt16LE(CLEAN_MARKER_VERSION, CLEAN_MARKER_VERSION_OFFSET);
  buf.writeUInt16LE(CLEAN_MARKER_SIZE, CLEAN_MARKER_SIZE_OFFSET);
  writeU64(buf, CLEAN_MARKER_SEGMENT_OFFSET, marker.segment);
  writeU64(buf, CLEAN_MARKER_LSN_OFFSET, marker.lsn);
  writeU64(buf, CLEAN_MARKER_END_OFFSET, marker.endOffset);
  buf.writeUInt32LE(0, CLEAN_MARKER_RESERVED_OFFSET);
  buf.writeUInt32LE(crc32c(buf, 0, CLEAN_MARKER_CRC_OFFSET), CLEAN_MARKER_CRC_OFFSET);
  return buf;
}

/**
 * Decodes the side file. Throws `TIDEMARK_CORRUPTION` (naming `path`) when its size, magic or
 * checksum is wrong — it is written atomically, so a crash never leaves it half-written — and
 * `TIDEMARK_UNSUPPORTED_VERSION` for a newer version.
 */
export function decodeCleanMarker(bytes: Uint8Array, path: string): CleanShutdownMarker {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < CLEAN_MARKER_SIZE_OFFSET + 2)
    throw corruption(path, 0, 'clean-shutdown marker is truncated');
  if (buf.readUInt32LE(CLEAN_MARKER_MAGIC_OFFSET) !== CLEAN_MARKER_MAGIC)
    throw corruption(path, 0, 'clean-shutdown marker has a bad magic');
  const version = buf.readUInt16LE(CLEAN_MARKER_VERSION_OFFSET);
  if (version > CLEAN_MARKER_VERSION)
    throw new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${path}: clean-shutdown marker version ${version} is newer than this build reads (${CLEAN_MARKER_VERSION})`,
      { path, offset: CLEAN_MARKER_VERSION_OFFSET },
    );
  if (buf.length !== CLEAN_MARKER_SIZE || buf.readUInt16LE(CLEAN_MARKER_SIZE_OFFSET) !== CLEAN_MARKER_SIZE)
    throw corruption(path, 0, `clean-shutdown marker is ${buf.length} bytes, expected ${CLEAN_MARKER_SIZE}`);
  if (buf.readUInt32LE(CLEAN_MARKER_CRC_OFFSET) !== crc32c(buf, 0, CLEAN_MARKER_CRC_OFFSET))
    throw corruption(path, CLEAN_MARKER_CRC_OFFSET, 'clean-shutdown marker checksum mismatch');
  if (version < 1 || buf.readUInt32LE(CLEAN_MARKER_RESERVED_OFFSET) !== 0)
    throw corruption(path, 0, 'clean-shutdown marker has a bad version or reserved field');
  return {
    segment: readU64(buf, CLEAN_MARKER_SEGMENT_OFFSET),
    lsn: readU64(buf, CLEAN_MARKER_LSN_OFFSET),
    endOffset: readU64(buf, CLEAN_MARKER_END_OFFSET),
  };
}
