/**
 * `WalReader`: reads the records of a WAL directory from any LSN, read-only (it never repairs).
 * Checks segment numbers are consecutive, each segment starts at the LSN after the previous one
 * ended, every frame's checksum, and that damage appears only as a torn tail of the final segment.
 */

import { abortSignalOf, throwIfAborted } from '../abort-steps.js';
import { isTidemarkError, TidemarkError } from '../errors.js';
import type { CleanShutdownMarker } from '../format/clean-shutdown.js';
import { CLEAN_MARKER_FILE_NAME, MAX_SEGMENT_FILE_BYTES, SEGMENT_HEADER_SIZE } from '../format/constants.js';
import { FrameStatus } from '../format/record-frame.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { Directory } from '../io/directory.js';
import {
  checkDirectoryArgument,
  checkInteger,
  checkOptionsObject,
  enumOption,
  invalidArgument,
} from '../validation.js';
import { cleanShutdownShortfall, type LogEnd, readCleanMarker } from './clean-marker.js';
import { listSegments, readSegmentHead } from './segment-files.js';
import { type FramedUnit, framingFor } from './segment-framing.js';
import { segmentFileName } from './segment-name.js';
import {
  headerError,
  isTornSegmentHeader,
  type RecordInfo,
  type RecordVisitor,
  scanSegment,
  type TornTail,
  WAL_RECOVERY_MODES,
  type WalDamage,
  type WalRecoveryMode,
} from './segment-scanner.js';
import { readSegmentFrom } from './segment-window.js';

/** What a read covered. */
export interface WalReadStats {
  /** Records passed to the visitor (LSN ≥ fromLsn). */
  records: number;
  /** Bytes of segment files read. */
  bytesRead: number;
  /** Segment files read. */
  segmentsRead: number;
  /** LSN of the first record in the WAL (the oldest segment's first LSN). */
  firstLsn: number;
  /** LSN of the last valid record (firstLsn - 1 when the WAL is empty). */
  lastLsn: number;
  /** Damage at the tail of the final segment, if any (not repaired by the reader). */
  tornTail: TornTail | undefined;
  /** Where the record after the last one visited starts: pass it as `from` to the next read. */
  endPosition: WalPosition | undefined;
  /** `point-in-time`: where the log was ended (first entry); `salvage`: every range skipped. */
  damage: WalDamage[];
}

/** A record boundary in a WAL: segment number, byte offset in it, and the LSN of the record there. */
export interface WalPosition {
  /** Segment number. */
  segment: number;
  /** Byte offset of the record boundary in that segment. */
  offset: number;
  /** LSN of the record that starts there. */
  lsn: number;
}

/** Options of {@link WalReader.read}. */
export interface WalReadOptions {
  /** First LSN to visit; older records are skipped. Must not be older than the WAL's oldest record. */
  fromLsn: number;
  /** Last LSN to visit, inclusive (default: no limit, i.e. to the end of the log). */
  untilLsn?: number | undefined;
  /**
   * A position an earlier read returned as `endPosition` (with `lsn === fromLsn`): the scan
   * starts there instead of at the start of its segment. Ignored when it no longer matches a
   * record boundary with that LSN.
   */
  resumeAt?: WalPosition | undefined;
  /** What damage does (default `tolerate-torn-tail`); see {@link WalRecoveryMode}. */
  mode?: WalRecoveryMode | undefined;
  /**
   * Stops the read before the next segment once aborted: it rejects with `TIDEMARK_ABORTED`
   * (`cause` = `signal.reason`). A read changes nothing on disk, so nothing needs undoing.
   */
  signal?: AbortSignal | undefined;
  /**
   * Awaited after the records of each segment were visited, before the next segment is read
   * (how `readWal` hands records out one segment at a time). A rejection ends the read with it.
   */
  afterSegment?: (() => Promise<void>) | undefined;
}

/** Numbers, names and first LSNs (undefined when the header does not decode) of `dir`'s segments, in order. */
async function segmentHeaders(
  dir: Directory,
): Promise<{ number: number; name: string; firstLsn: number | undefined }[]> {
  const out: { number: number; name: string; firstLsn: number | undefined }[] = [];
  for (const number of await listSegments(dir)) {
    const { header } = await readSegmentHead(dir, number);
    out.push({
      number,
      name: segmentFileName(number),
      firstLsn: typeof header === 'string' ? undefined : header.firstLsn,
    });
  }
  return out;
}

/**
 * Reads a WAL directory; see {@link WalReader.read}.
 *
 * Threads: static and read-only, no state between calls: any thread (or process) may read a WAL
 * directory, even one another thread writes (with `untilLsn` up to what it made durable).
 */
