/**
 * The segment decoder: walks the records of one segment file held in memory, checking every
 * frame's checksum and that LSNs run on without gaps, and classifies damage (LevelDB's
 * log_reader, etcd's decoder). A bad frame is a *torn tail* only in the final segment and only
 * when every valid frame after it lies within the sync window of it (see {@link tornWriteRuledOut});
 * anywhere else it is `TIDEMARK_CORRUPTION` with file and offset.
 */
import { corruption, TidemarkError } from '../errors.js';
import { SEGMENT_HEADER_SIZE, WAL_SYNC_WINDOW_BYTES } from '../format/constants.js';
import { BatchStatus } from '../format/record-batch.js';
import { decodeSegmentHeader, type SegmentHeader } from '../format/segment-header.js';
import {
  batchFraming,
  FRAME_FRAMING,
  type FramedUnit,
  framingFor,
  type RecordInfo,
  type RecordVisitor,
  type SegmentFraming,
} from './segment-framing.js';

export type { RecordInfo, RecordVisitor } from './segment-framing.js';

/** Options of {@link scanSegment}. */
export interface ScanSegmentOptions {
  /** Path of the segment file, for errors and damage reports. */
  path: string;
  /** The number in the file name; the header must say the same. */
  segmentNumber: number;
  /** Whether this is the final segment of the log: only there may a torn tail be cut. */
  final: boolean;
  /** Called for each valid record (default: none). */
  visit?: RecordVisitor | undefined;
  /** When given, the header's first LSN must equal it. */
  expectedFirstLsn?: number | undefined;
  /**
   * Start the scan at this frame boundary, whose record has LSN `lsn`, instead of just after
   * the header (a position an earlier scan ended at, checked by the caller).
   */
  resume?:
    | {
        /** Byte offset of the frame (or batch) boundary in the segment. */
        offset: number;
        /** LSN of the record at that boundary. */
        lsn: number;
      }
    | undefined;
  /** What damage does (default `tolerate-torn-tail`); see {@link WalRecoveryMode}. */
  mode?: WalRecoveryMode | undefined;
}

/** Damage cut (or, read-only, found) at the tail of the final segment. */
export interface TornTail {
  /** Segment file path. */
  path: string;
  /** Byte offset of the first byte that is not part of a valid record. */
  offset: number;
  /** Bytes from `offset` to the end of the file. */
  bytesDropped: number;
  /** Why the frame at `offset` is not valid. */
  reason: string;
}

/**
 * How recovery treats damage in the WAL (RocksDB's `WALRecoveryMode`):
 *
 * - `tolerate-torn-tail` (default): a torn write at the end of the final segment is cut; any
 *   other damage is `TIDEMARK_CORRUPTION` and nothing is cut;
 * - `absolute-consistency`: any damage, a torn tail included, is `TIDEMARK_CORRUPTION` (for
 *   logs known to have been closed cleanly);
 * - `point-in-time`: the log ends at the first damage, wherever it is; everything after it —
 *   the rest of that segment and every later segment — is dropped and reported;
 * - `salvage` (read-only, explicit opt-in): damaged frames are skipped and every intact record
 *   is kept, LSN gaps and all; what was skipped is reported. The result is not a consistent
 *   history, only the most that can be read.
 */
export type WalRecoveryMode = 'tolerate-torn-tail' | 'absolute-consistency' | 'point-in-time' | 'salvage';

/** Every recovery mode. */
export const WAL_RECOVERY_MODES: readonly WalRecoveryMode[] = [
  'tolerate-torn-tail',
  'absolute-consistency',
  'point-in-time',
  'salvage',
];

/** Damage passed over by `point-in-time` (where the log was ended) or `salvage` (a skipped range). */
export interface WalDamage {
  /** Segment file path. */
  path: string;
  /** Byte offset of the first damaged byte in that segment. */
  offset: number;
  /** Bytes not read as records: to the end of the file (`point-in-time`), or up to the next intact record (`salvage`). */
  bytesSkipped: number;
  /** What is wrong there (bad CRC32C, bad length, LSN gap…). */
  reason: string;
}

