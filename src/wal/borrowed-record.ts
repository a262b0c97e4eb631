/**
 * A record the WAL writes in place from memory its caller owns (`WriteAheadLog.appendBorrowed`:
 * Ring 1's shared arena, whose entries are laid out as batch records), and the copy fallback for
 * segments of format version 1 or 2, whose frames cannot point into that memory.
 */
import { BATCH_RECORD_HEADER_SIZE, type RecordType } from '../format/constants.js';
import type { PayloadEncoder } from '../format/entry-codec.js';

/**
 * A record {@link WriteAheadLog.appendBorrowed} writes in place: `buf[start, start + 5)` holds
 * its record header as a batch stores it (u8 type, u32 payload length), the payload follows.
 */
export interface BorrowedRecord {
  /** Memory holding the record (Ring 1: the shared arena). */
  buf: Buffer;
  /** Offset of the record header in `buf`. */
  start: number;
  /** The record type (`RecordType`), as in the header. */
  recordType: RecordType;
  /** Payload length in bytes, as in the header. */
  payloadLength: number;
}

/** Copies a borrowed record's payload into a frame (segments of format version 1 or 2). */
export class BorrowedCopy implements PayloadEncoder {
  recordType: RecordType = 1;
  byteLength = 0;
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  set(record: BorrowedRecord): this {
    this.recordType = record.recordType;
    this.byteLength = record.payloadLength;
    this.buf = record.buf;
    this.start = record.start + BATCH_RECORD_HEADER_SIZE;
    return this;
  }
  encodeInto(buf: Buffer, offset: number): void {
    this.buf.copy(buf, offset, this.start, this.start + this.byteLength);
  }
}
