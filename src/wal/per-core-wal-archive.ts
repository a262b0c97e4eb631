/**
 * WAL archiving for the per-core engine: each core's sealed segments go to the object store
 * under `<prefix>/wal/core-<id>/`, by the single-log engine's {@link WalArchiver} (one per core,
 * on a storage scoped to that core's prefix), so a machine lost entirely loses only what was not
 * yet sealed and archived — the same bound as the single log (PostgreSQL's `archive_command`).
 *
 * - Each archiver guards its core's truncation: `truncateBefore` never deletes a segment that is
 *   not in the archive, so the archive of every core has no gap from the oldest retained
 *   checkpoint on.
 * - {@link CoreWalArchive.truncateBefore} is the coordinator's truncation step for an archiving
 *   core: archive what is sealed, truncate, then prune the archive below the same position (what
 *   no retained checkpoint needs), as `CheckpointPublisher` does for the single log.
 * - {@link CoreWalArchive.close} seals and archives the active segment: a clean shutdown leaves
 *   the core's whole log in the archive.
 */

import { TidemarkError } from '../errors.js';
import { OBJECT_WAL_ARCHIVE_PREFIX } from '../format/constants.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import { S3ObjectStorage } from '../io/s3-object-storage.js';
import { WriterFence, WriterHistory } from '../io/writer-epoch.js';
import { type ArchivedSegment, listVisibleArchive } from './archive-epochs.js';
import type { CoreWalWriter } from './core-wal-writer.js';
import { coreWalDirName } from './per-core-wal-reader.js';
import { WalArchiver, type WalArchiveStats } from './wal-archiver.js';
import type { WalPosition } from './wal-reader.js';

/** Key prefix (under the store's prefix) of core `coreId`'s archive: `wal/core-<id>`. */
export function coreArchivePrefix(coreId: number): string {
  return `${OBJECT_WAL_ARCHIVE_PREFIX}/${coreWalDirName(coreId)}`;
}

/**
 * A storage on the same bucket and endpoint whose prefix is core `coreId`'s archive
 * (`<prefix>/wal/core-<id>`): a `WalArchiver` on it writes `<prefix>/wal/core-<id>/wal/<segment>`.
 * The caller destroys it. Throws `TIDEMARK_INVALID_ARGUMENT` for a bad config or core id.
 */
export function coreArchiveStorage(
  storage: S3ObjectStorage | ObjectStoreConfig,
  coreId: number,
): S3ObjectStorage {
  if (!Number.isSafeInteger(coreId) || coreId < 0)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `core id must be an integer ≥ 0, got ${coreId}`);
  const config = storage instanceof S3ObjectStorage ? storage.config : storage;
  const base = config.prefix ?? '';
  const prefix = base === '' ? coreArchivePrefix(coreId) : `${base}/${coreArchivePrefix(coreId)}`;
  return createObjectStorage({ ...config, prefix });
}

/** Core ids that have objects under `<prefix>/wal/core-<id>/` in `storage`, ascending. */
export async function listArchivedCores(storage: S3ObjectStorage): Promise<number[]> {
  const ids = new Set<number>();
  const start = `${OBJECT_WAL_ARCHIVE_PREFIX}/core-`;
  for (const o of await storage.list(start)) {
    const m = /^(\d+)\//.exec(o.key.slice(start.length));
    if (m) ids.add(Number(m[1]));
  }
  return [...ids].sort((a, b) => a - b);
}

/**
 * Core `coreId`'s archived segments of the valid history (writer epochs, docs/OBJECT-STORE.md),
 * ascending: those a fenced writer archived after a takeover are passed over. `history`: the
 * prefix's writer history (default: the fence registered on `storage`, else read).
 */
export async function listVisibleCoreArchive(
  storage: S3ObjectStorage,
  coreId: number,
  history?: WriterHistory,
): Promise<ArchivedSegment[]> {
  const h = history ?? WriterFence.of(storage)?.history ?? (await WriterHistory.read(storage));
  const core = coreArchiveStorage(storage, coreId);
  try {
    return await listVisibleArchive(core, h.forCore(coreId));
  } finally {
    core.destroy();
  }
}

/**
 * The newest visible archived segment of every core archived on `storage`'s prefix, by core id:
 * the per-core part of a writer epoch's cutoff (`EpochCutoff.cores`).
 */
export async function visibleCoreCutoffs(
  storage: S3ObjectStorage,
  history: WriterHistory,
): Promise<Record<string, number>> {
  const cutoffs: Record<string, number> = {};
  for (const c of await listArchivedCores(storage))
    cutoffs[c] = (await listVisibleCoreArchive(storage, c, history)).at(-1)?.number ?? 0;
  return cutoffs;
}

