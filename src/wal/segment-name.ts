/** Segment file names: `wal-0000000000000001.log` (constants.ts defines the parts). */
import { SEGMENT_FILE_PREFIX, SEGMENT_FILE_SUFFIX, SEGMENT_NUMBER_DIGITS } from '../format/constants.js';

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
