/**
 * Opening a WAL directory (etcd's `wal.Open` + `repair.go`): the option ranges, the segment
 * listing, dropping a final segment whose header never became durable, scanning (and, for a torn
 * tail, cutting) the final segment, and the clean-shutdown marker check. What it returns is the
 * state the writer starts from; nothing here appends.
 */
import { corruption, TidemarkError } from '../errors.js';
import {
  CLEAN_MARKER_FILE_NAME as CLEAN_MARKER_NAME,
  MAX_SEGMENT_FILE_BYTES,
  MAX_SEGMENT_SIZE_BYTES,
  SEGMENT_HEADER_SIZE,
  WAL_FORMAT_VERSION,
} from '../format/constants.js';
import type { Directory, DirectoryFile } from '../io/directory.js';
import { saveBrokenCopy } from './broken-copy.js';
import {
  cleanShutdownHeaderLoss,
  cleanShutdownShortfall,
  readCleanMarker,
  removeCleanMarker,
} from './clean-marker.js';
import { listSegments, readSegmentHead } from './segment-files.js';
import { segmentFileName } from './segment-name.js';
import { removePreparedSegment } from './segment-preallocator.js';
import {
  endOfNonZero,
  headerError,
  isTornSegmentHeader,
  isZeroFrom,
  scanSegment,
  type TornTail,
} from './segment-scanner.js';
import { createSegment, type Segment } from './segment-writer.js';
import type { WalOptions } from './wal-options.js';

/** {@link WalOptions} with every default applied and every range checked. */
export interface ResolvedWalOptions {
  segmentSizeBytes: number;
  groupCommitBytes: number;
  groupCommitDelayMs: number;
  maxBufferedBytes: number;
  initialLsn: number;
  dsync: boolean;
  cleanShutdown: boolean;
  recoveryMode: 'tolerate-torn-tail' | 'absolute-consistency';
  preallocateSegments: boolean;
  /** The wall clock for commit times (ms since the Unix epoch). */
  clock: () => number;
}

/** What open found (and repaired): the writer starts appending at the end of `file`. */
export interface OpenedSegments {
  file: DirectoryFile;
  /** Every segment, oldest first; the last one is open in `file`. */
  segments: Segment[];
  /** LSN of the last valid record (initialLsn - 1 when there is none). */
  lastLsn: number;
  /** Damage cut from the final segment, if any. */
  repaired: TornTail | undefined;
  /** Format version of the final segment. */
  activeVersion: number;
  /** Base time of the final segment (whole seconds since the Unix epoch); undefined below version 4. */
  baseSeconds: number | undefined;
  /** Commit time of the final segment's last batch (ms since the Unix epoch), if it has one. */
  lastCommitTimeMs: number | undefined;
  /** Size of the final segment's file: larger than its data when it has a preallocated zero tail. */
  fileBytes: number;
}

function positiveInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

/** Applies the defaults of {@link WalOptions}; throws `TIDEMARK_INVALID_ARGUMENT` for a bad one. */
export function resolveWalOptions(options: WalOptions): ResolvedWalOptions {
  const segmentSizeBytes = positiveInt(
    'segmentSizeBytes',
    options.segmentSizeBytes ?? 64 * 1024 * 1024,
    4096,
    MAX_SEGMENT_SIZE_BYTES,
  );
  const groupCommitBytes = positiveInt(
    'groupCommitBytes',
    options.groupCommitBytes ?? Math.min(512 * 1024, segmentSizeBytes),
    1,
    segmentSizeBytes,
  );
  const groupCommitDelayMs = positiveInt('groupCommitDelayMs', options.groupCommitDelayMs ?? 2, 0, 60_000);
  const maxBufferedBytes = positiveInt(
    'maxBufferedBytes',
    options.maxBufferedBytes ?? 64 * 1024 * 1024,
    groupCommitBytes,
    2 ** 31 - 1,
  );
  const initialLsn = positiveInt('initialLsn', options.initialLsn ?? 1, 1, Number.MAX_SAFE_INTEGER);
  const syncMethod = options.syncMethod ?? 'o_dsync';
  if (syncMethod !== 'o_dsync' && syncMethod !== 'fdatasync') {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `syncMethod must be 'o_dsync' or 'fdatasync', got ${syncMethod}`,
    );
  }
  const cleanShutdown = options.cleanShutdown ?? true;
  if (typeof cleanShutdown !== 'boolean')
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `cleanShutdown must be a boolean, got ${cleanShutdown}`,
    );
  const preallocateSegments = options.preallocateSegments === undefined ? true : options.preallocateSegments;
  if (typeof preallocateSegments !== 'boolean')
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `preallocateSegments must be a boolean, got ${preallocateSegments}`,
    );
  return {
    preallocateSegments,
    segmentSizeBytes,
    groupCommitBytes,
    groupCommitDelayMs,
    maxBufferedBytes,
    initialLsn,
    dsync: syncMethod === 'o_dsync',
    cleanShutdown,
    recoveryMode: options.recoveryMode ?? 'tolerate-torn-tail',
    clock: resolveClock(options.clock),
  };
}

function resolveClock(clock: WalOptions['clock']): () => number {
  if (clock === undefined) return Date.now;
  if (typeof clock !== 'function')
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `clock must be a function, got ${typeof clock}`, {
      argument: 'clock',
    });
  return clock;
}

/**
 * Lists, checks and repairs the segments of `dir` (whose writer lock the caller holds) and opens
 * the final one for appending, creating the first segment of an empty log. Throws
 * `TIDEMARK_CORRUPTION`, `TIDEMARK_UNSUPPORTED_VERSION`, `TIDEMARK_IO`, and `TIDEMARK_DATA_LOSS`
 * when the log was closed cleanly but now ends before the point its marker `CLEAN` names
 * (nothing is cut or removed then).
 */
