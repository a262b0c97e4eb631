/**
 * Point-in-time recovery from the object store (PostgreSQL's `recovery_target_lsn` /
 * `recovery_target_time`): the restore takes the newest checkpoint at or before the target and
 * the archived WAL after it, then ends the copied WAL just after the target record, so the
 * restored directory — opened or recovered later, by anything — holds exactly the state as of
 * the target.
 *
 * `untilTimeMs` is exact, as PostgreSQL's `recovery_target_time` on commit timestamps: from WAL
 * format version 4 every batch (one group commit's records, committed together) carries the time
 * the writer sealed it, and the restore keeps every batch whose commit time is at or before the
 * target, stopping at the first later one. The base checkpoint is the newest created at or before
 * the target. A log written before commit times existed (versions 1–3) is refused rather than
 * resolved approximately.
 */
import type { CheckpointFilter } from '../checkpoint/filtered-checkpoint-view.js';
import { TidemarkError } from '../errors.js';
import { BATCH_HEADER_SIZE, SEGMENT_HEADER_SIZE, WAL_BATCH_FORMAT_VERSION } from '../format/constants.js';
import { type BatchInfo, BatchStatus, readBatch, shortenBatch } from '../format/record-batch.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { Directory, DirectoryFile } from '../io/directory.js';
import { checkInteger, checkNumber } from '../validation.js';
import { removeCleanMarker } from '../wal/clean-marker.js';
import { listSegments, readSegmentHead } from '../wal/segment-files.js';
import { segmentFileName } from '../wal/segment-name.js';
import { WalReader } from '../wal/wal-reader.js';

/** A recovery target: at most one of the two. */
export interface PointInTimeTarget {
  /** Restore the state as of this LSN (every record ≤ it applied, none after). */
  untilLsn?: number | undefined;
  /**
   * Restore the state as of this wall-clock time, ms since the Unix epoch: every batch whose
   * commit time is ≤ it applied, from the first later batch on none (docs/OBJECT-STORE.md, "Point-in-time recovery").
   */
  untilTimeMs?: number | undefined;
}

/** Checks a target (`TIDEMARK_INVALID_ARGUMENT`); undefined when it names none. */
export function checkPointInTimeTarget(t: PointInTimeTarget): PointInTimeTarget | undefined {
  if (t.untilLsn !== undefined && t.untilTimeMs !== undefined)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'give untilLsn or untilTimeMs, not both', {
      argument: 'untilLsn',
    });
  if (t.untilLsn !== undefined) checkInteger('untilLsn', t.untilLsn, 0, Number.MAX_SAFE_INTEGER);
  else if (t.untilTimeMs !== undefined) checkNumber('untilTimeMs', t.untilTimeMs, 0, Number.MAX_SAFE_INTEGER);
  else return undefined;
  return t;
}

/** The checkpoints a restore to `t` may start from: at or before the target. */
export function pointInTimeFilter(t: PointInTimeTarget): CheckpointFilter {
  return {
    trustedThrough: 0,
    accept: (m) =>
      (t.untilLsn === undefined || m.walPosition.lsn <= t.untilLsn) &&
      (t.untilTimeMs === undefined || m.createdAtMs <= t.untilTimeMs),
  };
}

/**
 * Ends the WAL in `walDir` just after the record with LSN `untilLsn`: later segments are removed,
 * the one holding it truncated after it. Throws `TIDEMARK_DATA_LOSS` when the WAL ends before
 * `untilLsn` — the target is not in the archive.
 */
export async function endWalAt(walDir: Directory, untilLsn: number): Promise<void> {
  const segments = await listSegments(walDir);
  if (segments.length === 0) return;
  const head = (await readSegmentHead(walDir, segments[0]!)).header;
  const firstLsn = head === undefined || typeof head === 'string' ? 1 : head.firstLsn;
  let keep: { segment: number; offset: number };
  if (untilLsn < firstLsn) {
    // The target is the record just before the WAL (the checkpoint's): keep the first segment
    // empty, so the log still says where it goes on.
    keep = { segment: segments[0]!, offset: SEGMENT_HEADER_SIZE };
  } else {
    const read = await WalReader.read(walDir, { fromLsn: firstLsn, untilLsn }, () => {});
    if (read.lastLsn < untilLsn || read.endPosition === undefined)
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `the archived WAL ends at LSN ${read.lastLsn}, before the recovery target LSN ${untilLsn}`,
        { path: walDir.path },
      );
    keep = read.endPosition;
  }
  for (const n of segments.filter((x) => x > keep.segment).reverse())
    await walDir.remove([segmentFileName(n)]);
  const file = await walDir.open(segmentFileName(keep.segment), 'write');
  try {
    const size = await file.size();
    // In a batched segment (format v3) the read ends at the end of the batch holding the target,
    // which may hold later records too: that batch is re-sealed with only the records ≤ target.
    const end = await shortenBatchEndingAt(file, { segment: keep.segment, end: keep.offset, untilLsn });
    if (size > end) {
      await file.truncate(end);
      await file.datasync();
    }
  } finally {
    await file.close();
  }
  await removeCleanMarker(walDir);
}

