/**
 * Opening a writer on an object-store prefix: claim a new writer epoch (fencing the previous
 * writer, docs/OBJECT-STORE.md) before anything is fetched or recovered, so that what this writer
 * recovers is exactly the history its claim records as valid.
 */
import { epochFilter, FilteredCheckpointView } from '../checkpoint/filtered-checkpoint-view.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import { S3ObjectStorage } from '../io/s3-object-storage.js';
import { type EpochCutoff, WriterFence, type WriterHistory } from '../io/writer-epoch.js';
import { filterVisibleSegments } from '../wal/archive-epochs.js';
import { listArchivedSegments } from '../wal/wal-archiver.js';
import type { OpenedCheckpointStore } from './storage-location.js';

/** The newest checkpoint id and archived segment visible under `history`. */
export async function visibleCutoff(storage: S3ObjectStorage, history: WriterHistory): Promise<EpochCutoff> {
  const checkpoints = await new FilteredCheckpointView(storage, epochFilter(history)).list();
  const segments = await filterVisibleSegments(storage, await listArchivedSegments(storage), history);
  return { checkpoint: checkpoints.at(-1) ?? 0, segment: segments.at(-1)?.number ?? 0 };
}

/** A claimed writer epoch and the checkpoint store (a view of the valid history) it publishes through. */
export interface ClaimedWriter extends OpenedCheckpointStore {
  store: FilteredCheckpointView;
  fence: WriterFence;
}

/**
 * Claims the next writer epoch on `config`'s prefix; the returned store's client carries the
 * fence (every publish through it, and through a WAL archiver on `store.storage`, is checked).
 * Rejects `TIDEMARK_CONFLICT` (the claim race lost too often), `TIDEMARK_CORRUPTION`,
 * `TIDEMARK_IO`.
 */
export async function claimWriter(config: ObjectStoreConfig): Promise<ClaimedWriter> {
  const storage = new S3ObjectStorage(config);
  try {
    const fence = await WriterFence.claim(storage, {
      cutoffOf: (history) => visibleCutoff(storage, history),
    });
    const store = new FilteredCheckpointView(storage, epochFilter(fence.history));
    return { store, fence, close: () => storage.destroy() };
  } catch (err) {
    storage.destroy();
    throw err;
  }
}