export class WalReader {
  /**
   * Calls `visit` for every record with LSN ≥ `options.fromLsn`, in LSN order (one reused
   * record object: see {@link RecordInfo}).
   * Throws `TIDEMARK_CORRUPTION` (file + offset) for damage that is not a torn tail of the final
   * segment, `TIDEMARK_UNSUPPORTED_VERSION` for newer segments, and `TIDEMARK_DATA_LOSS` when
   * `fromLsn` is older than the oldest record still in the WAL; malformed arguments (`fromLsn` not
   * an integer ≥ 1, an unknown `mode`, `visit` not a function) are `TIDEMARK_INVALID_ARGUMENT`,
   * thrown before anything is read.
   *
   * With `untilLsn`, records past it are not visited and no segment after the one holding it is
   * read: a reader may then run alongside the writer (Ring 1's checkpointer), up to the durable LSN.
   *
   * `resumeAt`, a position an earlier read returned as `endPosition` (with `lsn === fromLsn`),
   * starts the scan there instead of at the start of the segment; a position that no longer
   * matches a record boundary with that LSN is ignored.
   *
   * `mode` (default `tolerate-torn-tail`) says what damage does; see {@link WalRecoveryMode}.
   * In `point-in-time` and `salvage` modes damage is reported in `damage` instead of thrown.
   *
   * A log closed cleanly (its marker `CLEAN` is there) that ends before the point the marker
   * names is `TIDEMARK_DATA_LOSS` naming the missing LSNs — in `point-in-time` and `salvage` a
   * reported damage entry at the log's end instead (checked when the read reaches the final
   * segment, i.e. not when `untilLsn` stops it in an earlier one, nor when a read resumed with
   * `resumeAt` and ending at a finite `untilLsn` read its segment only up to the batch holding
   * `untilLsn`, which it does in `tolerate-torn-tail` mode when the batches up to it are intact:
   * then neither the bytes after it nor a torn tail there are looked at).
   */
  static async read(dir: Directory, options: WalReadOptions, visit: RecordVisitor): Promise<WalReadStats> {
    checkDirectoryArgument('dir', dir);
    checkReadArguments(options, visit);
    const {
      fromLsn,
      untilLsn = Number.POSITIVE_INFINITY,
      resumeAt: from,
      mode = 'tolerate-torn-tail',
      signal,
      afterSegment,
    } = options;
    throwIfAborted(`reading the WAL in ${dir.path}`, signal);
    const segments = await segmentHeaders(dir);
    const stats: WalReadStats = {
      records: 0,
      bytesRead: 0,
      segmentsRead: 0,
      firstLsn: fromLsn,
      lastLsn: fromLsn - 1,
      tornTail: undefined,
      endPosition: undefined,
      damage: [],
    };
    const markerPath = `${dir.path}/${CLEAN_MARKER_FILE_NAME}`;
    let marker: CleanShutdownMarker | undefined;
    let markerError: TidemarkError | undefined;
    try {
      marker = await readCleanMarker(dir);
    } catch (err) {
      if (!isTidemarkError(err) || (mode !== 'point-in-time' && mode !== 'salvage')) throw err;
      markerError = err;
    }
    /** Checks the log's end against the marker (see above); called once the read reached it. */
    const checkEnd = (end: LogEnd): void => {
      const problem =
        markerError ?? (marker === undefined ? undefined : cleanShutdownShortfall(marker, end, markerPath));
      if (problem === undefined) return;
      if (mode !== 'point-in-time' && mode !== 'salvage') throw problem;
      // Point-in-time: only when nothing else ended the log first (the first damage is where it is cut).
      if (mode === 'salvage' || stats.damage.length === 0)
        stats.damage.push({
          path: end.path,
          offset: end.segment === undefined ? 0 : end.endOffset,
          bytesSkipped: 0,
          reason: problem.message,
        });
    };
    if (segments.length === 0) {
      checkEnd({ segment: undefined, path: dir.path, lastLsn: fromLsn - 1, endOffset: 0 });
      return stats;
    }
    let last = segments.length - 1;
    for (let i = 0; i < last; i++) {
      if (segments[i]!.firstLsn === undefined) {
        const path = `${dir.path}/${segments[i]!.name}`;
        const buf = await readSegmentImage(dir, segments[i]!.name);
        const decoded = decodeSegmentHeader(buf);
        const problem = typeof decoded === 'string' ? decoded : 'checksum';
        if (mode === 'point-in-time' && problem !== 'version') {
          // The log ends before this segment.
          stats.damage.push({
            path,
            offset: 0,
            bytesSkipped: buf.length,
            reason: `segment header: ${problem}; this and ${last - i} later segment(s) dropped`,
          });
          last = i - 1;
          break;
        }
        if (mode === 'salvage' && problem !== 'version') {
          stats.damage.push({
            path,
            offset: 0,
            bytesSkipped: buf.length,
            reason: `segment header: ${problem}; segment skipped`,
          });
          continue;
        }
        throw headerError(path, problem);
      }
    }
    if (last < 0) return stats;
    const firstLsn = segments[0]!.firstLsn;
    stats.firstLsn = firstLsn ?? fromLsn;
    if (firstLsn !== undefined && fromLsn < firstLsn) {
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `WAL in ${dir.path} starts at LSN ${firstLsn}, but records from LSN ${fromLsn} are needed`,
        { path: dir.path },
      );
    }
    let start = 0;
    for (let i = 1; i <= last; i++) {
      const f = segments[i]!.firstLsn;
      if (f !== undefined && f <= fromLsn) start = i;
    }
    let resume: { offset: number; lsn: number } | undefined;
    if (from !== undefined && from.lsn === fromLsn) {
      const at = segments.findIndex((s) => s.number === from.segment);
      if (at >= 0 && at >= start) {
        start = at;
        resume = { offset: from.offset, lsn: from.lsn };
      }
    }
    let expectedFirst: number | undefined;
    // The end of the last record visited, kept in numbers (no object per record).
    let endSegment = 0;
    let endOffset = 0;
    let endLsn = 0;
    const filtered: RecordVisitor = (record) => {
      if (record.lsn < fromLsn || record.lsn > untilLsn) return;
      stats.records++;
      endSegment = record.segmentNumber;
      endOffset = record.nextOffset;
      endLsn = record.lsn + 1;
      visit(record);
    };
    for (let i = start; i <= last; i++) {
      const seg = segments[i]!;
      if (i > start) {
        // Between segments: the safe point where a reader may pause or stop.
        await afterSegment?.();
        throwIfAborted(`reading the WAL in ${dir.path} (before ${seg.name})`, signal);
      }
      if (mode === 'salvage' && seg.firstLsn === undefined && i < last) continue; // reported above
      const path = `${dir.path}/${seg.name}`;
      let buf: Buffer;
      // A resumed read up to a known LSN may take only the bytes up to it, relocated after the
      // header (segment-window.ts): the log's end is then not reached, so the clean-shutdown check
      // is not made here, and the offsets the scan reports are shifted back by `base`. That image
      // holds only intact units with contiguous LSNs, so the scan can fail only on the header,
      // whose offsets are the file's.
      let bounded = false;
      let base = 0;
      let scanResume = i === start ? resume : undefined;
      if (resume !== undefined && i === start) {
        const window = await readSegmentFrom(dir, seg.name, {
          offset: resume.offset,
          lsn: resume.lsn,
          untilLsn: mode === 'tolerate-torn-tail' ? untilLsn : undefined,
        });
        buf = window.buf;
        bounded = window.bounded;
        base = window.base;
        scanResume = { offset: resume.offset - base, lsn: resume.lsn };
        if (!resumable(buf, scanResume)) {
          resume = undefined;
          scanResume = undefined;
          bounded = false;
          base = 0;
          buf = await readSegmentImage(dir, seg.name);
        }
      } else if (
        i === last &&
        i > start &&
        expectedFirst !== undefined &&
        mode === 'tolerate-torn-tail' &&
        Number.isFinite(untilLsn)
      ) {
        // The log's last segment, entered from an earlier one, read up to a known LSN: the
        // same bounded window from its first unit on (base 0). Read whole, a preallocated final
        // segment is 64 MiB for a few batches — the cost a delta checkpoint paid whenever its
        // window crossed into a new segment.
        const window = await readSegmentFrom(dir, seg.name, {
          offset: SEGMENT_HEADER_SIZE,
          lsn: expectedFirst,
          untilLsn,
        });
        buf = window.buf;
        bounded = window.bounded;
      } else {
        buf = await readSegmentImage(dir, seg.name);
      }
      // A resumed segment was read only from the resume offset on (plus its header).
      stats.bytesRead +=
        scanResume !== undefined ? buf.length - scanResume.offset + SEGMENT_HEADER_SIZE : buf.length;
      stats.segmentsRead++;
      if (i === last && isTornSegmentHeader(buf, expectedFirst)) {
        checkEnd({ segment: seg.number, path, lastLsn: stats.lastLsn, endOffset: 0 });
        if (mode === 'absolute-consistency') throw headerError(path, 'checksum');
        stats.tornTail = {
          path,
          offset: 0,
          bytesDropped: buf.length,
          reason: 'segment header never became durable',
        };
        break;
      }
      const scan = scanSegment(buf, {
        path,
        segmentNumber: seg.number,
        final: i === last,
        visit: base === 0 ? filtered : relocated(filtered, base),
        expectedFirstLsn: expectedFirst,
        resume: scanResume,
        mode,
      });
      stats.lastLsn = scan.lastLsn;
      stats.tornTail = scan.tornTail;
      expectedFirst = scan.lastLsn + 1;
      if (scan.skipped) stats.damage.push(...scan.skipped);
      if (i === last && !scan.stoppedAt && !bounded)
        checkEnd({ segment: seg.number, path, lastLsn: scan.lastLsn, endOffset: scan.validEnd });
      if (scan.stoppedAt) {
        const dropped = last - i;
        stats.damage.push(
          dropped > 0
            ? { ...scan.stoppedAt, reason: `${scan.stoppedAt.reason}; ${dropped} later segment(s) dropped` }
            : scan.stoppedAt,
        );
        break;
      }
      if (scan.lastLsn >= untilLsn) {
        if (i < last) stats.tornTail = undefined;
        break;
      }
    }
    if (stats.records > 0) stats.endPosition = { segment: endSegment, offset: endOffset, lsn: endLsn };
    return stats;
  }
}