/**
 * In a v3 (batched) segment a read to `untilLsn` stops at a batch boundary, before or after the
 * batch holding the target, which may hold later records too. This finds that batch in the
 * segment, re-seals it in place with only the records ≤ `untilLsn` (fdatasynced) and returns
 * where the segment's data now ends; otherwise (frames of v1/v2 end exactly at a record) `end`.
 */
async function shortenBatchEndingAt(
  file: DirectoryFile,
  at: { segment: number; end: number; untilLsn: number },
): Promise<number> {
  const size = await file.size();
  if (size <= SEGMENT_HEADER_SIZE) return at.end;
  const buf = Buffer.alloc(size);
  await file.read(buf, 0, size, 0);
  const head = decodeSegmentHeader(buf);
  if (typeof head === 'string' || head.version < WAL_BATCH_FORMAT_VERSION) return at.end;
  const info: BatchInfo = { length: 0, count: 0, segment: 0, firstLsn: 0, commitDeltaMs: 0 };
  // A shortened batch keeps its commit time (version 4): `shortenBatch` re-seals every header field.
  const expect = { segment: at.segment, out: info, timed: head.baseSeconds !== undefined };
  let offset = SEGMENT_HEADER_SIZE;
  while (offset < size) {
    if (readBatch(buf, offset, size, expect) !== BatchStatus.Ok) break;
    const next = offset + BATCH_HEADER_SIZE + info.length;
    if (info.firstLsn > at.untilLsn) return offset;
    if (info.firstLsn + info.count - 1 >= at.untilLsn) {
      const keep = at.untilLsn - info.firstLsn + 1;
      if (keep === info.count) return next;
      const shortened = shortenBatch(buf, { offset, info, keep });
      await file.write(buf, offset, shortened, offset);
      await file.datasync();
      return offset + shortened;
    }
    offset = next;
  }
  return at.end;
}

/**
 * The LSN a restore to commit time `untilTimeMs` (ms since the Unix epoch) ends at, read from
 * the WAL in `walDir` after LSN `afterLsn` (the base checkpoint's): the last record of the last
 * batch whose commit time is ≤ `untilTimeMs`, stopping at the first batch committed later
 * (`afterLsn` itself when that is the first batch after it). Batches are taken whole: a batch's
 * records were committed together. Throws `TIDEMARK_INVALID_ARGUMENT` when a record it must
 * look at carries no commit time (segments of format versions 1–3: the log predates commit
 * times, and the target cannot be resolved exactly); `TIDEMARK_DATA_LOSS` when the WAL ends
 * with no batch committed after the target — records committed between its last batch and the
 * target may be missing from it (PostgreSQL: "recovery ended before configured recovery target
 * was reached"); `TIDEMARK_CORRUPTION` for a damaged WAL or commit times going backwards within
 * a segment.
 */
export async function lsnAtCommitTime(
  walDir: Directory,
  target: { afterLsn: number; untilTimeMs: number },
): Promise<number> {
  const { afterLsn, untilTimeMs } = target;
  let lsn = afterLsn;
  let lastTime: number | undefined;
  let reached = false;
  let untimed: { lsn: number; path: string } | undefined;
  await WalReader.read(walDir, { fromLsn: afterLsn + 1 }, (record) => {
    if (reached || untimed !== undefined) return;
    if (record.commitTimeMs === undefined) {
      untimed = { lsn: record.lsn, path: record.path };
      return;
    }
    if (record.commitTimeMs > untilTimeMs) {
      reached = true;
      return;
    }
    lsn = record.lsn;
    lastTime = record.commitTimeMs;
  });
  if (untimed !== undefined)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `untilTimeMs: the WAL record at LSN ${untimed.lsn} (${untimed.path}) carries no commit time: its segment predates WAL format version 4, so a time target cannot be resolved exactly; restore --until-lsn instead`,
      { argument: 'untilTimeMs', path: untimed.path },
    );
  if (!reached)
    throw new TidemarkError(
      'TIDEMARK_DATA_LOSS',
      `the archived WAL ends at LSN ${lsn}${lastTime === undefined ? '' : `, committed ${new Date(lastTime).toISOString()}`}, before the recovery target time ${new Date(untilTimeMs).toISOString()}: records committed up to it may be missing (restore without a target for the whole archive, or to an LSN)`,
      { path: walDir.path },
    );
  return lsn;
}
