/**
 * The two ways a segment's records are framed, behind one interface the scanner walks: a frame
 * per record (segment format versions 1 and 2) or record batches (version 3, record-batch.ts).
 * The scanner's rules (LSN order, torn tails, salvage) are written once over *units* — a frame
 * or a batch, the thing that is whole or not — and this module says how to read one.
 */
import {
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  BATCH_RECORD_HEADER_SIZE,
  BATCH_RECORD_LENGTH_OFFSET,
  BATCH_RECORD_TYPE_OFFSET,
  MAX_BATCH_LENGTH,
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_HEADER_SIZE,
  RECORD_LENGTH_OFFSET,
  RECORD_TYPE_OFFSET,
  WAL_BATCH_FORMAT_VERSION,
} from '../format/constants.js';
import {
  type BatchInfo,
  BatchStatus,
  peekBatchLsn,
  peekBatchSegment,
  readBatch,
} from '../format/record-batch.js';
import { type FrameInfo, peekFrameLsn, type RecordPayload, readFrame } from '../format/record-frame.js';

/**
 * One valid record, as a {@link RecordVisitor} sees it: its payload (`buf` is the whole segment
 * image, `path` the segment file, `frameOffset` where the record's header starts in it — inside
 * its batch in a version 3 segment), its LSN and its segment's number. Pass it straight to
 * `decodeEntry` / `decodeCoreEntry`. Offsets (`frameOffset`, `batchOffset`, `nextOffset`) are
 * the file's; index `buf` with `payloadStart` only (a resumed `WalReader` read may hand out a
 * partial image whose bytes sit before their file offsets, see wal/segment-window.ts).
 *
 * A scan fills in and passes the same object for every record (nothing is allocated per
 * record), so it is valid only during the visitor's call: copy the fields (and the payload
 * bytes) that must outlive it.
 */
export interface RecordInfo extends RecordPayload {
  /** The record's LSN. */
  lsn: number;
  /** Number of the segment the record is in. */
  segmentNumber: number;
  /** Offset of the frame or batch holding the record: a read may resume there at this record's LSN. */
  batchOffset: number;
  /**
   * Commit time of the record's batch, ms since the Unix epoch (format version 4 on: when the
   * writer sealed the batch, just before its write and fdatasync); undefined in segments of
   * versions 1–3, which carry no time.
   */
  commitTimeMs: number | undefined;
  /**
   * Where a read resuming at the next LSN starts: the end of the record's frame or batch when
   * it is the last record in it, else {@link batchOffset} (the batch is read again from its start).
   */
  nextOffset: number;
}

/** Called for each valid record, in LSN order; `record` is reused (see {@link RecordInfo}). */
export type RecordVisitor = (record: Readonly<RecordInfo>) => void;

/** A frame or batch as {@link SegmentFraming.read} found it. */
export interface FramedUnit {
  /** LSN of its first record. */
  firstLsn: number;
  /** Records in it. */
  count: number;
  /** Total bytes, header included. */
  size: number;
  /** Commit time of a batch of a version 4 segment (ms since the Unix epoch); -1 when the unit has none. */
  commitTimeMs: number;
}

/** How one segment format version frames its records. */
export interface SegmentFraming {
  /** Bytes of a unit's header (20 for a frame, 32 for a batch). */
  readonly headerSize: number;
  /** Cap of the unit's length field. */
  readonly maxLength: number;
  /** Fewest bytes a record takes (bounds how many LSNs a byte range can hold). */
  readonly minRecordBytes: number;
  /** Reads the unit at `offset` (a `FrameStatus` / `BatchStatus`); on Ok fills `out`. */
  read(buf: Buffer, offset: number, end: number, out: FramedUnit): number;
  /** Declared length field of the unit header at `offset` (unchecked). */
  declaredLength(buf: Buffer, offset: number): number;
  /** True when a unit header at `p` could carry an LSN in [minLsn, maxLsn] (a cheap filter before `read`). */
  plausible(buf: Buffer, p: number, range: { minLsn: number; maxLsn: number }): boolean;
  /** LSN field of the unit header at `p` (unchecked). */
  peekLsn(buf: Buffer, p: number): number;
  /**
   * Calls `visit` for the unit's records with LSN ≥ `fromLsn`, filling `record` (whose `lsn`,
   * `type`, payload and offsets it sets) for each. The unit was read Ok at `offset`.
   */
  visitRecords(
    buf: Buffer,
    unit: { offset: number; info: FramedUnit; fromLsn: number },
    record: RecordInfo,
    visit: RecordVisitor,
  ): void;
}