/**
 * `TIDEMARK_INVALID_ARGUMENT` for malformed read arguments — among them a call in the older
 * positional form, `read(dir, fromLsn, visit)`, whose number would otherwise read as "no
 * options" and start at an undefined LSN.
 */
function checkReadArguments(options: WalReadOptions, visit: RecordVisitor): void {
  if (options === undefined) throw invalidArgument('options', options, 'an options object');
  checkOptionsObject('options', options);
  checkInteger('options.fromLsn', options.fromLsn, 1, Number.MAX_SAFE_INTEGER);
  if (
    options.untilLsn !== undefined &&
    (typeof options.untilLsn !== 'number' || Number.isNaN(options.untilLsn))
  )
    throw invalidArgument('options.untilLsn', options.untilLsn, 'an LSN (a number)');
  enumOption('options.mode', options.mode, WAL_RECOVERY_MODES, 'tolerate-torn-tail');
  abortSignalOf('options', options);
  if (options.afterSegment !== undefined && typeof options.afterSegment !== 'function')
    throw invalidArgument('options.afterSegment', options.afterSegment, 'a function');
  if (typeof visit !== 'function') throw invalidArgument('visit', visit, 'a function');
}

/**
 * `visit` for records of an image whose bytes past the header sit `base` bytes before their file
 * offsets: their offsets are put back to the file's (the record object is refilled by the scan
 * for every record, so shifting it in place is safe; `payloadStart` stays an index into `buf`).
 */
