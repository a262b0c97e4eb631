/**
 * `restoreFromObjectStore()`: rebuilds a data directory on a machine that has nothing — from the
 * object store alone. The newest checkpoint whose whole chain validates is copied into
 * `checkpoints/` (every file checked against its manifest on the way), then the archived WAL
 * segments from the one holding the checkpoint's LSN onward into `wal/`. The result is an
 * ordinary data directory: `RecoveryManager` recovers it, with or without the object store.
 */
import { abortSignalOf, isAborted, throwIfAborted } from '../abort-steps.js';
import { loadLatestCheckpoint } from '../checkpoint/checkpoint-chain.js';
import { type CheckpointDataFile, FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { bothFilters, epochFilter, FilteredCheckpointView } from '../checkpoint/filtered-checkpoint-view.js';
import { TidemarkError } from '../errors.js';
import { SEGMENT_HEADER_SIZE } from '../format/constants.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { Directory } from '../io/directory.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import { FsDirectory } from '../io/fs-directory.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { WriterHistory } from '../io/writer-epoch.js';
import { checkOptionsObject, checkPath, invalidArgument } from '../validation.js';
import { listVisibleArchive } from '../wal/archive-epochs.js';
import { decodeArchivedSegment } from '../wal/archive-object.js';
import { listSegments } from '../wal/segment-files.js';
import { segmentFileName } from '../wal/segment-name.js';
import { archivedSegmentKey } from '../wal/wal-archiver.js';
import { checkPointInTimeTarget, endWalAt, lsnAtCommitTime, pointInTimeFilter } from './point-in-time.js';
import { CHECKPOINT_DIR_NAME, objectStoreOf, type StorageOptions, WAL_DIR_NAME } from './storage-location.js';
import { continueAfterUnarchivedTail } from './unarchived-tail.js';

/** Most bytes one archived segment may have. */
const MAX_SEGMENT_OBJECT_BYTES = 2 ** 32 - 1;

/**
 * Marker file in `wal/` while a restore copies into a data directory. It is made durable before
 * the first object is copied and removed only after the last one is durable — the intent record
 * of a journal (SQLite's hot journal): found on the next open, it says the WAL and checkpoints
 * there are a partial copy, which is discarded and the restore started again, never used.
 */
export const RESTORE_MARKER = 'RESTORING';

async function beginRestore(walDir: Directory): Promise<void> {
  await walDir.writeFileAtomic(RESTORE_MARKER, new TextEncoder().encode(`${new Date().toISOString()}\n`));
}

async function endRestore(walDir: Directory): Promise<void> {
  await walDir.remove([RESTORE_MARKER]);
}

/** Removes what an interrupted restore copied into `walDir` (segments first, the marker last). */
async function discardSegments(walDir: Directory): Promise<void> {
  await walDir.remove((await listSegments(walDir)).map(segmentFileName));
}

/** Options of {@link fetchArchivedSegments}. */
export interface FetchArchivedSegmentsOptions {
  /** The last LSN the recovery already has (its checkpoint's); 0 for all of the archive. */
  afterLsn: number;
  /** The archive's listing, when the caller already has it (default: listed here). */
  archived?: readonly { number: number; key?: string | undefined }[] | undefined;
  /** Called after each segment is copied, with its size in bytes. */
  onSegment?: ((bytes: number) => void) | undefined;
  /** Checked before each segment: once aborted, the copy stops with `TIDEMARK_ABORTED`. */
  signal?: AbortSignal | undefined;
}

/**
 * Copies the archived segments a recovery from LSN `afterLsn` + 1 needs into `walDir`: newest
 * first, down to the segment holding the record after `afterLsn` (all of them when the archive
 * starts later). Each object's CRC32C (metadata) and segment header are checked; a gap in the
 * numbering is `TIDEMARK_DATA_LOSS`. Resolves the segment numbers copied, oldest first.
 */
export async function fetchArchivedSegments(
  storage: S3ObjectStorage,
  walDir: Directory,
  options: FetchArchivedSegmentsOptions,
): Promise<{ segments: number[]; bytes: number }> {
  const { afterLsn, archived, onSegment, signal } = options;
  // Segments a fenced writer archived after a takeover are not part of the history.
  const list = archived ?? (await listVisibleArchive(storage));
  const copied: number[] = [];
  let bytes = 0;
  for (let i = list.length - 1; i >= 0; i--) {
    const { number, key: listedKey } = list[i]!;
    if (copied.length > 0 && copied[copied.length - 1] !== number + 1) {
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `the WAL archive in ${storage.url} has no segment ${number + 1}: records are missing between segments ${number} and ${copied[copied.length - 1]}`,
        { path: storage.urlOf(archivedSegmentKey(number + 1)) },
      );
    }
    throwIfAborted(`copying the WAL archive of ${storage.url}`, signal);
    const key = listedKey ?? archivedSegmentKey(number);
    const data = await decodeArchivedSegment(
      await storage.get(key, MAX_SEGMENT_OBJECT_BYTES),
      storage.urlOf(key),
    );
    const header = data.length >= SEGMENT_HEADER_SIZE ? decodeSegmentHeader(data) : undefined;
    if (header === undefined || typeof header === 'string' || header.segmentNumber !== number) {
      throw new TidemarkError(
        'TIDEMARK_CORRUPTION',
        `${storage.urlOf(key)} at byte 0: not the header of segment ${number}${typeof header === 'string' ? ` (${header})` : ''}`,
        { path: storage.urlOf(key), offset: 0 },
      );
    }
    const file = await walDir.open(segmentFileName(number), 'create');
    try {
      await file.write(data, 0, data.length, 0);
      await file.datasync();
    } finally {
      await file.close();
    }
    bytes += data.length;
    copied.push(number);
    onSegment?.(data.length);
    if (header.firstLsn <= afterLsn + 1) break;
  }
  return { segments: copied.reverse(), bytes };
}

