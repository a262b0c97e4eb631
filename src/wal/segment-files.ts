/**
 * The segment files of a WAL directory: listing them (segment numbers must be consecutive) and
 * reading just their 32-byte headers. Shared by `WriteAheadLog.open` and `WalReader`.
 */
import { corruption } from '../errors.js';
import { SEGMENT_HEADER_SIZE } from '../format/constants.js';
import {
  decodeSegmentHeader,
  type SegmentHeader,
  type SegmentHeaderProblem,
} from '../format/segment-header.js';
import type { Directory } from '../io/directory.js';
import { listSegmentNumbers, segmentFileName } from './segment-name.js';

/** Segment numbers in `dir`, ascending; throws `TIDEMARK_CORRUPTION` naming the first gap. */
export async function listSegments(dir: Directory): Promise<number[]> {
  const numbers = listSegmentNumbers(await dir.list());
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i] !== numbers[i - 1]! + 1) {
      throw corruption(
        `${dir.path}/${segmentFileName(numbers[i]!)}`,
        0,
        `segment ${numbers[i - 1]! + 1} is missing before it`,
      );
    }
  }
  return numbers;
}

/** A segment's decoded header (or why it did not decode) and its file size in bytes. */
export interface SegmentHead {
  /** The segment's number, from its file name. */
  number: number;
  /** The segment file. */
  path: string;
  /** The decoded header, or why it does not decode. */
  header: SegmentHeader | SegmentHeaderProblem;
  /** Size of the file in bytes (a preallocated segment is longer than its data). */
  sizeBytes: number;
}

/** Reads only the header of segment `number`. Throws `TIDEMARK_CORRUPTION` when the header's number differs from the file name's. */
export async function readSegmentHead(dir: Directory, number: number): Promise<SegmentHead> {
  const file = await dir.open(segmentFileName(number), 'read');
  try {
    const head = Buffer.alloc(SEGMENT_HEADER_SIZE);
    const n = await file.read(head, 0, SEGMENT_HEADER_SIZE, 0);
    const header = decodeSegmentHeader(head.subarray(0, n));
    if (typeof header !== 'string' && header.segmentNumber !== number) {
      throw corruption(file.path, 0, `header says segment ${header.segmentNumber}, file name says ${number}`);
    }
    return { number, path: file.path, header, sizeBytes: await file.size() };
  } finally {
    await file.close();
  }
}

/**
 * `walSize` (seed: "Calculates the WAL size for checkpoint decisions"): bytes the segment files
 * of the WAL directory `dir` occupy, read from the directory (no open WAL needed). An open
 * `WriteAheadLog` answers the same from memory with `walSize()` — except that this counts file
 * sizes, so a final segment with a preallocated zero tail (`WalOptions.preallocateSegments`)
 * counts whole, while `walSize()` counts its data only.
 */
export async function walSize(dir: Directory): Promise<number> {
  let total = 0;
  for (const number of await listSegments(dir)) {
    const file = await dir.open(segmentFileName(number), 'read');
    try {
      total += await file.size();
    } finally {
      await file.close();
    }
  }
  return total;
}
