/**
 * Reading part of a segment file for a read that resumes inside it: the header, and the bytes
 * from the resume offset on — all of them, or, when the read ends at a known LSN (`untilLsn`:
 * the incremental checkpointer reading up to the durable LSN), only up to the end of the frame
 * or batch holding it.
 *
 * Why the bound matters: a final segment is preallocated (64 MiB by default) and the
 * checkpointer resumes near its data end; reading and scanning the rest of the file — zeros, or
 * batches appended after the durable LSN — cost more than replaying the 1 % of keys a delta
 * holds. Stopping at `untilLsn` also keeps the read off bytes the writer may be writing. The
 * bytes it does take are checked exactly as before (the scanner walks the bounded image: every
 * CRC, LSN continuity); anything unexpected before `untilLsn` is reached (damage, an unreadable
 * header, the file ending first) falls back to reading the whole rest, where the usual rules say
 * what it is.
 */
import { TidemarkError } from '../errors.js';
import { MAX_SEGMENT_FILE_BYTES, SEGMENT_HEADER_SIZE } from '../format/constants.js';
import { BatchStatus } from '../format/record-batch.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { Directory, DirectoryFile } from '../io/directory.js';
import { type FramedUnit, framingFor } from './segment-framing.js';

/** First window read past the resume offset (bytes); doubled while `untilLsn` lies beyond it. */
const FIRST_WINDOW_BYTES = 4 * 2 ** 20;

/** A partial segment image: file offsets are image offsets; bytes not read stay uninitialized. */
export interface SegmentWindow {
  /** The image: the header, then the bytes from the resume offset to its end. */
  buf: Buffer;
  /** True when the image ends at the unit holding `untilLsn`, before the end of the file. */
  bounded: boolean;
}

/**
 * The header and the bytes from `offset` on of segment `name` (see the module comment): with
 * `untilLsn`, up to the end of the unit holding it when that is found intact. Throws
 * `TIDEMARK_LIMIT` for a file over the segment cap, and what `Directory.open` / reads throw.
 */
export async function readSegmentFrom(
  dir: Directory,
  name: string,
  at: { offset: number; untilLsn?: number | undefined },
): Promise<SegmentWindow> {
  const { offset, untilLsn } = at;
  const file = await dir.open(name, 'read');
  try {
    const size = await file.size();
    if (size > MAX_SEGMENT_FILE_BYTES) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `${file.path} is ${size} bytes, over the cap of ${MAX_SEGMENT_FILE_BYTES}`,
        { path: file.path },
      );
    }
    const buf = Buffer.allocUnsafe(size);
    const headerEnd = Math.min(SEGMENT_HEADER_SIZE, size);
    if ((await fill(file, buf, 0, headerEnd)) < headerEnd) return { buf: buf.subarray(0, 0), bounded: false };
    const start = Math.max(offset, headerEnd);
    if (untilLsn !== undefined && Number.isFinite(untilLsn)) {
      const end = await boundedEnd(file, buf, { start, size, untilLsn, segment: name });
      if (end !== undefined) return { buf: buf.subarray(0, end), bounded: end < size };
    }
    const end = await fill(file, buf, start, size);
    return { buf: buf.subarray(0, end), bounded: false };
  } finally {
    await file.close();
  }
}

/** Reads `buf[from, to)` from the file at the same offsets; returns where the data ended. */
async function fill(file: DirectoryFile, buf: Buffer, from: number, to: number): Promise<number> {
  let at = from;
  while (at < to) {
    const n = await file.read(buf, at, to - at, at);
    if (n === 0) break;
    at += n;
  }
  return at;
}

/**
 * Reads windows from `start` on (4 MiB, doubling) until the frame or batch holding `untilLsn`
 * is whole in them; returns its end offset, or undefined when something else comes first (a unit
 * that does not read Ok, the end of the file): the caller then reads the whole rest.
 */
async function boundedEnd(
  file: DirectoryFile,
  buf: Buffer,
  range: { start: number; size: number; untilLsn: number; segment: string },
): Promise<number | undefined> {
  const { start, size, untilLsn } = range;
  const header = decodeSegmentHeader(buf.subarray(0, SEGMENT_HEADER_SIZE));
  if (typeof header === 'string') return undefined;
  const framing = framingFor(header.version, header.segmentNumber);
  const unit: FramedUnit = { firstLsn: 0, count: 0, size: 0 };
  let filled = start;
  let window = FIRST_WINDOW_BYTES;
  let p = start;
  for (;;) {
    const want = Math.min(size, filled + window);
    const got = await fill(file, buf, filled, want);
    const complete = got === size || got < want;
    filled = got;
    window *= 2;
    while (p < filled) {
      const status = framing.read(buf, p, filled, unit);
      if (status === BatchStatus.Truncated && !complete) break; // the rest is in the next window
      if (status !== BatchStatus.Ok) return undefined;
      if (unit.firstLsn + unit.count - 1 >= untilLsn) return p + unit.size;
      p += unit.size;
    }
    if (complete) return undefined;
  }
}
