/** Segment file names: `wal-0000000000000001.log` (constants.ts defines the parts). */
import {
  BROKEN_FILE_SUFFIX,
  CLEAN_MARKER_FILE_NAME,
  PREALLOCATED_SEGMENT_FILE_NAME,
  SEGMENT_FILE_PREFIX,
  SEGMENT_FILE_SUFFIX,
  SEGMENT_NUMBER_DIGITS,
} from '../format/constants.js';
import { LOCK_FILE_NAME as LOCK_NAME } from '../io/fs-lock.js';

/** The file name of segment `segmentNumber`. */
export function segmentFileName(segmentNumber: number): string {
  return `${SEGMENT_FILE_PREFIX}${String(segmentNumber).padStart(SEGMENT_NUMBER_DIGITS, '0')}${SEGMENT_FILE_SUFFIX}`;
}

const PATTERN = new RegExp(
  `^${SEGMENT_FILE_PREFIX}(\\d{${SEGMENT_NUMBER_DIGITS}})${SEGMENT_FILE_SUFFIX.replace('.', '\\.')}$`,
);

/** The segment number encoded in `name`, or undefined when `name` is not a segment file. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = PATTERN.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Segment numbers present in a directory listing, ascending. */
export function listSegmentNumbers(names: readonly string[]): number[] {
  const numbers: number[] = [];
  for (const name of names) {
    const n = parseSegmentFileName(name);
    if (n !== undefined) numbers.push(n);
  }
  return numbers.sort((a, b) => a - b);
}

/** What a file in a WAL directory is, by its name alone. */
export type WalFileKind =
  /** A segment: `wal-` + exactly 16 digits + `.log`. */
  | 'segment'
  /** A copy of bytes a repair cut off (`<segment>.broken`, `<segment>.<n>.broken`): kept, never read as a segment. */
  | 'broken'
  /** The next segment prepared in the background (`next-segment.prealloc`): zeros, not part of the log yet. */
  | 'prealloc'
  /** The clean-shutdown marker `CLEAN`, the directory's `LOCK`, or what an interrupted atomic write of them left (`.tmp`). */
  | 'control'
  /** Anything else: ignored by the log, reported by `tidemark verify` and `inspect` as a warning. */
  | 'stray';

const BROKEN_PATTERN = new RegExp(
  `^${SEGMENT_FILE_PREFIX}\\d{${SEGMENT_NUMBER_DIGITS}}${SEGMENT_FILE_SUFFIX.replace('.', '\\.')}(\\.\\d+)?${BROKEN_FILE_SUFFIX.replace('.', '\\.')}(\\.tmp)?$`,
);

/**
 * Classifies a file name of a WAL directory. Only exact segment names are segments: a name that
 * merely looks like one (`wal-…log.tmp`, `wal-abc.log`, an editor's `wal-…log~`, 15 or 17
 * digits) is `stray`, so it can neither block the log nor be taken for part of it.
 */
export function classifyWalFileName(name: string): WalFileKind {
  if (parseSegmentFileName(name) !== undefined) return 'segment';
  if (BROKEN_PATTERN.test(name)) return 'broken';
  if (name === PREALLOCATED_SEGMENT_FILE_NAME) return 'prealloc';
  if (
    name === CLEAN_MARKER_FILE_NAME ||
    name === `${CLEAN_MARKER_FILE_NAME}.tmp` ||
    name === LOCK_NAME ||
    name === `${LOCK_NAME}.tmp`
  )
    return 'control';
  return 'stray';
}

/** The name `<segment>.broken`, or `<segment>.<n>.broken` for n ≥ 2 (the n-th copy of the same segment). */
export function brokenFileName(segmentName: string, n = 1): string {
  return n <= 1 ? `${segmentName}${BROKEN_FILE_SUFFIX}` : `${segmentName}.${n}${BROKEN_FILE_SUFFIX}`;
}
