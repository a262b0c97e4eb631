/**
 * A takeover (an open that fetched its WAL from the object store into a fresh directory) when the
 * previous writer archived nothing after its newest checkpoint. Only sealed segments are
 * archived, so the segment holding the checkpoint's position — and everything after it — may
 * never have reached the archive: the archive then ends *before* the checkpoint. That is the
 * documented loss bound of a takeover (the previous writer's `unarchivedBytes`, PostgreSQL's
 * `archive_timeout` window), not data the store claims to hold: the new owner recovers the
 * checkpoint and continues the log right after it.
 *
 * What stays `TIDEMARK_DATA_LOSS`: an archive that *does* hold records after the checkpoint but
 * not contiguously from it (a gap between segments, or a first segment starting past the
 * checkpoint's next record) — those checks run after this step, unchanged. A local WAL that ends
 * before its checkpoint (not fetched this open) is never passed here.
 */
import { MAX_SEGMENT_FILE_BYTES } from '../format/constants.js';
import type { Directory } from '../io/directory.js';
import { listSegments } from '../wal/segment-files.js';
import { segmentFileName } from '../wal/segment-name.js';
import { scanSegment } from '../wal/segment-scanner.js';
import { createSegment } from '../wal/segment-writer.js';
import { fetchArchiveIfWalEmpty, RESTORE_MARKER } from './restore-from-object-store.js';
import { objectStoreOf, type StorageOptions } from './storage-location.js';

/** Options of {@link continueAfterUnarchivedTail}. */
export interface UnarchivedTailOptions {
  /** The log directory, just fetched from the archive (the caller holds its lock). */
  dir: Directory;
  /** Last LSN (per-core: sequence) the checkpoint recovery starts from holds. */
  checkpointLsn: number;
  /**
   * Lowest number the continuation segment may take. Per core: one above the segment the
   * checkpoint's position names, so that position (which a reader may jump to) never names a
   * segment before the continuation. Default 1.
   */
  minSegment?: number | undefined;
}

/** What {@link continueAfterUnarchivedTail} found and did. */
export interface UnarchivedTail {
  /** Last LSN the fetched archive held (0: nothing was archived). */
  archivedThroughLsn: number;
  /** Segment number the log now continues in, at LSN `checkpointLsn + 1`. */
  segment: number;
}

/**
 * When the fetched log in `options.dir` ends before `options.checkpointLsn` (or is empty), its
 * segments — every record of which the checkpoint holds — are removed and an empty segment
 * numbered after them, starting at `checkpointLsn + 1`, is created (header and directory entry
 * durable), so recovery replays nothing and the writer appends right after the checkpoint.
 * Resolves what it did, or undefined when the log reaches the checkpoint (nothing changed).
 * Rejects `TIDEMARK_CORRUPTION` for a damaged final segment, `TIDEMARK_IO`.
 */
export async function continueAfterUnarchivedTail(
  options: UnarchivedTailOptions,
): Promise<UnarchivedTail | undefined> {
  const { dir, checkpointLsn } = options;
  if (checkpointLsn <= 0) return undefined;
  const numbers = await listSegments(dir);
  let lastLsn = 0;
  const last = numbers.at(-1);
  if (last !== undefined) {
    const name = segmentFileName(last);
    const buf = Buffer.from(await dir.readFile(name, MAX_SEGMENT_FILE_BYTES));
    lastLsn = scanSegment(buf, { path: `${dir.path}/${name}`, segmentNumber: last, final: true }).lastLsn;
  }
  if (lastLsn >= checkpointLsn) return undefined;
  // Every fetched record is at or before the checkpoint: keeping them would leave an LSN gap
  // before the new segment (the history check would call it corruption). The archive keeps them.
  await dir.remove(numbers.map(segmentFileName));
  const segment = Math.max((last ?? 0) + 1, options.minSegment ?? 1);
  const file = await createSegment(dir, {
    number: segment,
    firstLsn: checkpointLsn + 1,
    dsync: false,
    // Its commit-time base (format version 4): now; an empty segment is rebased on its first write anyway.
    baseSeconds: Math.floor(Date.now() / 1000),
  });
  await file.close();
  return { archivedThroughLsn: lastLsn, segment };
}

/** Options of {@link fetchWalForOpen}. */
export interface FetchWalForOpenOptions {
  /** The data directory's log directory (its lock held by the caller). */
  walDir: Directory;
  /** The open's storage options (object store, `archiveWal`). */
  storage: StorageOptions;
  /**
   * LSN of the checkpoint recovery will start from, called only when this open fetched its WAL
   * from the archive (the caller loads the latest valid checkpoint it will recover anyway).
   */
  checkpointLsn: () => Promise<number>;
  /** Stops the fetch between segments (`TIDEMARK_ABORTED`). */
  signal?: AbortSignal | undefined;
}

/**
 * The WAL a writer opens on an object store (both engines): a fresh directory (an empty log, or
 * an interrupted restore) fetches the archive, and when that archive ends before the checkpoint
 * — the previous writer's unarchived tail, a takeover's loss bound — the log continues right
 * after the checkpoint ({@link continueAfterUnarchivedTail}). Resolves the segments fetched.
 */
export async function fetchWalForOpen(options: FetchWalForOpenOptions): Promise<number> {
  const { walDir, storage } = options;
  const fetching =
    objectStoreOf(storage) !== undefined &&
    storage.archiveWal !== false &&
    ((await listSegments(walDir)).length === 0 || (await walDir.exists(RESTORE_MARKER)));
  if (!fetching) return fetchArchiveIfWalEmpty(walDir, storage, { signal: options.signal });
  // Only the segments from the one holding the checkpoint's next record on: older ones are
  // covered by the checkpoint, and after takeovers the archive may hold an LSN gap below it (a
  // writer that continued after an unarchived tail started its log at its checkpoint).
  const checkpointLsn = await options.checkpointLsn();
  const fetched = await fetchArchiveIfWalEmpty(walDir, storage, {
    signal: options.signal,
    afterLsn: checkpointLsn,
  });
  await continueAfterUnarchivedTail({ dir: walDir, checkpointLsn });
  return fetched;
}
