/**
 * Where a data directory keeps its checkpoints and WAL archive: locally (`checkpoints/`), or in
 * an S3-compatible object store (`objectStore`), which then also receives sealed WAL segments.
 */

import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { FilteredCheckpointView } from '../checkpoint/filtered-checkpoint-view.js';
import { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import type { CompressionSpec } from '../io/codecs.js';
import type { Directory } from '../io/directory.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import { type ObjectStoreConfig, parseObjectStoreUrl } from '../io/object-store-config.js';
import { type ClaimedEpoch, WriterFence, WriterHistory } from '../io/writer-epoch.js';

export type { ClaimedEpoch } from '../io/writer-epoch.js';

import { WalArchiver } from '../wal/wal-archiver.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';

/** Subdirectory holding WAL segments. */
export const WAL_DIR_NAME = 'wal';
/** Subdirectory holding checkpoints. */
export const CHECKPOINT_DIR_NAME = 'checkpoints';

/** Options shared by every way of opening a data directory. */
export interface StorageOptions {
  /**
   * Keep checkpoints in an S3-compatible object store — `s3://BUCKET/PREFIX` or a config —
   * instead of the local `checkpoints/`. Endpoint and keys default to the standard AWS settings
   * (`AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
   */
  objectStore?: string | ObjectStoreConfig | undefined;
  /** With `objectStore`: archive sealed WAL segments there too. Default true. */
  archiveWal?: boolean | undefined;
  /**
   * With WAL archiving: this often, ms, seal the active segment when it holds records and
   * archive every sealed segment (0: only at checkpoints, full segments and close). Bounds what
   * losing the machine loses to about this interval (docs/OBJECT-STORE.md). Default 1,000.
   */
  archiveIntervalMs?: number | undefined;
  /**
   * With `objectStore`: take over the prefix from another machine's writer, into a fresh data
   * directory (no WAL yet; `TIDEMARK_INVALID_ARGUMENT` otherwise). Opening claims a new writer
   * epoch (every writer open does), which fences the previous writer; the state is recovered from
   * the newest valid checkpoint and archived WAL. Without it, opening a directory whose own
   * writer was fenced by another one rejects `TIDEMARK_FENCED`: its local WAL may hold records
   * the new owner never saw. Default false.
   */
  takeover?: boolean | undefined;
}

/** The object store config of `options`, parsed; undefined for local checkpoints. */
export function objectStoreOf(options: StorageOptions): ObjectStoreConfig | undefined {
  const o = options.objectStore;
  return typeof o === 'string' ? parseObjectStoreUrl(o) : o;
}

/** A checkpoint store with a way to release what it holds. */
export interface OpenedCheckpointStore {
  store: CheckpointStore;
  close(): void;
}

/** Options of {@link openCheckpointStore}. */
export interface OpenCheckpointStoreOptions {
  /** Publish under this claimed writer epoch (every publish fence-checked); default: a reader's view. */
  writer?: ClaimedEpoch | undefined;
  /** Codec of the local checkpoint files written (see `CheckpointOptions.compression`); default none. Object stores ignore it. */
  compression?: CompressionSpec | false | undefined;
}

/** The checkpoint store of a data directory `root`. */
export async function openCheckpointStore(
  root: Directory,
  objectStore: ObjectStoreConfig | undefined,
  options: OpenCheckpointStoreOptions = {},
): Promise<OpenedCheckpointStore> {
  if (objectStore === undefined) {
    const dir = await root.subdirectory(CHECKPOINT_DIR_NAME);
    return { store: new FileSystemCheckpointStore(dir, { compression: options.compression }), close() {} };
  }
  // Only the valid history of the prefix's writer epochs (docs/OBJECT-STORE.md) is shown.
  const storage = createObjectStorage(objectStore);
  try {
    const { writer } = options;
    if (writer) WriterFence.resume(storage, writer.epoch, new WriterHistory(writer.records));
    const store = await FilteredCheckpointView.ofEpochs(storage);
    return { store, close: () => storage.destroy() };
  } catch (err) {
    storage.destroy();
    throw err;
  }
}

/** Starts WAL archiving for `wal` when the options ask for it (an object store, `archiveWal` not false). */
export async function startWalArchiver(
  store: CheckpointStore,
  wal: WriteAheadLog,
  options: StorageOptions,
): Promise<WalArchiver | undefined> {
  if (!(store instanceof ObjectStoreCheckpointStore) || options.archiveWal === false) return undefined;
  return WalArchiver.start(store.storage, wal, {
    archiveIntervalMs: options.archiveIntervalMs ?? 1_000,
    compression: store.compression,
    put: store.tiering?.putOptions('hot'),
  });
}
