/**
 * `PerCoreWalManager` and `PerCoreWalConfig` (the seed's): the per-core logs of a data
 * directory's WAL root — one `CoreWalWriter` per core, `wal/core-<id>/` each. In a
 * thread-per-core process each worker thread opens only its own writer
 * (`CoreWalWriter.open(walRoot, coreId)`); the manager opens all of them in one thread (tests,
 * tools, and single-threaded use).
 */
import { TidemarkError } from '../errors.js';
import { MAX_CORES } from '../format/constants.js';
import type { PerCoreWalEntry } from '../format/per-core-entry.js';
import type { Directory } from '../io/directory.js';
import { FsDirectory } from '../io/fs-directory.js';
import { shareLock } from '../io/shared-lock.js';
import { checkDirectoryArgument, checkOptionsObject, invalidArgument } from '../validation.js';
import { CoreWalWriter, type NanoClock } from './core-wal-writer.js';
import { mergeSegments, PerCoreWalReader } from './per-core-wal-reader.js';
import type { WalPosition } from './wal-reader.js';
import type { WalOptions } from './write-ahead-log.js';

/** Where and how the per-core logs are (the seed's `PerCoreWalConfig`). */
export interface PerCoreWalConfig {
  /** The WAL root (a path or a Directory) holding `core-<id>/`. */
  dir: string | Directory;
  /** Number of cores, 1..1024. */
  cores: number;
  /** Options of every core's WAL (segment size, group commit, sync method…); the lock is the manager's. */
  wal?: Omit<WalOptions, 'lock'>;
  /** Clock of the entries' timestamps (ns since the Unix epoch). Default `wallClockNs`. */
  clock?: NanoClock;
  /** Epoch every writer starts at: one above anything recovered (`PerCoreRecoveredState.epoch + 1`). */
  epoch?: number;
}

/**
 * Opens and holds every core's writer.
 *
 * Threads: holds every core's writer in the thread that opened it (tests, single-threaded use);
 * with worker threads, open each core's `CoreWalWriter` in its own worker instead.
 */
export class PerCoreWalManager {
  private constructor(
    /** The WAL root: one `core-<id>/` directory per core under it. */
    readonly walRoot: Directory,
    private readonly writers: CoreWalWriter[],
  ) {}

  /**
   * Takes the data directory's lock and opens every core's log (cutting torn tails). Throws
   * `TIDEMARK_INVALID_ARGUMENT` for a bad core count, `TIDEMARK_LOCKED` when another writer has
   * the data directory.
   */
  static async open(config: PerCoreWalConfig): Promise<PerCoreWalManager> {
    checkOptionsObject('config', config);
    if (config === undefined) throw invalidArgument('config', config, 'an options object');
    if (typeof config.dir !== 'string') checkDirectoryArgument('config.dir', config.dir);
    if (!Number.isInteger(config.cores) || config.cores < 1 || config.cores > MAX_CORES)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `cores must be in [1, ${MAX_CORES}], got ${config.cores}`,
      );
    const root = typeof config.dir === 'string' ? await FsDirectory.open(config.dir) : config.dir;
    // One lock for the data directory, shared by every core's writer: the last to close frees it.
    const shares = shareLock(await root.lock(), config.cores);
    const writers: CoreWalWriter[] = [];
    try {
      for (let c = 0; c < config.cores; c++) {
        writers.push(
          await CoreWalWriter.open(root, c, {
            lock: shares[c]!,
            ...(config.wal ? { wal: config.wal } : {}),
            ...(config.clock ? { clock: config.clock } : {}),
            ...(config.epoch === undefined ? {} : { epoch: config.epoch }),
          }),
        );
      }
    } catch (err) {
      await Promise.allSettled(writers.map((w) => w.close()));
      await Promise.allSettled(shares.slice(writers.length).map((s) => s.release()));
      throw err;
    }
    return new PerCoreWalManager(root, writers);
  }

  /** Number of cores (one writer each). */
  get cores(): number {
    return this.writers.length;
  }

  /** Core `coreId`'s writer (`TIDEMARK_INVALID_ARGUMENT` when out of range). */
  writer(coreId: number): CoreWalWriter {
    const w = this.writers[coreId];
    if (!w)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `no core ${coreId} (cores: ${this.writers.length})`,
      );
    return w;
  }

  /** Syncs every core. */
  async syncAll(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.sync()));
  }

  /**
   * Every core's entries (from `from[coreId]` when given), merged by (epoch, timestampNs,
   * coreId, sequence).
   */
  async mergeSegments(from: ReadonlyMap<number, WalPosition> = new Map()): Promise<PerCoreWalEntry[]> {
    const perCore: PerCoreWalEntry[][] = [];
    for (const w of this.writers) {
      perCore.push(
        (await PerCoreWalReader.read(this.walRoot, w.coreId, { from: from.get(w.coreId) })).entries,
      );
    }
    return mergeSegments(perCore);
  }

  /** Closes every core's writer; rejects with the first failure once all have been tried. */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.writers.map((w) => w.close()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** `await using wals = await PerCoreWalManager.open(…)`: {@link close} when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A checkpoint participant for a writer in this thread (see {@link CoreWalWriter.barrier}). */
export function localParticipant(writer: CoreWalWriter): {
  /** The writer's core id. */
  coreId: number;
  /** {@link CoreWalWriter.barrier}. */
  barrier(epoch: number): Promise<WalPosition>;
  /** {@link CoreWalWriter.markCheckpoint}. */
  markCheckpoint(options: { checkpointId: number; position: WalPosition }): Promise<number>;
  /** {@link CoreWalWriter.truncateBefore}. */
  truncateBefore(position: WalPosition): Promise<number>;
} {
  return {
    coreId: writer.coreId,
    barrier: (epoch) => writer.barrier(epoch),
    markCheckpoint: (options) => writer.markCheckpoint(options),
    truncateBefore: (position) => writer.truncateBefore(position),
  };
}