/** What to restore and where. */
export interface RestoreOptions {
  /** The object store: `s3://BUCKET/PREFIX` or a config. */
  from: string | ObjectStoreConfig;
  /** The local data directory to create (must hold no WAL segment and no checkpoint). */
  dir: string;
  /** Called after each object is copied: objects done, objects in all, bytes so far. */
  onProgress?: (done: number, total: number, bytes: number) => void;
  /**
   * Stops the restore before the next object once aborted: what it copied is removed again
   * (the directory holds no WAL and no checkpoint, as before), the lock is released, and it
   * rejects with `TIDEMARK_ABORTED` (`cause` = `signal.reason`). Already aborted: it rejects
   * before touching the directory. Default: none.
   */
  signal?: AbortSignal | undefined;
  /**
   * Point-in-time recovery (see {@link PointInTimeTarget}): restore the state as of this LSN —
   * the newest checkpoint at or before it, the archived WAL after it, cut just after the record.
   * `TIDEMARK_DATA_LOSS` when the archive does not reach it.
   */
  untilLsn?: number | undefined;
  /**
   * Point-in-time recovery by commit time (ms since the Unix epoch; PostgreSQL's
   * `recovery_target_time`): the newest checkpoint created at or before it, then every archived
   * batch whose commit time is ≤ it, up to the first later batch (see `lsnAtCommitTime`).
   * `TIDEMARK_INVALID_ARGUMENT` when the WAL after that checkpoint predates commit times (format
   * versions 1–3); `TIDEMARK_DATA_LOSS` when the archive holds no batch committed after the
   * target (it may not reach it).
   */
  untilTimeMs?: number | undefined;
}

/** What a restore copied. */
export interface RestoreResult {
  /** Checkpoint restored (undefined: none valid in the store; the WAL must then start at LSN 1). */
  checkpointId: number | undefined;
  /** LSN that checkpoint covers (0 without one). */
  checkpointLsn: number;
  /** Checkpoints in the restored chain (its base first). */
  chain: number[];
  /** Newer checkpoints passed over because they did not validate, with the reason. */
  checkpointsSkipped: {
    /** Id of the checkpoint passed over. */
    id: number;
    /** `TidemarkError` code of the failure (e.g. `TIDEMARK_CORRUPTION`). */
    code: string;
    /** The failure's message. */
    reason: string;
  }[];
  /** Archived segments copied, oldest first. */
  segments: number[];
  /** Bytes downloaded. */
  bytes: number;
  /** Point-in-time recovery: the LSN the restored WAL ends at (undefined: no target, the whole archive). */
  targetLsn: number | undefined;
  /** Wall time of the restore (ms). */
  durationMs: number;
}

