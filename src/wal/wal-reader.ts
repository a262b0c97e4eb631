/**
 * `WalReader`: reads the records of a WAL directory from any LSN, read-only (it never repairs).
 * Checks segment numbers are consecutive, each segment starts at the LSN after the previous one
 * ended, every frame's checksum, and that damage appears only as a torn tail of the final segment.
 */

import { TidemarkError } from '../errors.js';
import { MAX_SEGMENT_FILE_BYTES } from '../format/constants.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { Directory } from '../io/directory.js';
import { listSegments, readSegmentHead } from './segment-files.js';
import { segmentFileName } from './segment-name.js';
import {
  headerError,
  isTornSegmentHeader,
  type RecordVisitor,
  scanSegment,
  type TornTail,
} from './segment-scanner.js';

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

/** Reads a WAL directory; see {@link WalReader.read}. */
export class WalReader {
  /**
   * Calls `visit` for every record with LSN ≥ `fromLsn`, in LSN order.
   * Throws `TIDEMARK_CORRUPTION` (file + offset) for damage that is not a torn tail of the final
   * segment, `TIDEMARK_UNSUPPORTED_VERSION` for newer segments, and `TIDEMARK_DATA_LOSS` when
   * `fromLsn` is older than the oldest record still in the WAL.
   *
   * With `untilLsn`, records past it are not visited and no segment after the one holding it is
   * read: a reader may then run alongside the writer (Ring 1's checkpointer), up to the durable LSN.
   */
  static async read(
    dir: Directory,
    fromLsn: number,
    visit: RecordVisitor,
    untilLsn = Number.POSITIVE_INFINITY,
  ): Promise<WalReadStats> {
    const segments = await segmentHeaders(dir);
    const stats: WalReadStats = {
      records: 0,
      bytesRead: 0,
      segmentsRead: 0,
      firstLsn: fromLsn,
      lastLsn: fromLsn - 1,
      tornTail: undefined,
    };
    if (segments.length === 0) return stats;
    const last = segments.length - 1;
    for (let i = 0; i < last; i++) {
      if (segments[i]!.firstLsn === undefined) {
        const path = `${dir.path}/${segments[i]!.name}`;
        const buf = Buffer.from(await dir.readFile(segments[i]!.name, MAX_SEGMENT_FILE_BYTES));
        const problem = decodeSegmentHeader(buf);
        throw headerError(path, typeof problem === 'string' ? problem : 'checksum');
      }
    }
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
    let expectedFirst: number | undefined;
    const filtered: RecordVisitor = (lsn, type, buf, ps, pl, fo) => {
      if (lsn < fromLsn || lsn > untilLsn) return;
      stats.records++;
      visit(lsn, type, buf, ps, pl, fo);
    };
    for (let i = start; i <= last; i++) {
      const seg = segments[i]!;
      const path = `${dir.path}/${seg.name}`;
      const buf = Buffer.from(await dir.readFile(seg.name, MAX_SEGMENT_FILE_BYTES));
      stats.bytesRead += buf.length;
      stats.segmentsRead++;
      if (i === last && isTornSegmentHeader(buf, expectedFirst)) {
        stats.tornTail = {
          path,
          offset: 0,
          bytesDropped: buf.length,
          reason: 'segment header never became durable',
        };
        break;
      }
      const scan = scanSegment(buf, path, seg.number, i === last, filtered, expectedFirst);
      stats.lastLsn = scan.lastLsn;
      stats.tornTail = scan.tornTail;
      expectedFirst = scan.lastLsn + 1;
      if (scan.lastLsn >= untilLsn) {
        if (i < last) stats.tornTail = undefined;
        break;
      }
    }
    return stats;
  }
}