/** What a scan found. */
export interface SegmentScan {
  /** The segment's decoded header. */
  header: SegmentHeader;
  /** Valid records read (count). */
  recordCount: number;
  /** Valid frames (versions 1, 2: one per record) or batches (version 3) read. */
  batchCount: number;
  /** LSN of the last valid record (header.firstLsn - 1 when there is none). */
  lastLsn: number;
  /** Commit time of the last valid batch (ms since the Unix epoch); undefined when none or untimed (versions 1–3). */
  lastCommitTimeMs?: number | undefined;
  /** Offset just after the last valid record: where appends continue. */
  validEnd: number;
  /** Set when the final segment ends in damage that may be cut. */
  tornTail: TornTail | undefined;
  /** `point-in-time`: set when the scan ended at damage (the log ends here). */
  stoppedAt?: WalDamage | undefined;
  /** `salvage`: ranges skipped. */
  skipped?: WalDamage[] | undefined;
}

const REASONS: Record<number, string> = {
  [BatchStatus.Truncated]: 'record runs past the end of the file',
  [BatchStatus.BadLength]: 'record length over the cap',
  [BatchStatus.BadChecksum]: 'record checksum mismatch',
  [BatchStatus.BadType]: 'invalid record type or reserved bytes',
  [BatchStatus.OtherSegment]: 'batch written into another segment (old bytes of a reused file)',
};

/**
 * Where to look for an intact frame: byte offsets `[from, end)` of the buffer, and the LSNs it
 * may carry (a search only reads the frames whose LSN is plausible, so checksum work stays on
 * the rare real candidates). Named fields, since all of them are numbers.
 */
export interface FrameSearch {
  /** First byte offset a frame may start at. */
  from: number;
  /** End of the bytes (exclusive); a frame must end by here. */
  end: number;
  /** Lowest plausible LSN. */
  minLsn: number;
  /** Highest plausible LSN (default: no bound). */
  maxLsn?: number;
  /** Only frames starting before this offset count (default `end`). */
  startBefore?: number;
}

/**
 * True when a valid frame with an LSN in [minLsn, minLsn + possible records) starts anywhere in
 * `buf[from, end)`; with `minLsn` undefined, any LSN.
 */
export function validFrameFollows(
  buf: Buffer,
  range: { from: number; end: number; minLsn: number | undefined; framing?: SegmentFraming | undefined },
): boolean {
  const { from, end, minLsn, framing = FRAME_FRAMING } = range;
  const maxLsn =
    minLsn === undefined ? Number.MAX_VALUE : minLsn + Math.ceil((end - from) / framing.minRecordBytes);
  return nextValidFrame(buf, { from, end, minLsn: minLsn ?? 0, maxLsn }, framing) !== undefined;
}

/** Offset of the first intact frame (or batch) `search` allows in `buf`, if any. */
function nextValidFrame(buf: Buffer, search: FrameSearch, framing: SegmentFraming): number | undefined {
  const { from, end, minLsn, maxLsn = Number.MAX_VALUE, startBefore = end } = search;
  const unit: FramedUnit = { firstLsn: 0, count: 0, size: 0, commitTimeMs: -1 };
  const range = { minLsn, maxLsn };
  // A valid frame has a non-zero type byte (a batch a non-zero count), so none starts in a zero
  // tail (a preallocated file's unused space): the search stops where the last non-zero byte is.
  const last = Math.min(end - framing.headerSize, startBefore - 1, endOfNonZero(buf, from, end) - 1);
  for (let p = from; p <= last; p++) {
    if (!framing.plausible(buf, p, range)) continue;
    if (framing.read(buf, p, end, unit) === BatchStatus.Ok) return p;
  }
  return undefined;
}