/** Frames of versions 1 and 2: one 20-byte header and CRC per record. */
export const FRAME_FRAMING: SegmentFraming = (() => {
  const info: FrameInfo = { type: 0, lsn: 0, payloadLength: 0 };
  return {
    headerSize: RECORD_HEADER_SIZE,
    maxLength: MAX_RECORD_PAYLOAD_BYTES,
    minRecordBytes: RECORD_HEADER_SIZE,
    read(buf, offset, end, out) {
      const status = readFrame(buf, offset, end, info);
      out.firstLsn = info.lsn;
      out.count = 1;
      out.size = RECORD_HEADER_SIZE + info.payloadLength;
      out.commitTimeMs = -1;
      return status;
    },
    declaredLength: (buf, offset) => buf.readUInt32LE(offset + RECORD_LENGTH_OFFSET),
    plausible(buf, p, { minLsn, maxLsn }) {
      const lsn = peekFrameLsn(buf, p);
      return lsn >= minLsn && lsn <= maxLsn;
    },
    peekLsn: peekFrameLsn,
    visitRecords(buf, { offset, info: unit }, record, visit) {
      record.lsn = unit.firstLsn;
      record.type = buf[offset + RECORD_TYPE_OFFSET]!;
      record.payloadStart = offset + RECORD_HEADER_SIZE;
      record.payloadLength = unit.size - RECORD_HEADER_SIZE;
      record.frameOffset = offset;
      record.batchOffset = offset;
      record.nextOffset = offset + unit.size;
      record.commitTimeMs = undefined;
      visit(record);
    },
  };
})();

/**
 * Batches of version 3 on, written into segment `segment` (undefined: any segment, for a file
 * whose header is unreadable). A batch of another segment reads as {@link BatchStatus.OtherSegment}.
 * With `time.baseSeconds` (a version 4 segment's base time) batches carry a commit time, counted
 * from it; without, the header field is reserved (zero).
 */
export function batchFraming(
  segment: number | undefined,
  time: { baseSeconds?: number | undefined } = {},
): SegmentFraming {
  const timed = time.baseSeconds !== undefined;
  const baseMs = (time.baseSeconds ?? 0) * 1000;
  const expect: { segment: number | undefined; out: BatchInfo; timed: boolean } = {
    segment,
    out: { length: 0, count: 0, segment: 0, firstLsn: 0, commitDeltaMs: 0 },
    timed,
  };
  return {
    headerSize: BATCH_HEADER_SIZE,
    maxLength: MAX_BATCH_LENGTH,
    minRecordBytes: BATCH_RECORD_HEADER_SIZE,
    read(buf, offset, end, out) {
      const status = readBatch(buf, offset, end, expect);
      out.firstLsn = expect.out.firstLsn;
      out.count = expect.out.count;
      out.size = BATCH_HEADER_SIZE + expect.out.length;
      out.commitTimeMs = timed ? baseMs + (expect.out.commitDeltaMs ?? 0) : -1;
      return status;
    },
    declaredLength: (buf, offset) => buf.readUInt32LE(offset + BATCH_LENGTH_OFFSET),
    plausible(buf, p, { minLsn, maxLsn }) {
      if (segment !== undefined && peekBatchSegment(buf, p) !== segment) return false;
      const lsn = peekBatchLsn(buf, p);
      return lsn >= minLsn && lsn <= maxLsn;
    },
    peekLsn: peekBatchLsn,
    visitRecords(buf, { offset, info: unit, fromLsn }, record, visit) {
      // A batch wholly before the first LSN wanted (the records a checkpoint covers) was checked
      // by `read`; nothing in it is visited, so its records are not walked.
      if (unit.firstLsn + unit.count <= fromLsn) return;
      const end = offset + unit.size;
      record.commitTimeMs = timed ? unit.commitTimeMs : undefined;
      let p = offset + BATCH_HEADER_SIZE;
      for (let i = 0; i < unit.count; i++) {
        const payloadLength = buf.readUInt32LE(p + BATCH_RECORD_LENGTH_OFFSET);
        const lsn = unit.firstLsn + i;
        if (lsn >= fromLsn) {
          record.lsn = lsn;
          record.type = buf[p + BATCH_RECORD_TYPE_OFFSET]!;
          record.payloadStart = p + BATCH_RECORD_HEADER_SIZE;
          record.payloadLength = payloadLength;
          record.frameOffset = p;
          record.batchOffset = offset;
          record.nextOffset = i === unit.count - 1 ? end : offset;
          visit(record);
        }
        p += BATCH_RECORD_HEADER_SIZE + payloadLength;
      }
    },
  };
}

/**
 * The framing of a segment whose header says `header` (format version; base time from version
 * 4 on), numbered `segment`.
 */
export function framingFor(
  header: { version: number; baseSeconds?: number | undefined },
  segment: number | undefined,
): SegmentFraming {
  return header.version >= WAL_BATCH_FORMAT_VERSION
    ? batchFraming(segment, { baseSeconds: header.baseSeconds })
    : FRAME_FRAMING;
}

/** Whether a unit read with `status` is a batch of another segment (a reused file's old bytes). */
export function isOtherSegment(status: number): boolean {
  return status === BatchStatus.OtherSegment;
}