/** Options of {@link CoreWalArchive.start}. */
export interface CoreWalArchiveOptions {
  /** The object store (the data directory's: checkpoints live beside the archive). */
  storage: S3ObjectStorage | ObjectStoreConfig;
  /** The open writer of the core to archive. */
  writer: CoreWalWriter;
  /** Also archive newly sealed segments this often, ms (0: only at truncation and close). Default 1,000. */
  archiveIntervalMs?: number;
  /**
   * The writer epoch claimed on the store's prefix (default: the fence registered on
   * `storage` when it is a client). With one, every archive publish is checked against it and
   * names its epoch, segments a fenced writer archived after a takeover are passed over, and
   * once the writer is fenced the core's log fails (`TIDEMARK_FENCED` for every waiter and
   * every later append, nothing retried).
   */
  fence?: WriterFence | undefined;
}

/** One core's WAL archive: its `WalArchiver` and the truncation step that uses it. */
export class CoreWalArchive {
  private constructor(
    /** The core's WAL writer whose sealed segments are archived. */
    readonly writer: CoreWalWriter,
    /** Uploads the core's sealed segments to the object store. */
    readonly archiver: WalArchiver,
    private readonly storage: S3ObjectStorage,
  ) {}

  /**
   * Starts archiving core `writer.coreId` (see `WalArchiver.start`: lists the archive, seals an
   * active segment the archive already holds, guards truncation). Rejects `TIDEMARK_CONFLICT`
   * (another writer archives this core to this prefix), `TIDEMARK_IO`.
   */
  static async start(options: CoreWalArchiveOptions): Promise<CoreWalArchive> {
    const storage = coreArchiveStorage(options.storage, options.writer.coreId);
    try {
      const fence =
        options.fence ??
        (options.storage instanceof S3ObjectStorage ? WriterFence.of(options.storage) : undefined);
      if (fence) {
        fence.share(storage, fence.history.forCore(options.writer.coreId));
        // A fenced writer stops: nothing more is acknowledged on this core, every waiter fails.
        fence.onFenced((err) => options.writer.wal.failWith(err));
      }
      const archiver = await WalArchiver.start(storage, options.writer.wal, {
        archiveIntervalMs: options.archiveIntervalMs ?? 1_000,
      });
      return new CoreWalArchive(options.writer, archiver, storage);
    } catch (err) {
      storage.destroy();
      throw err;
    }
  }

  /** The archiver's counters. */
  stats(): WalArchiveStats {
    return this.archiver.stats();
  }

  /**
   * The truncation step of a coordinated checkpoint for this core: uploads every sealed segment
   * not yet archived, deletes local segments wholly before `position` that are archived (the
   * guard keeps any other — an archiving failure only delays truncation), then deletes archived
   * segments wholly before `position` when archiving succeeded. Resolves the local segments
   * deleted. Rejects like `CoreWalWriter.truncateBefore`.
   */
  async truncateBefore(position: WalPosition): Promise<number> {
    const archived = await this.archiver.archiveSealed().then(
      () => true,
      () => false, // recorded in stats().lastError and on the archive channel; retried next time
    );
    const deleted = await this.writer.truncateBefore(position);
    if (archived)
      await this.archiver.pruneArchive(Math.min(position.lsn, this.writer.wal.durableLsn)).catch(() => {});
    return deleted;
  }

  /**
   * Seals the active segment and archives the whole log (unless the log has failed), stops the
   * timer and releases the storage. Call before closing the writer. Rejects with the archiving
   * failure (the storage is released all the same).
   */
  async close(): Promise<void> {
    try {
      await this.archiver.archiveAll();
    } finally {
      await this.archiver.stop();
      this.storage.destroy();
    }
  }
}

/**
 * A checkpoint participant for a writer in this thread whose log is archived: as
 * `localParticipant`, but truncation goes through {@link CoreWalArchive.truncateBefore}.
 */
export function archivingParticipant(archive: CoreWalArchive): {
  /** The writer's core id. */
  coreId: number;
  /** `CoreWalWriter.barrier`. */
  barrier(epoch: number): Promise<WalPosition>;
  /** `CoreWalWriter.markCheckpoint`. */
  markCheckpoint(options: { checkpointId: number; position: WalPosition }): Promise<number>;
  /** {@link CoreWalArchive.truncateBefore}. */
  truncateBefore(position: WalPosition): Promise<number>;
} {
  const writer = archive.writer;
  return {
    coreId: writer.coreId,
    barrier: (epoch) => writer.barrier(epoch),
    markCheckpoint: (options) => writer.markCheckpoint(options),
    truncateBefore: (position) => archive.truncateBefore(position),
  };
}
