/**
 * Where a data directory keeps its checkpoints and WAL archive: locally (`checkpoints/`), or in
 * an S3-compatible object store (`objectStore`), which then also receives sealed WAL segments.
 */
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import type { Directory } from '../io/directory.js';
import { type ObjectStoreConfig, parseObjectStoreUrl } from '../io/object-store-config.js';
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
  /** With WAL archiving: also archive newly sealed segments this often, ms (0: only at checkpoints and close). Default 1,000. */
  archiveIntervalMs?: number | undefined;
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

/** The checkpoint store of a data directory `root`. */
export async function openCheckpointStore(
  root: Directory,
  objectStore: ObjectStoreConfig | undefined,
): Promise<OpenedCheckpointStore> {
  if (objectStore === undefined) {
    return { store: new FileSystemCheckpointStore(await root.subdirectory(CHECKPOINT_DIR_NAME)), close() {} };
  }
  const store = new ObjectStoreCheckpointStore(objectStore);
  return { store, close: () => store.close() };
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
