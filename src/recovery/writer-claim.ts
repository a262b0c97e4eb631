/**
 * Opening a writer on an object-store prefix: claim a new writer epoch (fencing the previous
 * writer, docs/OBJECT-STORE.md) before anything is fetched or recovered, so that what this writer
 * recovers is exactly the history its claim records as valid.
 */

import { epochFilter, FilteredCheckpointView } from '../checkpoint/filtered-checkpoint-view.js';
import { TidemarkError } from '../errors.js';
import type { Directory } from '../io/directory.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import {
  type EpochCutoff,
  listEpochs,
  WriterFence,
  type WriterHistory,
  writerKey,
} from '../io/writer-epoch.js';
import { listVisibleArchive } from '../wal/archive-epochs.js';
import { visibleCoreCutoffs } from '../wal/per-core-wal-archive.js';
import { listSegments } from '../wal/segment-files.js';
import { RESTORE_MARKER } from './restore-from-object-store.js';
import { type OpenedCheckpointStore, WAL_DIR_NAME } from './storage-location.js';

/** File in the data directory naming the prefix and epoch its writer last claimed. */
export const LOCAL_EPOCH_FILE = 'WRITER_EPOCH';

/** Options of {@link claimWriter}. */
export interface ClaimWriterOptions {
  /** The data directory (its lock held by the caller). */
  root: Directory;
  /** See `StorageOptions.takeover`. */
  takeover: boolean;
  /**
   * The per-core engine: its logs are `wal/core-<id>/`, and the claim's cutoff also records the
   * newest visible archived segment of every core (`EpochCutoff.cores`). Default false.
   */
  perCore?: boolean | undefined;
}

/** True when `walDir` (or, per core, a `core-<id>/` under it) holds a WAL segment. */
async function holdsWal(walDir: Directory, perCore: boolean): Promise<boolean> {
  if ((await listSegments(walDir)).length > 0) return true;
  if (!perCore) return false;
  for (const name of await walDir.listSubdirectories())
    if ((await listSegments(await walDir.subdirectory(name))).length > 0) return true;
  return false;
}

async function readLocalEpoch(root: Directory, url: string): Promise<number | undefined> {
  if (!(await root.exists(LOCAL_EPOCH_FILE))) return undefined;
  try {
    const o = JSON.parse(Buffer.from(await root.readFile(LOCAL_EPOCH_FILE, 4096)).toString('utf8'));
    return o?.url === url && Number.isSafeInteger(o.epoch) ? (o.epoch as number) : undefined;
  } catch {
    return undefined; // unreadable: as if the directory never claimed (the epochs still fence)
  }
}

/** The newest checkpoint id and archived segment visible under `history`. */
export async function visibleCutoff(storage: S3ObjectStorage, history: WriterHistory): Promise<EpochCutoff> {
  const checkpoints = await new FilteredCheckpointView(storage, epochFilter(history)).list();
  const segments = await listVisibleArchive(storage, history);
  return { checkpoint: checkpoints.at(-1) ?? 0, segment: segments.at(-1)?.number ?? 0 };
}

/** A claimed writer epoch and the checkpoint store (a view of the valid history) it publishes through. */
export interface ClaimedWriter extends OpenedCheckpointStore {
  store: FilteredCheckpointView;
  fence: WriterFence;
}

/**
 * Claims the next writer epoch on `config`'s prefix for the data directory `options.root`
 * (refusing a directory whose own writer was fenced since, `TIDEMARK_FENCED`, unless it is fresh,
 * and a takeover into a directory that is not fresh, `TIDEMARK_INVALID_ARGUMENT`); the returned store's client carries the
 * fence (every publish through it, and through a WAL archiver on `store.storage`, is checked).
 * Rejects `TIDEMARK_CONFLICT` (the claim race lost too often), `TIDEMARK_CORRUPTION`,
 * `TIDEMARK_IO`.
 */
export async function claimWriter(
  config: ObjectStoreConfig,
  options: ClaimWriterOptions,
): Promise<ClaimedWriter> {
  const storage = createObjectStorage(config);
  try {
    const { root, takeover } = options;
    const perCore = options.perCore ?? false;
    const walDir = await root.subdirectory(WAL_DIR_NAME);
    const fresh = !(await holdsWal(walDir, perCore)) || (await walDir.exists(RESTORE_MARKER));
    if (takeover && !fresh)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `takeover recovers from ${storage.url} into a fresh directory, but ${walDir.path} already holds a WAL`,
        { argument: 'takeover', path: walDir.path },
      );
    const mine = await readLocalEpoch(root, storage.url);
    if (mine !== undefined && !fresh) {
      const newest = (await listEpochs(storage)).at(-1) ?? 0;
      if (newest > mine)
        throw new TidemarkError(
          'TIDEMARK_FENCED',
          `${root.path} wrote ${storage.url} as writer epoch ${mine}, since fenced by epoch ${newest} (another writer took over): its local WAL may hold records the new owner never saw. Open a fresh directory with takeover: true`,
          { path: storage.urlOf(writerKey(newest)) },
        );
    }
    const fence = await WriterFence.claim(storage, {
      cutoffOf: async (history) => ({
        ...(await visibleCutoff(storage, history)),
        ...(perCore ? { cores: await visibleCoreCutoffs(storage, history) } : {}),
      }),
    });
    await root.writeFileAtomic(
      LOCAL_EPOCH_FILE,
      Buffer.from(`${JSON.stringify({ url: storage.url, epoch: fence.epoch })}\n`),
    );
    const store = new FilteredCheckpointView(storage, epochFilter(fence.history));
    return { store, fence, close: () => storage.destroy() };
  } catch (err) {
    storage.destroy();
    throw err;
  }
}
