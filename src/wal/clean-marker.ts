/**
 * The clean-shutdown marker `wal/CLEAN` on disk: written by a clean `close()`, checked by every
 * reader of the log (`WriteAheadLog.open`, `WalReader`, `tidemark verify`), made stale by the
 * next open for writing. A log that ends before the point the marker names lost records that
 * were acknowledged before the clean close: `TIDEMARK_DATA_LOSS`, never a torn tail.
 */
import { TidemarkError } from '../errors.js';
import { type CleanShutdownMarker, decodeCleanMarker, encodeCleanMarker } from '../format/clean-shutdown.js';
import { CLEAN_MARKER_FILE_NAME, CLEAN_MARKER_SIZE } from '../format/constants.js';
import type { Directory } from '../io/directory.js';

/**
 * Reads `dir`'s marker; undefined when there is none. Throws `TIDEMARK_CORRUPTION` or
 * `TIDEMARK_UNSUPPORTED_VERSION` for a damaged or newer one, `TIDEMARK_IO`.
 */
export async function readCleanMarker(dir: Directory): Promise<CleanShutdownMarker | undefined> {
  if (!(await dir.exists(CLEAN_MARKER_FILE_NAME))) return undefined;
  let bytes: Uint8Array;
  try {
    // Twice the size: an oversized file is reported as corruption by the decoder, not as a limit.
    bytes = await dir.readFile(CLEAN_MARKER_FILE_NAME, CLEAN_MARKER_SIZE * 2);
  } catch (err) {
    if (err instanceof TidemarkError && err.code === 'TIDEMARK_NOT_FOUND') return undefined;
    if (err instanceof TidemarkError && err.code === 'TIDEMARK_LIMIT') bytes = new Uint8Array(0);
    else throw err;
  }
  return decodeCleanMarker(bytes, `${dir.path}/${CLEAN_MARKER_FILE_NAME}`);
}

/** Writes the marker atomically (tmp, fdatasync, rename, directory fsync). */
export async function writeCleanMarker(dir: Directory, marker: CleanShutdownMarker): Promise<void> {
  await dir.writeFileAtomic(CLEAN_MARKER_FILE_NAME, encodeCleanMarker(marker));
}

/** Removes the marker and fsyncs the directory: after this, nothing vouches for the log's end. */
export async function removeCleanMarker(dir: Directory): Promise<void> {
  await dir.remove([CLEAN_MARKER_FILE_NAME]);
}

/** Where a read of the whole log found it to end. */
export interface LogEnd {
  /** Number of the final segment, or undefined when the log has no segment. */
  segment: number | undefined;
  /** Path of the final segment (or of the WAL directory when there is none), for the error. */
  path: string;
  /** LSN of the last intact record. */
  lastLsn: number;
  /** Offset just after the last intact record in the final segment. */
  endOffset: number;
}

/**
 * Compares the log's end with the marker: undefined when the log reaches at least as far as
 * the marker says, else the `TIDEMARK_DATA_LOSS` to throw or report, naming the missing LSNs.
 * (A log that goes *past* the marker is not refused: nothing the marker vouches for is missing.)
 */
export function cleanShutdownShortfall(
  marker: CleanShutdownMarker,
  end: LogEnd,
  markerPath: string,
): TidemarkError | undefined {
  const short =
    end.segment === undefined ||
    end.lastLsn < marker.lsn ||
    end.segment < marker.segment ||
    (end.segment === marker.segment && end.endOffset < marker.endOffset);
  if (!short) return undefined;
  const missing =
    end.lastLsn < marker.lsn
      ? `records with LSN ${end.lastLsn + 1}..${marker.lsn} are missing`
      : `bytes ${end.endOffset}..${marker.endOffset} of segment ${marker.segment} are missing`;
  return new TidemarkError(
    'TIDEMARK_DATA_LOSS',
    `the log was closed cleanly at LSN ${marker.lsn} (segment ${marker.segment}, ${marker.endOffset} bytes; ${markerPath}) but now ends at LSN ${end.lastLsn}${end.segment === undefined ? ' with no segment' : ` (segment ${end.segment}, offset ${end.endOffset})`}: ${missing}. This is not a torn write; recover with mode 'point-in-time' (cuts and reports) or 'salvage' (read-only)`,
    { path: end.path, offset: end.segment === undefined ? undefined : end.endOffset },
  );
}

/**
 * `TIDEMARK_DATA_LOSS` for a cleanly closed log whose final segment's header is now damaged: the
 * marker was written after that header was durable, so this is not a crash during rotation.
 */
export function cleanShutdownHeaderLoss(
  marker: CleanShutdownMarker,
  segmentPath: string,
  markerPath: string,
): TidemarkError {
  return new TidemarkError(
    'TIDEMARK_DATA_LOSS',
    `the log was closed cleanly at LSN ${marker.lsn} (segment ${marker.segment}, ${marker.endOffset} bytes; ${markerPath}) but the header of its final segment is damaged: its records cannot be read. This is not a torn write; recover with mode 'point-in-time' or 'salvage'`,
    { path: segmentPath, offset: 0 },
  );
}