/**
 * Restores `options.dir` from `options.from`, under the directory's lock (`TIDEMARK_LOCKED` when
 * another writer has it). A restore killed midway (its marker is still in `wal/`) is discarded
 * and started again. Rejects with `TIDEMARK_INVALID_ARGUMENT` when the directory already holds
 * WAL segments or checkpoints; `TIDEMARK_DATA_LOSS` when neither a valid
 * checkpoint nor an archive from LSN 1 is found; `TIDEMARK_CORRUPTION` for damaged objects;
 * `TIDEMARK_IO` for a store that cannot be reached; `TIDEMARK_ABORTED` (see `options.signal`).
 */
export async function restoreFromObjectStore(options: RestoreOptions): Promise<RestoreResult> {
  const t0 = performance.now();
  checkOptionsObject('options', options);
  if (options === undefined) throw invalidArgument('options', options, 'an options object');
  checkPath('options.dir', options.dir);
  const signal = abortSignalOf('restoreFromObjectStore(options)', options);
  const what = `restoring ${options.dir} from the object store`;
  throwIfAborted(what, signal);
  const target = checkPointInTimeTarget(options);
  const config = objectStoreOf({ objectStore: options.from });
  if (config === undefined)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'restore needs an object store');
  const root = await FsDirectory.open(options.dir);
  // The restore writes the data directory: it is its writer, under its lock.
  const lock = await root.lock();
  let remote: FilteredCheckpointView | undefined;
  let storage: S3ObjectStorage | undefined;
  try {
    const walDir = await root.subdirectory(WAL_DIR_NAME);
    if (await walDir.exists(RESTORE_MARKER)) {
      // A restore killed midway: what it copied is partial; start again from nothing.
      await root.removeSubdirectory(CHECKPOINT_DIR_NAME);
      await discardSegments(walDir);
    }
    const localCheckpoints = new FileSystemCheckpointStore(await root.subdirectory(CHECKPOINT_DIR_NAME));
    if (
      !(await walDir.exists(RESTORE_MARKER)) &&
      ((await listSegments(walDir)).length > 0 || (await localCheckpoints.list()).length > 0)
    ) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${root.path} already holds a WAL or checkpoints: restore into an empty directory`,
        { path: root.path },
      );
    }
    await beginRestore(walDir);
    // Only the valid history of the prefix's writer epochs, and only up to the target.
    storage = createObjectStorage(config);
    const epochs = epochFilter(await WriterHistory.read(storage));
    remote = new FilteredCheckpointView(
      storage,
      target ? bothFilters(epochs, pointInTimeFilter(target)) : epochs,
    );
    const latest = await loadLatestCheckpoint(remote);
    const chain = latest.checkpoint?.chain ?? [];
    const checkpointLsn = latest.checkpoint?.manifest.walPosition.lsn ?? 0;
    const archived = await listVisibleArchive(storage);
    let bytes = 0;
    let done = 0;
    const total = () => chain.length + archived.length;

    for (const id of chain) {
      throwIfAborted(what, signal);
      const manifest = await remote.loadManifest(id);
      const files: CheckpointDataFile[] = [];
      for (const entry of manifest.files) {
        const data = await remote.readFile(manifest, entry);
        bytes += data.length;
        files.push({ role: entry.role, chunks: [data] });
      }
      const { files: _files, sizeBytes: _size, attemptId: _attempt, ...rest } = manifest;
      await localCheckpoints.save({ manifest: rest, files });
      options.onProgress?.(++done, total(), bytes);
    }

    const fetched = await fetchArchivedSegments(remote.storage, walDir, {
      afterLsn: checkpointLsn,
      archived,
      signal,
      onSegment: (segmentBytes) => {
        bytes += segmentBytes;
        options.onProgress?.(++done, total(), bytes);
      },
    });
    const copied = fetched.segments;
    // Nothing after the checkpoint was archived: that tail is the loss bound, the log continues
    // right after the checkpoint (unarchived-tail.ts); a gap in what is archived stays an error.
    if (target === undefined) await continueAfterUnarchivedTail({ dir: walDir, checkpointLsn });
    const targetLsn =
      target === undefined
        ? undefined
        : target.untilTimeMs !== undefined
          ? await lsnAtCommitTime(walDir, { afterLsn: checkpointLsn, untilTimeMs: target.untilTimeMs })
          : (target.untilLsn ?? checkpointLsn);
    if (targetLsn !== undefined && copied.length > 0) await endWalAt(walDir, targetLsn);
    else if (targetLsn !== undefined && targetLsn > checkpointLsn)
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `the WAL archive in ${storage.url} holds no record after LSN ${checkpointLsn}, before the recovery target LSN ${targetLsn}`,
        { path: storage.url },
      );
    await endRestore(walDir);
    return {
      checkpointId: latest.checkpoint?.manifest.id,
      checkpointLsn,
      chain,
      checkpointsSkipped: latest.skipped.map((s) => ({ id: s.id, code: s.code, reason: s.reason })),
      segments: copied,
      bytes,
      targetLsn,
      durationMs: performance.now() - t0,
    };
  } catch (err) {
    if (isAborted(err)) await undoRestore(root);
    throw err;
  } finally {
    remote?.close();
    storage?.destroy();
    await lock.release();
  }
}

/**
 * A machine taking over from the object store: when `walDir` holds no segment and `options`
 * name an object store with WAL archiving, copies the whole archive (it is pruned below the
 * oldest retained checkpoint, so it holds only what recovery may need) into `walDir`. Resolves
 * the segments copied (0 when the local WAL exists or archiving is off). The copy is marked
 * ({@link RESTORE_MARKER}) until it is whole and durable: a copy killed midway is discarded and
 * fetched again on the next call, and without the object store that next call rejects with
 * `TIDEMARK_DATA_LOSS` rather than recover from a partial WAL. The caller holds the lock.
 */
export async function fetchArchiveIfWalEmpty(
  walDir: Directory,
  options: StorageOptions,
  control: {
    signal?: AbortSignal | undefined;
    /** Fetch only what a recovery from LSN `afterLsn` + 1 needs (default 0: every archived segment). */
    afterLsn?: number | undefined;
  } = {},
): Promise<number> {
  const config = objectStoreOf(options);
  const interrupted = await walDir.exists(RESTORE_MARKER);
  if (config === undefined || options.archiveWal === false) {
    if (!interrupted) return 0;
    throw new TidemarkError(
      'TIDEMARK_DATA_LOSS',
      `${walDir.path} holds a partial copy of the WAL archive (a restore from the object store was interrupted, ${RESTORE_MARKER} is there): open it with its object store and WAL archiving to restart the restore`,
      { path: walDir.path },
    );
  }
  if (interrupted) await discardSegments(walDir);
  else if ((await listSegments(walDir)).length > 0) return 0;
  const storage = createObjectStorage(config);
  try {
    await beginRestore(walDir);
    let copied: number;
    try {
      copied = (
        await fetchArchivedSegments(storage, walDir, {
          afterLsn: control.afterLsn ?? 0,
          signal: control.signal,
        })
      ).segments.length;
    } catch (err) {
      // An abort leaves the local WAL empty, as it was; the next open fetches it again.
      if (isAborted(err)) {
        await discardSegments(walDir);
        await endRestore(walDir);
      }
      throw err;
    }
    await endRestore(walDir);
    return copied;
  } finally {
    storage.destroy();
  }
}

/**
 * Undoes a restore that was aborted: its checkpoints and segments go, then its marker, so the
 * directory is empty again (not a "restore killed midway" for the next call to clean up).
 */
async function undoRestore(root: Directory): Promise<void> {
  const walDir = await root.subdirectory(WAL_DIR_NAME);
  if (!(await walDir.exists(RESTORE_MARKER))) return;
  await root.removeSubdirectory(CHECKPOINT_DIR_NAME);
  await discardSegments(walDir);
  await endRestore(walDir);
}