export async function openSegments(dir: Directory, options: ResolvedWalOptions): Promise<OpenedSegments> {
  const { initialLsn, dsync } = options;
  // Checked before anything is repaired: a cleanly closed log that is now short is refused whole.
  const marker = await readCleanMarker(dir);
  const markerPath = `${dir.path}/${CLEAN_MARKER_NAME}`;
  const numbers = await listSegments(dir);
  // A segment prepared in the background before a crash (or a close) is not part of the log;
  // a new one is prepared when needed. Removing it is safe: nothing was ever written to it.
  await removePreparedSegment(dir);
  if (marker && numbers.length === 0)
    throw cleanShutdownShortfall(
      marker,
      { segment: undefined, path: dir.path, lastLsn: 0, endOffset: 0 },
      markerPath,
    );
  let repaired: TornTail | undefined;
  // A final segment whose header never became durable (crash during rotation) holds nothing
  // acknowledged: drop it. If it was the only one, a fresh segment of that number replaces it.
  // The final segment is read once; its image is kept for the scan below.
  let replaceNumber: number | undefined;
  let finalImage: Buffer | undefined;
  while (numbers.length > 0) {
    const number = numbers[numbers.length - 1]!;
    const name = segmentFileName(number);
    const buf = Buffer.from(await dir.readFile(name, MAX_SEGMENT_FILE_BYTES));
    if (!isTornSegmentHeader(buf, undefined)) {
      finalImage = buf;
      break;
    }
    // The marker was written after its segment's header was durable: that header cannot be torn.
    if (marker && marker.segment >= number)
      throw cleanShutdownHeaderLoss(marker, `${dir.path}/${name}`, markerPath);
    if (options.recoveryMode === 'absolute-consistency')
      throw corruption(
        `${dir.path}/${name}`,
        0,
        'segment header never became durable (absolute-consistency refuses a torn tail)',
      );
    repaired = {
      path: `${dir.path}/${name}`,
      offset: 0,
      bytesDropped: buf.length,
      reason: 'segment header never became durable',
    };
    // An all-zero file (a prepared segment renamed into place, header never written) holds nothing to keep.
    if (!isZeroFrom(buf, 0)) await saveBrokenCopy(dir, name, buf);
    await dir.remove([name]);
    numbers.pop();
    if (numbers.length === 0) replaceNumber = number;
  }
  const segments: Segment[] = [];
  for (let i = 0; i < numbers.length - 1; i++) {
    const head = await readSegmentHead(dir, numbers[i]!);
    if (typeof head.header === 'string') throw headerError(head.path, head.header);
    segments.push({ number: head.number, firstLsn: head.header.firstLsn, sizeBytes: head.sizeBytes });
  }
  if (finalImage === undefined) {
    // Every segment is gone or never had a durable header: a marker says records were there.
    if (marker)
      throw cleanShutdownShortfall(
        marker,
        { segment: undefined, path: dir.path, lastLsn: 0, endOffset: 0 },
        markerPath,
      )!;
    const number = replaceNumber ?? 1;
    const baseSeconds = Math.floor(options.clock() / 1000);
    const file = await createSegment(dir, { number, firstLsn: initialLsn, dsync, baseSeconds });
    segments.push({ number, firstLsn: initialLsn, sizeBytes: SEGMENT_HEADER_SIZE });
    return {
      file,
      segments,
      lastLsn: initialLsn - 1,
      repaired,
      activeVersion: WAL_FORMAT_VERSION,
      baseSeconds,
      lastCommitTimeMs: undefined,
      fileBytes: SEGMENT_HEADER_SIZE,
    };
  }
  const number = numbers[numbers.length - 1]!;
  const name = segmentFileName(number);
  const path = `${dir.path}/${name}`;
  const scan = scanSegment(finalImage, {
    path,
    segmentNumber: number,
    final: true,
    mode: options.recoveryMode,
  });
  const prev = segments[segments.length - 1];
  if (prev && scan.header.firstLsn <= prev.firstLsn) {
    throw corruption(
      path,
      0,
      `segment starts at LSN ${scan.header.firstLsn}, not after segment ${prev.number}`,
    );
  }
  if (marker) {
    const short = cleanShutdownShortfall(
      marker,
      { segment: number, path, lastLsn: scan.lastLsn, endOffset: scan.validEnd },
      markerPath,
    );
    if (short) throw short;
    // From here on the log may change: the marker must be gone (durably) before it does.
    await removeCleanMarker(dir);
  }
  // The copy leaves out a preallocated file's zero tail: the bytes that were cut, not the
  // unused space after them (which would make the copy up to a segment's size of zeros).
  if (scan.tornTail)
    await saveBrokenCopy(
      dir,
      name,
      finalImage.subarray(scan.validEnd, endOfNonZero(finalImage, scan.validEnd)),
    );
  const file = await dir.open(name, 'write', { dsync });
  if (scan.tornTail) {
    repaired = scan.tornTail;
    try {
      await file.truncate(scan.validEnd);
      await file.datasync();
    } catch (err) {
      await file.close();
      throw err;
    }
  }
  segments.push({ number, firstLsn: scan.header.firstLsn, sizeBytes: scan.validEnd });
  return {
    file,
    segments,
    lastLsn: scan.lastLsn,
    repaired,
    activeVersion: scan.header.version,
    baseSeconds: scan.header.baseSeconds,
    lastCommitTimeMs: scan.lastCommitTimeMs,
    fileBytes: scan.tornTail ? scan.validEnd : finalImage.length,
  };
}
