/**
 * The bytes of a group commit when some records are borrowed rather than copied (Ring 1 writes
 * records straight from Ring 0's shared arena, whose entries are laid out exactly as records
 * inside a batch): the group is then a list of views — the group buffer's own bytes (batch
 * headers, records appended by copy) and runs of borrowed memory — written with one vectored
 * write, and each batch's CRC32C is computed over those views in place. Without borrowed records
 * nothing here allocates and the group stays one contiguous buffer.
 */
import { BATCH_CRC_OFFSET, BATCH_CRC_START, BATCH_HEADER_SIZE } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { writeBatchHeaderFields } from '../format/record-batch.js';
import type { CommitClock } from './commit-clock.js';
import type { GroupBuffer } from './group-commit.js';

/** Moves the open borrowed run into `pieces`; own bytes may follow it from here on. */
export function closeBorrowedRun(group: GroupBuffer): void {
  if (group.runBuf === undefined) return;
  group.pieces.push(group.runBuf.subarray(group.runStart, group.runEnd));
  group.runBuf = undefined;
  group.pieceMark = group.length;
}

/** Adds borrowed bytes `buf[start, end)` after the group's content (extending the open run when contiguous). */
export function addBorrowed(group: GroupBuffer, buf: Buffer, start: number, end: number): void {
  if (group.runBuf === buf && group.runEnd === start) {
    group.runEnd = end;
  } else {
    closeBorrowedRun(group);
    if (group.length > group.pieceMark) {
      // The own bytes before the run (a batch header, copied records) become a piece; if the open
      // batch's header is among them, remember where (later header writes go to that view).
      if (group.batchAt >= group.pieceMark && group.batchPiece < 0) {
        group.batchPiece = group.pieces.length;
        group.batchPieceOffset = group.batchAt - group.pieceMark;
      }
      group.pieces.push(group.buf.subarray(group.pieceMark, group.length));
      group.pieceMark = group.length;
    }
    group.runBuf = buf;
    group.runStart = start;
    group.runEnd = end;
  }
  group.borrowed += end - start;
}

/**
 * Seals `group`'s open batch, if any: writes its header fields — with its commit time from
 * `clock`, taken now, in a version 4 segment — and the CRC32C over them and every record after
 * them, wherever those bytes are (own buffer, borrowed runs), without copying.
 */
export function sealOpenBatch(group: GroupBuffer, clock: CommitClock): void {
  const at = group.batchAt;
  if (at < 0) return;
  const info = {
    length: 0,
    count: group.batchRecords,
    segment: group.batchSegment,
    firstLsn: group.batchFirstLsn,
    commitDeltaMs: group.batchBaseSeconds < 0 ? 0 : clock.stamp(group.batchBaseSeconds),
  };
  if (group.batchPiece < 0) {
    // Header and records all in the own buffer, after the last piece: the usual contiguous case.
    info.length = group.length - at - BATCH_HEADER_SIZE;
    writeBatchHeaderFields(group.buf, at, info);
    group.buf.writeUInt32LE(crc32c(group.buf, at + BATCH_CRC_START, group.length), at + BATCH_CRC_OFFSET);
  } else {
    const head = group.pieces[group.batchPiece]!;
    const h = group.batchPieceOffset;
    const tail = group.runBuf === undefined ? group.length - group.pieceMark : group.runEnd - group.runStart;
    let length = head.length - h - BATCH_HEADER_SIZE + tail;
    for (let i = group.batchPiece + 1; i < group.pieces.length; i++) length += group.pieces[i]!.length;
    info.length = length;
    writeBatchHeaderFields(head, h, info);
    let crc = crc32c(head, h + BATCH_CRC_START, head.length);
    for (let i = group.batchPiece + 1; i < group.pieces.length; i++) {
      const p = group.pieces[i]!;
      crc = crc32c(p, 0, p.length, crc);
    }
    crc =
      group.runBuf === undefined
        ? crc32c(group.buf, group.pieceMark, group.length, crc)
        : crc32c(group.runBuf, group.runStart, group.runEnd, crc);
    head.writeUInt32LE(crc, h + BATCH_CRC_OFFSET);
  }
  group.batchAt = -1;
  group.batchPiece = -1;
}

/** The group's bytes in order, as views (only for a group with borrowed records). */
export function groupViews(group: GroupBuffer): Buffer[] {
  const views = group.pieces.slice();
  if (group.runBuf !== undefined) views.push(group.runBuf.subarray(group.runStart, group.runEnd));
  else if (group.length > group.pieceMark) views.push(group.buf.subarray(group.pieceMark, group.length));
  return views;
}