function relocated(visit: RecordVisitor, base: number): RecordVisitor {
  return (record) => {
    const r = record as RecordInfo;
    r.frameOffset += base;
    r.batchOffset += base;
    r.nextOffset += base;
    visit(r);
  };
}

/**
 * True when `resume` is a frame boundary in `buf` holding a valid record with LSN `resume.lsn`
 * (in a batched segment: a batch of this segment holding that LSN), or its end.
 */
function resumable(buf: Buffer, resume: { offset: number; lsn: number }): boolean {
  if (resume.offset < SEGMENT_HEADER_SIZE || resume.offset > buf.length) return false;
  if (resume.offset === buf.length) return true;
  const header = decodeSegmentHeader(buf);
  if (typeof header === 'string') return false;
  const unit: FramedUnit = { firstLsn: 0, count: 0, size: 0, commitTimeMs: -1 };
  const framing = framingFor(header, header.segmentNumber);
  return (
    framing.read(buf, resume.offset, buf.length, unit) === FrameStatus.Ok &&
    unit.firstLsn <= resume.lsn &&
    resume.lsn < unit.firstLsn + unit.count
  );
}

/**
 * A whole segment file as a `Buffer` view of the bytes `readFile` returned — not a copy: a
 * segment is up to 64 MiB and copying it cost as much as checking its CRCs. The scan only reads
 * it, and a visitor copies whatever it keeps past its call (see `RecordInfo`).
 */
async function readSegmentImage(dir: Directory, name: string): Promise<Buffer> {
  const bytes = await dir.readFile(name, MAX_SEGMENT_FILE_BYTES);
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