/**
 * Whether the damage at `offset` (the first bad frame of a final segment, whose image ends at
 * `end`; `nextLsn` is the LSN that frame should have had) cannot be a torn write; returns the
 * offset of a valid frame that proves it, or undefined when it may be one.
 *
 * The writer never has more than `WAL_SYNC_WINDOW_BYTES` (W) written and not yet durable: every
 * byte before some point S is durable, and a crash can damage only [S, S + W). The bad frame
 * holds a damaged byte, so S lies before its true end; and every valid frame after it was written
 * in that same last window (had it been durable, so would the bad frame before it), so it starts
 * before S + W. Two cases cover where S can be:
 *
 * - the bad frame's header was not durable (S ≤ offset + H − 1, H = `RECORD_HEADER_SIZE`; its
 *   length field may then be anything): later valid frames start before offset + H + W;
 * - the header was durable, so its declared length is the one the writer wrote and the frame
 *   spanned S (a frame larger than W is synced in W steps): later valid frames start at or after
 *   its declared end E (nothing starts inside a frame) and before E + W.
 *
 * So it is a torn write only if no valid frame starts at or after offset + H + W, or — when the
 * declared length is within the cap — none starts inside (offset, E) or at or after E + W. A huge
 * (but capped) declared length therefore cannot pull a far-away valid frame "into the window":
 * that frame would lie inside the bad frame, which the second case rules out.
 */
export function tornWriteRuledOut(
  buf: Buffer,
  damage: { offset: number; end: number; nextLsn: number; framing?: SegmentFraming | undefined },
): number | undefined {
  const { offset, end, nextLsn: minLsn, framing = FRAME_FRAMING } = damage;
  const H = framing.headerSize;
  const maxLsn = minLsn + Math.ceil((end - offset) / framing.minRecordBytes);
  const far = nextValidFrame(buf, { from: offset + H + WAL_SYNC_WINDOW_BYTES, end, minLsn, maxLsn }, framing);
  if (far === undefined) return undefined;
  if (end - offset < H) return far;
  const length = framing.declaredLength(buf, offset);
  if (length > framing.maxLength) return far; // the header cannot have been durable
  const declaredEnd = offset + H + length;
  const inside = nextValidFrame(
    buf,
    { from: offset + 1, end, minLsn, maxLsn, startBefore: declaredEnd },
    framing,
  );
  if (inside !== undefined) return inside;
  return nextValidFrame(buf, { from: declaredEnd + WAL_SYNC_WINDOW_BYTES, end, minLsn, maxLsn }, framing);
}

/** Throws the right typed error for a header problem. */
export function headerError(path: string, problem: string): TidemarkError {
  if (problem === 'version') {
    return new TidemarkError(
      'TIDEMARK_UNSUPPORTED_VERSION',
      `${path}: segment written by an unsupported format version`,
      {
        path,
        offset: 0,
      },
    );
  }
  return corruption(
    path,
    0,
    `segment header ${problem === 'short' ? 'is truncated' : `has a bad ${problem}`}`,
  );
}

/**
 * Scans a whole segment file image (see {@link ScanSegmentOptions}).
 * Throws `TIDEMARK_CORRUPTION` / `TIDEMARK_UNSUPPORTED_VERSION`; a torn header of a final segment
 * is reported by the caller (see WriteAheadLog.open), not here.
 */
