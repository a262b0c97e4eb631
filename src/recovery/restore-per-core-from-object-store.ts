/**
 * `restorePerCoreFromObjectStore()`: rebuilds a per-core data directory on a machine that has
 * nothing — from the object store alone, as `restoreFromObjectStore` does for the single log.
 * The newest checkpoint whose whole chain (base + deltas) validates is copied into
 * `checkpoints/`, then, for every core, its archived segments (`<prefix>/wal/core-<id>/`) from
 * the one holding the checkpoint's position for that core onward into `wal/core-<id>/`. The
 * result is an ordinary per-core data directory: `recoverPerCore` / `PerCoreRecoveryManager`
 * recover it, with or without the object store.
 *
 * With writer epochs on the prefix (docs/OBJECT-STORE.md) only the valid history is restored:
 * checkpoints and archived segments a fenced writer published after a takeover are passed over.
 * A core whose archive ends before the checkpoint's position for it (nothing after the
 * checkpoint was archived: the takeover's loss bound) continues right after the checkpoint
 * (`unarchived-tail.ts`); a gap in what the archive does hold is `TIDEMARK_DATA_LOSS`.
 *
 * Crash-safe the same way as the single-log restore: the `RESTORING` marker is made durable in
 * `wal/` before the first object is copied and removed only after the last one is durable; a
 * restore killed midway leaves it, and the next restore discards the partial copy and starts
 * again (SQLite's hot journal).
 */
