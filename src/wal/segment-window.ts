/**
 * Reading part of a segment file for a read that resumes inside it (or enters the log's last
 * segment from an earlier one, at its first unit): the header, and the bytes from the resume
 * offset on — all of them, or, when the read ends at a known LSN (`untilLsn`: the incremental
 * checkpointer reading up to the durable LSN), only the frames or batches from the resume offset
 * up to the one holding it, relocated right after the header in a small image.
 *
 * Why: a final segment is preallocated (64 MiB by default) and the checkpointer resumes near its
 * data end. Reading and scanning the rest of the file — zeros, or batches appended after the
 * durable LSN — and allocating an image the size of the file (64 MiB of external memory, which
 * makes V8 run a full GC) cost more than replaying the 1 % of keys a delta holds. Stopping at
 * `untilLsn` also keeps the read off bytes the writer may be writing.
 *
 * What is taken is checked as before: the probe here accepts a window only when every unit in it
 * reads Ok with contiguous LSNs from the resume LSN to `untilLsn`, and the scanner then walks it
 * (every CRC again, LSN continuity). Anything else (damage, the file ending first, an unreadable
 * header) reads the whole rest of the file in place, where the usual rules say what it is.
 */
import { TidemarkError } from '../errors.js';
import { MAX_SEGMENT_FILE_BYTES, SEGMENT_HEADER_SIZE } from '../format/constants.js';
import { BatchStatus } from '../format/record-batch.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { Directory, DirectoryFile } from '../io/directory.js';
import { type FramedUnit, framingFor } from './segment-framing.js';

/** First window read past the resume offset (bytes); doubled while `untilLsn` lies beyond it. */
const FIRST_WINDOW_BYTES = 2 ** 20;

/**
 * A partial segment image. With `base` 0, image offsets are file offsets and the bytes between
 * the header and the resume offset are not read (uninitialized). With `base` > 0 (a bounded
 * window), the bytes at file offset `x` are at image offset `x - base` (the header stays at 0).
 */
export interface SegmentWindow {
  /** The image. */
  buf: Buffer;
  /** File offset minus image offset of every byte past the header (0: none relocated). */
  base: number;
  /** True when the image ends at the unit holding `untilLsn` (the log's end was not looked at). */
  bounded: boolean;
}

/**
 * The header and the bytes from `at.offset` on of segment `name` (see the module comment); with
 * `untilLsn`, a bounded window when the units from `at.offset` (holding `at.lsn`) to the one
 * holding `untilLsn` read intact. Throws `TIDEMARK_LIMIT` for a file over the segment cap, and
 * what `Directory.open` / reads throw.
 */
export async function readSegmentFrom(
  dir: Directory,
  name: string,
  at: { offset: number; lsn: number; untilLsn?: number | undefined },
): Promise<SegmentWindow> {
  const { offset, lsn, untilLsn } = at;
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
    const headerEnd = Math.min(SEGMENT_HEADER_SIZE, size);
    const head = Buffer.allocUnsafe(SEGMENT_HEADER_SIZE);
    if ((await fill(file, head, { from: 0, to: headerEnd, at: 0 })) < headerEnd)
      return { buf: head.subarray(0, 0), base: 0, bounded: false };
    const start = Math.max(offset, headerEnd);
    if (untilLsn !== undefined && Number.isFinite(untilLsn) && start >= SEGMENT_HEADER_SIZE) {
      const window = await boundedWindow(file, head, { start, size, lsn, untilLsn });
      if (window !== undefined) {
        const buf = Buffer.allocUnsafe(SEGMENT_HEADER_SIZE + window.length);
        head.copy(buf, 0);
        window.copy(buf, SEGMENT_HEADER_SIZE);
        return { buf, base: start - SEGMENT_HEADER_SIZE, bounded: true };
      }
    }
    const buf = Buffer.allocUnsafe(size);
    head.copy(buf, 0, 0, headerEnd);
    const end = await fill(file, buf, { from: start, to: size, at: start });
    return { buf: buf.subarray(0, end), base: 0, bounded: false };
  } finally {
    await file.close();
  }
}

/** Reads file bytes from offset `at` into `buf[from, to)`; returns where the data ended in `buf`. */
async function fill(
  file: DirectoryFile,
  buf: Buffer,
  range: { from: number; to: number; at: number },
): Promise<number> {
  const { from, to, at } = range;
  let p = from;
  while (p < to) {
    const n = await file.read(buf, p, to - p, at + (p - from));
    if (n === 0) break;
    p += n;
  }
  return p;
}

/**
 * The file's bytes from `start` up to the end of the unit holding `untilLsn`, read in windows
 * (1 MiB, doubling), when every unit from `start` reads Ok, the first holds `lsn` and their LSNs
 * run on without a gap; undefined when anything else comes first.
 */
async function boundedWindow(
  file: DirectoryFile,
  head: Buffer,
  range: { start: number; size: number; lsn: number; untilLsn: number },
): Promise<Buffer | undefined> {
  const { start, size, lsn, untilLsn } = range;
  const header = decodeSegmentHeader(head);
  if (typeof header === 'string') return undefined;
  const framing = framingFor(header, header.segmentNumber);
  const unit: FramedUnit = { firstLsn: 0, count: 0, size: 0, commitTimeMs: -1 };
  const rest = size - start;
  let win = Buffer.allocUnsafe(Math.min(FIRST_WINDOW_BYTES, rest));
  let filled = 0;
  let p = 0;
  let nextLsn: number | undefined;
  for (;;) {
    const got = await fill(file, win, { from: filled, to: win.length, at: start + filled });
    const complete = got === rest || got < win.length;
    filled = got;
    while (p < filled) {
      const status = framing.read(win, p, filled, unit);
      if (status === BatchStatus.Truncated && !complete) break; // the rest is in a larger window
      if (status !== BatchStatus.Ok) return undefined;
      if (
        nextLsn === undefined
          ? unit.firstLsn > lsn || unit.firstLsn + unit.count <= lsn
          : unit.firstLsn !== nextLsn
      )
        return undefined;
      nextLsn = unit.firstLsn + unit.count;
      if (nextLsn - 1 >= untilLsn) return win.subarray(0, p + unit.size);
      p += unit.size;
    }
    if (complete) return undefined;
    const larger = Buffer.allocUnsafe(Math.min(win.length * 2, rest));
    win.copy(larger, 0, 0, filled);
    win = larger;
  }
}