export function scanSegment(buf: Buffer, options: ScanSegmentOptions): SegmentScan {
  const {
    path,
    segmentNumber: expectedNumber,
    final,
    visit,
    expectedFirstLsn,
    resume,
    mode = 'tolerate-torn-tail',
  } = options;
  const header = decodeSegmentHeader(buf);
  if (typeof header === 'string') throw headerError(path, header);
  if (header.segmentNumber !== expectedNumber) {
    throw corruption(
      path,
      0,
      `header says segment ${header.segmentNumber}, file name says ${expectedNumber}`,
    );
  }
  if (expectedFirstLsn !== undefined && header.firstLsn !== expectedFirstLsn && mode !== 'salvage') {
    if (mode === 'point-in-time') {
      const stoppedAt = {
        path,
        offset: 0,
        bytesSkipped: buf.length,
        reason: `segment starts at LSN ${header.firstLsn}, expected ${expectedFirstLsn}`,
      };
      return {
        header,
        recordCount: 0,
        batchCount: 0,
        lastLsn: expectedFirstLsn - 1,
        validEnd: 0,
        tornTail: undefined,
        stoppedAt,
      };
    }
    throw corruption(path, 0, `segment starts at LSN ${header.firstLsn}, expected ${expectedFirstLsn}`);
  }
  const framing = framingFor(header, expectedNumber);
  const unit: FramedUnit = { firstLsn: 0, count: 0, size: 0, commitTimeMs: -1 };
  // The one object every visit gets (see RecordInfo): no allocation per record.
  const record: RecordInfo = {
    lsn: 0,
    type: 0,
    buf,
    payloadStart: 0,
    payloadLength: 0,
    frameOffset: 0,
    batchOffset: 0,
    nextOffset: 0,
    commitTimeMs: undefined,
    segmentNumber: expectedNumber,
    path,
  };
  // Commit times never decrease within a segment (the writer clamps): a checksummed batch whose
  // time goes backwards was not written by this writer as it is, and is damage like a stale LSN.
  // (A resumed scan starts without the earlier batches' times: checked from there on.)
  let lastCommitTimeMs = -1;
  // Resuming (a position an earlier scan ended at, checked by the caller) skips the frames before
  // it. In a batched segment the position is a batch start and the LSN may lie inside that batch:
  // the scan checks LSNs from the batch's first and visits only from the resume LSN on.
  let offset = resume?.offset ?? SEGMENT_HEADER_SIZE;
  let nextLsn = resume?.lsn ?? header.firstLsn;
  const visitFrom = nextLsn;
  if (resume !== undefined && framing !== FRAME_FRAMING && offset < buf.length) {
    const first = framing.peekLsn(buf, offset);
    if (first < nextLsn) nextLsn = first;
  }
  let count = 0;
  let batches = 0;
  const skipped: WalDamage[] = [];
  const end = buf.length;
  /** The scan's result, ending at `validEnd` (closes over the counters as they are then). */
  const endedAt = (validEnd: number, extra: Partial<SegmentScan> = {}): SegmentScan => ({
    header,
    recordCount: count,
    batchCount: batches,
    lastLsn: nextLsn - 1,
    lastCommitTimeMs: lastCommitTimeMs < 0 ? undefined : lastCommitTimeMs,
    validEnd,
    tornTail: undefined,
    ...extra,
  });
  while (offset < end) {
    const status = framing.read(buf, offset, end, unit);
    const bad =
      status !== BatchStatus.Ok
        ? REASONS[status]!
        : unit.firstLsn !== nextLsn
          ? lsnProblem(unit.firstLsn, nextLsn)
          : unit.commitTimeMs < lastCommitTimeMs
            ? commitTimeProblem(unit.commitTimeMs, lastCommitTimeMs)
            : undefined;
    if (bad !== undefined) {
      // A preallocated final segment is longer than its data: zeros from here to the end of the
      // file are space not written yet — the normal end of the log, not damage and not a torn
      // tail (type 0 is never valid, so zeros never parse as a record). A sealed segment is cut
      // to its data at rotation, so zeros there keep today's rules.
      if (final && isZeroFrom(buf, offset, end)) return endedAt(offset);
      if (mode === 'salvage') {
        // A valid frame with a later LSN is kept (a gap); anything else is skipped to the next intact frame.
        if (status === BatchStatus.Ok && unit.firstLsn > nextLsn) {
          skipped.push({
            path,
            offset,
            bytesSkipped: 0,
            reason: `LSNs ${nextLsn}..${unit.firstLsn - 1} are missing`,
          });
          nextLsn = unit.firstLsn;
          continue;
        }
        // One entry per skipped range: where it starts in this file, how many bytes, and which
        // LSNs went with it (the next intact frame's LSN says), never a second entry at its end.
        const next = nextValidFrame(buf, { from: offset + 1, end, minLsn: nextLsn }, framing);
        const resumeLsn = next === undefined ? nextLsn : framing.peekLsn(buf, next);
        skipped.push({
          path,
          offset,
          bytesSkipped: (next ?? end) - offset,
          reason: resumeLsn > nextLsn ? `${bad}; LSNs ${nextLsn}..${resumeLsn - 1} are missing` : bad,
        });
        if (next === undefined) break;
        nextLsn = resumeLsn;
        offset = next;
        continue;
      }
      if (mode === 'point-in-time')
        return endedAt(offset, { stoppedAt: { path, offset, bytesSkipped: end - offset, reason: bad } });
      if (status === BatchStatus.Ok)
        throw corruption(
          path,
          offset,
          unit.firstLsn === nextLsn
            ? `${bad} (commit times never decrease within a segment)`
            : `${bad} (hole, duplicate or stale record)`,
        );
      if (!final) throw corruption(path, offset, `${bad} in a sealed segment`);
      if (mode === 'absolute-consistency')
        throw corruption(
          path,
          offset,
          `${bad} at the end of the final segment (absolute-consistency refuses a torn tail)`,
        );
      // A torn write spans at most the sync window: a valid record beyond it (measured from the
      // bad frame's start and from its declared end) proves this spot was durable: damage.
      const evidence = tornWriteRuledOut(buf, { offset, end, nextLsn, framing });
      if (evidence !== undefined) {
        throw corruption(
          path,
          offset,
          `${bad}, and a valid record at offset ${evidence} follows it outside the ${WAL_SYNC_WINDOW_BYTES}-byte sync window (not a torn write)`,
        );
      }
      return endedAt(offset, { tornTail: { path, offset, bytesDropped: end - offset, reason: bad } });
    }
    if (visit !== undefined)
      framing.visitRecords(buf, { offset, info: unit, fromLsn: visitFrom }, record, visit);
    offset += unit.size;
    nextLsn += unit.count;
    count += unit.count;
    batches++;
    if (unit.commitTimeMs >= 0) lastCommitTimeMs = unit.commitTimeMs;
  }
  return endedAt(offset, { skipped: skipped.length > 0 ? skipped : undefined });
}

