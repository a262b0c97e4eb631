/**
 * Record framing: a 20-byte header (CRC32C, payload length, type, LSN) before each payload.
 * The checksum covers the length, type, reserved bytes and LSN as well as the payload, so a
 * damaged length can never make the reader skip to a wrong place unnoticed.
 */

import {
  MAX_RECORD_PAYLOAD_BYTES,
  MAX_RECORD_TYPE,
  RECORD_CRC_OFFSET,
  RECORD_CRC_START,
  RECORD_HEADER_SIZE,
  RECORD_LENGTH_OFFSET,
  RECORD_LSN_OFFSET,
  RECORD_RESERVED_OFFSET,
  RECORD_TYPE_OFFSET,
} from './constants.js';
import { crc32c } from './crc32c.js';

/**
 * Where a record's payload lies and where the record is, as the payload decoders take it
 * (`decodeEntry`, `decodeCoreEntry`); the WAL's record visitor passes one (`RecordInfo`).
 */
export interface RecordPayload {
  /** The record type (`RecordType`). */
  type: number;
  /** Buffer holding the payload at `buf[payloadStart, payloadStart + payloadLength)`. */
  buf: Buffer;
  /** Byte offset of the payload in `buf`. */
  payloadStart: number;
  /** Payload length in bytes. */
  payloadLength: number;
  /** File the record is in, named by errors. */
  path: string;
  /** Byte offset of the record's frame in that file, named by errors. */
  frameOffset: number;
}

/**
 * Writes the record header for a payload already placed at `offset + RECORD_HEADER_SIZE` in
 * `buf`, computing the checksum over header and payload. Returns the frame's total size.
 */
export function sealFrame(
  buf: Buffer,
  offset: number,
  type: number,
  lsn: number,
  payloadLength: number,
): number {
  buf.writeUInt32LE(payloadLength, offset + RECORD_LENGTH_OFFSET);
  buf[offset + RECORD_TYPE_OFFSET] = type;
  buf[offset + RECORD_RESERVED_OFFSET] = 0;
  buf[offset + RECORD_RESERVED_OFFSET + 1] = 0;
  buf[offset + RECORD_RESERVED_OFFSET + 2] = 0;
  writeU64(buf, offset + RECORD_LSN_OFFSET, lsn);
  const end = offset + RECORD_HEADER_SIZE + payloadLength;
  buf.writeUInt32LE(crc32c(buf, offset + RECORD_CRC_START, end), offset + RECORD_CRC_OFFSET);
  return RECORD_HEADER_SIZE + payloadLength;
}

/** Outcome of {@link readFrame}. */
export const FrameStatus = {
  /** A whole record with a valid checksum. */
  Ok: 0,
  /** The header or payload runs past the end of the data. */
  Truncated: 1,
  /** The length field is over {@link MAX_RECORD_PAYLOAD_BYTES}. */
  BadLength: 2,
  /** The checksum does not match. */
  BadChecksum: 3,
  /** Checksum matches but the type or reserved bytes are invalid (written by a newer version?). */
  BadType: 4,
} as const;
export type FrameStatus = (typeof FrameStatus)[keyof typeof FrameStatus];

/** A reusable result holder, so scanning allocates nothing per record. */
export interface FrameInfo {
  /** Record type byte (a `RecordType`). */
  type: number;
  /** LSN of the record. */
  lsn: number;
  /** Payload size after the record header (bytes). */
  payloadLength: number;
}

/** Checks the frame at `offset` in `buf[.., end)`; on `Ok` fills `out`. */
export function readFrame(buf: Buffer, offset: number, end: number, out: FrameInfo): FrameStatus {
  if (end - offset < RECORD_HEADER_SIZE) return FrameStatus.Truncated;
  const length = buf.readUInt32LE(offset + RECORD_LENGTH_OFFSET);
  if (length > MAX_RECORD_PAYLOAD_BYTES) return FrameStatus.BadLength;
  const frameEnd = offset + RECORD_HEADER_SIZE + length;
  if (frameEnd > end) return FrameStatus.Truncated;
  if (buf.readUInt32LE(offset + RECORD_CRC_OFFSET) !== crc32c(buf, offset + RECORD_CRC_START, frameEnd)) {
    return FrameStatus.BadChecksum;
  }
  const type = buf[offset + RECORD_TYPE_OFFSET]!;
  if (
    type === 0 ||
    type > MAX_RECORD_TYPE ||
    buf[offset + RECORD_RESERVED_OFFSET] !== 0 ||
    buf[offset + RECORD_RESERVED_OFFSET + 1] !== 0 ||
    buf[offset + RECORD_RESERVED_OFFSET + 2] !== 0
  ) {
    return FrameStatus.BadType;
  }
  out.type = type;
  out.lsn = readU64(buf, offset + RECORD_LSN_OFFSET);
  out.payloadLength = length;
  return FrameStatus.Ok;
}

/** Reads the (unchecked) LSN field of a frame header at `offset`. */
export function peekFrameLsn(buf: Buffer, offset: number): number {
  return readU64(buf, offset + RECORD_LSN_OFFSET);
}

/** Writes a non-negative safe integer as a little-endian u64 without allocating a BigInt. */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** Reads a little-endian u64; values above 2^53 come back imprecise and fail range checks upstream. */
export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 0x1_0000_0000;
}