import { loadLatestCheckpoint } from '../checkpoint/checkpoint-chain.js';
import { type CheckpointDataFile, FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { epochFilter, FilteredCheckpointView } from '../checkpoint/filtered-checkpoint-view.js';
import type { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import { perCoreProgressOf } from '../checkpoint/per-core-checkpoint-coordinator.js';
import { isTidemarkError, TidemarkError } from '../errors.js';
import { MAX_CORES } from '../format/constants.js';
import type { Directory } from '../io/directory.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import { FsDirectory } from '../io/fs-directory.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { WriterHistory } from '../io/writer-epoch.js';
import {
  coreArchiveStorage,
  listArchivedCores,
  listVisibleCoreArchive,
} from '../wal/per-core-wal-archive.js';
import { coreWalDirName } from '../wal/per-core-wal-reader.js';
import { listSegments } from '../wal/segment-files.js';
import { segmentFileName } from '../wal/segment-name.js';
import type { WalPosition } from '../wal/wal-reader.js';
import { fetchArchivedSegments, RESTORE_MARKER } from './restore-from-object-store.js';
import { CHECKPOINT_DIR_NAME, objectStoreOf, WAL_DIR_NAME } from './storage-location.js';
import { continueAfterUnarchivedTail } from './unarchived-tail.js';

/** What to restore and where. */
export interface PerCoreRestoreOptions {
  /** The object store: `s3://BUCKET/PREFIX` or a config. */
  from: string | ObjectStoreConfig;
  /** The local data directory to create (must hold no WAL segment and no checkpoint). */
  dir: string;
  /**
   * Number of cores, 1..1024. Default: detected — one above the highest core id in the latest
   * checkpoint or in the archive. Fewer than the store holds is `TIDEMARK_INVALID_ARGUMENT`.
   */
  cores?: number | undefined;
  /** Called after each object is copied: objects done, bytes so far. */
  onProgress?: ((done: number, bytes: number) => void) | undefined;
}

/** What a per-core restore copied. */
export interface PerCoreRestoreResult {
  /** Cores restored (`core-0` … `core-<cores-1>`). */
  cores: number;
  /** Checkpoint restored (undefined: none valid in the store; every core's log must then start at sequence 1). */
  checkpointId: number | undefined;
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
  /** Archived segments copied per core id, oldest first. */
  segments: Record<string, number[]>;
  /** Bytes downloaded. */
  bytes: number;
  /** Wall time, ms. */
  durationMs: number;
}

/**
 * The number of cores a per-core object store holds — one above the highest core id in its WAL
 * archive or, with none archived, in its newest checkpoint manifest that can be read — or
 * undefined when it holds no per-core data (a single-log store, or an empty one). Reads only
 * listings and manifests. Rejects `TIDEMARK_IO` for a store that cannot be reached.
 */
export async function detectObjectStoreCores(store: ObjectStoreCheckpointStore): Promise<number | undefined> {
  const archived = await coresOf(store.storage, []);
  if (archived !== undefined) return archived;
  const ids = await store.list();
  for (let i = ids.length - 1; i >= 0; i--) {
    try {
      const m = await store.loadManifest(ids[i]!);
      return coresOf(store.storage, perCoreProgressOf(m).positions.keys());
    } catch (err) {
      if (!isTidemarkError(err) || err.code === 'TIDEMARK_IO') throw err;
    }
  }
  return undefined;
}

async function coresOf(
  storage: S3ObjectStorage,
  fromCheckpoint: Iterable<number>,
): Promise<number | undefined> {
  let highest = -1;
  for (const c of fromCheckpoint) highest = Math.max(highest, c);
  for (const c of await listArchivedCores(storage)) highest = Math.max(highest, c);
  return highest < 0 ? undefined : highest + 1;
}

/** Options of {@link fetchCoreArchives}. */
export interface FetchCoreArchivesOptions {
  /** The object store (the data directory's prefix; each core's archive is under it). */
  storage: S3ObjectStorage;
  /** The WAL root to copy into (`core-<id>/` each); the caller holds the directory's lock. */
  walRoot: Directory;
  /** Cores to fetch (`core-0` … `core-<cores-1>`). */
  cores: number;
  /** The checkpoint's position per core (recovery starts there); absent core: from its start. */
  positions: ReadonlyMap<number, WalPosition>;
  /** The prefix's writer history: only its visible segments are fetched. */
  history: WriterHistory;
  /** Called after each segment is copied, with its size in bytes. */
  onSegment?: ((bytes: number) => void) | undefined;
}

/**
 * Copies every core's visible archived segments from its checkpoint position on into
 * `walRoot/core-<id>/`, and continues a core whose archive ends before that position right after
 * it (the unarchived tail, `unarchived-tail.ts`). Resolves the segments copied per core id.
 * Rejects `TIDEMARK_DATA_LOSS` for a gap in a core's archive, `TIDEMARK_CORRUPTION`,
 * `TIDEMARK_IO`.
 */
export async function fetchCoreArchives(
  options: FetchCoreArchivesOptions,
): Promise<Record<string, number[]>> {
  const { storage, walRoot, cores, positions, history, onSegment } = options;
  const segments: Record<string, number[]> = {};
  for (let c = 0; c < cores; c++) {
    const archived = await listVisibleCoreArchive(storage, c, history);
    const core = coreArchiveStorage(storage, c);
    const dir = await walRoot.subdirectory(coreWalDirName(c));
    const position = positions.get(c);
    try {
      const fetched = await fetchArchivedSegments(core, dir, {
        afterLsn: (position?.lsn ?? 1) - 1,
        archived,
        onSegment,
      });
      segments[c] = fetched.segments;
    } finally {
      core.destroy();
    }
    if (position)
      await continueAfterUnarchivedTail({
        dir,
        checkpointLsn: position.lsn - 1,
        minSegment: position.segment + 1,
      });
  }
  return segments;
}

/** Removes what an interrupted restore copied (segments of every core); the marker stays. */
async function discardPartialCopy(root: Directory, walRoot: Directory): Promise<void> {
  await root.removeSubdirectory(CHECKPOINT_DIR_NAME);
  for (const name of await walRoot.listSubdirectories()) {
    const dir = await walRoot.subdirectory(name);
    await dir.remove((await listSegments(dir)).map(segmentFileName));
  }
}

/** True when `walRoot` or a core directory under it holds a segment. */
async function holdsSegments(walRoot: Directory): Promise<boolean> {
  if ((await listSegments(walRoot)).length > 0) return true;
  for (const name of await walRoot.listSubdirectories())
    if ((await listSegments(await walRoot.subdirectory(name))).length > 0) return true;
  return false;
}

/**
 * Restores the per-core data directory `options.dir` from `options.from` (see the module
 * comment), under the directory's lock (`TIDEMARK_LOCKED` when another writer has it). Rejects
 * `TIDEMARK_INVALID_ARGUMENT` (before copying anything) for a bad core count, a count below what
 * the store holds, a store with no per-core data, or a directory that already holds WAL
 * segments or checkpoints; `TIDEMARK_DATA_LOSS` for a gap in a core's archive;
 * `TIDEMARK_CORRUPTION` for damaged objects; `TIDEMARK_IO` for a store that cannot be reached.
 */
export async function restorePerCoreFromObjectStore(
  options: PerCoreRestoreOptions,
): Promise<PerCoreRestoreResult> {
  const t0 = performance.now();
  const wanted = options.cores;
  if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_CORES))
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `cores must be in [1, ${MAX_CORES}], got ${wanted}`);
  const config = objectStoreOf({ objectStore: options.from });
  if (config === undefined)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'restore needs an object store');
  const root = await FsDirectory.open(options.dir);
  const lock = await root.lock();
  const storage = createObjectStorage(config);
  try {
    // Only the valid history of a prefix with writer epochs (docs/OBJECT-STORE.md).
    const history = await WriterHistory.read(storage);
    const remote = new FilteredCheckpointView(storage, epochFilter(history));
    const walRoot = await root.subdirectory(WAL_DIR_NAME);
    const interrupted = await walRoot.exists(RESTORE_MARKER);
    if (interrupted) await discardPartialCopy(root, walRoot);
    const localCheckpoints = new FileSystemCheckpointStore(await root.subdirectory(CHECKPOINT_DIR_NAME));
    if (!interrupted && ((await holdsSegments(walRoot)) || (await localCheckpoints.list()).length > 0)) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${root.path} already holds a WAL or checkpoints: restore into an empty directory`,
        { path: root.path },
      );
    }
    const latest = await loadLatestCheckpoint(remote);
    const { positions } = perCoreProgressOf(latest.checkpoint?.manifest);
    const detected = await coresOf(remote.storage, positions.keys());
    if (detected === undefined)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${remote.storage.url} holds no per-core checkpoint and no per-core WAL archive (wal/core-<id>/): nothing to restore per core`,
        { path: remote.storage.url },
      );
    if (wanted !== undefined && wanted < detected)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${remote.storage.url} holds ${detected} cores, more than the ${wanted} asked for`,
        { path: remote.storage.url },
      );
    const cores = wanted ?? detected;

    await walRoot.writeFileAtomic(RESTORE_MARKER, new TextEncoder().encode(`${new Date().toISOString()}\n`));
    let bytes = 0;
    let done = 0;
    const chain = latest.checkpoint?.chain ?? [];
    for (const id of chain) {
      const manifest = await remote.loadManifest(id);
      const files: CheckpointDataFile[] = [];
      for (const entry of manifest.files) {
        const data = await remote.readFile(manifest, entry);
        bytes += data.length;
        files.push({ role: entry.role, chunks: [data] });
      }
      const { files: _files, sizeBytes: _size, attemptId: _attempt, ...rest } = manifest;
      await localCheckpoints.save({ manifest: rest, files });
      options.onProgress?.(++done, bytes);
    }
    const segments = await fetchCoreArchives({
      storage,
      walRoot,
      cores,
      positions,
      history,
      onSegment: (segmentBytes) => {
        bytes += segmentBytes;
        options.onProgress?.(++done, bytes);
      },
    });
    await walRoot.remove([RESTORE_MARKER]);
    return {
      cores,
      checkpointId: latest.checkpoint?.manifest.id,
      chain,
      checkpointsSkipped: latest.skipped.map((s) => ({ id: s.id, code: s.code, reason: s.reason })),
      segments,
      bytes,
      durationMs: performance.now() - t0,
    };
  } finally {
    storage.destroy();
    await lock.release();
  }
}