const ZEROS = Buffer.alloc(64 * 1024);

/** True when every byte of `buf[from, end)` is zero (compared natively, 64 KiB at a time). */
export function isZeroFrom(buf: Buffer, from: number, end = buf.length): boolean {
  for (let p = from; p < end; p += ZEROS.length) {
    const n = Math.min(ZEROS.length, end - p);
    if (buf.compare(ZEROS, 0, n, p, p + n) !== 0) return false;
  }
  return true;
}

/** Offset just after the last non-zero byte of `buf[from, end)` (`from` when all are zero). */
export function endOfNonZero(buf: Buffer, from: number, end = buf.length): number {
  let e = end;
  while (e > from && isZeroFrom(buf, Math.max(from, e - ZEROS.length), e))
    e = Math.max(from, e - ZEROS.length);
  while (e > from && buf[e - 1] === 0) e--;
  return e;
}

function commitTimeProblem(time: number, previous: number): string {
  return `batch commit time ${new Date(time).toISOString()} is before the previous batch's ${new Date(previous).toISOString()}`;
}

function lsnProblem(lsn: number, expected: number): string {
  return `record has LSN ${lsn}, expected ${expected}`;
}

/**
 * True when `buf` is a final segment whose header never became durable: the header is short or
 * fails its checksum and no valid record follows. Such a file holds nothing that was ever
 * acknowledged (an fdatasync that covered a record would have covered the header too).
 * `minLsn` is the LSN the segment should start at, when known.
 */
export function isTornSegmentHeader(buf: Buffer, minLsn: number | undefined): boolean {
  // (A preallocated segment renamed into place whose header never became durable reads as
  // zeros from offset 0, which fail the header checksum: the same case.)
  // The header is unreadable, so its version is unknown: neither a frame nor a batch may follow.
  const header = decodeSegmentHeader(buf);
  if (header !== 'short' && header !== 'checksum') return false;
  const range = { from: 0, end: buf.length, minLsn };
  return (
    !validFrameFollows(buf, range) && !validFrameFollows(buf, { ...range, framing: batchFraming(undefined) })
  );
}
