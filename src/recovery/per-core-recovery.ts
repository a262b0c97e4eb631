/**
 * `recoverPerCore()` / `PerCoreRecoveryManager` (the seed's `recover_per_core`,
 * `PerCoreRecoveredState`, `SegmentStats`): the latest valid checkpoint, then every core's log
 * from the position the manifest recorded for it, merged by (epoch, timestampNs, coreId,
 * sequence) and applied — Commit records (source offsets, watermarks) honoured per core.
 *
 * Damage in one core's log while the others go further:
 * - default (`tolerate-torn-tail`): a typed error naming the core, file and offset;
 * - `point-in-time`: every core is cut at the last epoch all cores hold intact — each damaged
 *   core's entries stop at its damage, and the cut is the highest epoch every damaged core has
 *   complete (it has read past the barrier that ends it); entries of later epochs are dropped on
 *   every core and reported. `open()` then cuts the logs there (at the barrier of the first
 *   dropped epoch) before the writers reopen.
 */
import { type AbortOptions, abortSignalOf, throwIfAborted } from '../abort-steps.js';
import { loadLatestCheckpoint, type SkippedCheckpoint } from '../checkpoint/checkpoint-chain.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { perCoreProgressOf } from '../checkpoint/per-core-checkpoint-coordinator.js';
import type { PerCoreWalEntry } from '../format/per-core-entry.js';
import type { Directory, DirectoryLock } from '../io/directory.js';
import { shareLock } from '../io/shared-lock.js';
import type { CoreProgress } from '../state/per-core-replayer.js';
import { PerCoreReplayer } from '../state/per-core-replayer.js';
import { type StateBackend, type StateBackendKind, stateBackendOption } from '../state/state-backend.js';
import {
  booleanOption,
  checkCheckpointStoreArgument,
  checkDirectoryArgument,
  checkInteger,
  checkOptionsObject,
  enumOption,
  invalidArgument,
} from '../validation.js';
import { CoreWalWriter, type CoreWalWriterOptions } from '../wal/core-wal-writer.js';
import {
  coreWalDirName,
  mergeSegments,
  PerCoreWalReader,
  type SegmentStats,
} from '../wal/per-core-wal-reader.js';
import { segmentFileName } from '../wal/segment-name.js';
import { cutWalAt } from '../wal/wal-repair.js';
import { requirePerCoreWalCoverage } from './per-core-wal-coverage.js';
import { refuseInterruptedRestore } from './restore-marker-check.js';

/** What to recover. */
export interface PerCoreRecoveryConfig {
  /** The WAL root holding `core-<id>/`. */
  walRoot: Directory;
  /** Where the checkpoints are (local directory or object store). */
  store: CheckpointStore;
  /** How many cores (`core-0` … `core-<cores-1>`) the data directory has. */
  cores: number;
  /** Apply only committed batches (per core). Default false. */
  transactional?: boolean;
  /** `tolerate-torn-tail` (default) or `point-in-time` (see the module comment). */
  mode?: 'tolerate-torn-tail' | 'point-in-time';
  /** What holds the recovered state (default `'slab'`; see `StateBackendKind`). */
  stateBackend?: StateBackendKind;
}

/** What a point-in-time cut dropped. */
export interface PerCoreCut {
  /** Entries with an epoch above this were dropped on every core. */
  epoch: number;
  /** Entries dropped, by core. */
  droppedByCore: Record<string, number>;
  /** Where each core's log is to be cut (the barrier of the first dropped epoch, or the damage). */
  cutAt: Record<
    string,
    | {
        /** The segment cut. */
        path: string;
        /** Byte offset of the cut in that segment. */
        offset: number;
      }
    | undefined
  >;
}

/** The seed's `PerCoreRecoveredState`. */
export interface PerCoreRecoveredState {
  /** The key/value state (see `StateBackend`: get, has, size, scans in UTF-8 byte order, snapshot). */
  state: StateBackend;
  /** Highest epoch recovered (checkpoint or log): writers resume at `epoch + 1`. */
  epoch: number;
  /** Per core: committed source offsets, watermark, last sequence. */
  cores: Map<number, CoreProgress>;
  /** The checkpoint recovery started from (undefined: from an empty state). */
  checkpointId: number | undefined;
  /** Newer checkpoints passed over as invalid, with why. */
  checkpointsSkipped: SkippedCheckpoint[];
  /** Per core: records, bytes, torn bytes, damage, duration. */
  segmentStats: SegmentStats[];
  /** Mutations discarded because their core never committed them. */
  uncommittedDiscarded: number;
  /** Where the cores' logs disagree and are cut to one epoch (point-in-time mode), if anywhere. */
  cut: PerCoreCut | undefined;
  /** Wall time of the recovery in milliseconds. */
  durationMs: number;
}

/**
 * Recovers per-core state, read-only; see the module comment. Throws `TIDEMARK_CORRUPTION`
 * (core, file, offset), `TIDEMARK_DATA_LOSS` when a restore from the object store into this
 * directory was interrupted (its copy is partial), and `TIDEMARK_DATA_LOSS` when a core's log no longer reaches back to the
 * checkpoint's position for it, ends before it, or is missing (see `requirePerCoreWalCoverage`).
 */
export async function recoverPerCore(
  config: PerCoreRecoveryConfig,
  options: AbortOptions = {},
): Promise<PerCoreRecoveredState> {
  const t0 = performance.now();
  checkPerCoreRecoveryConfig(config);
  const signal = abortSignalOf('recoverPerCore(options)', options);
  const what = `recovering the per-core WAL in ${config.walRoot.path}`;
  throwIfAborted(what, signal);
  await refuseInterruptedRestore(config.walRoot);
  const stateBackend = stateBackendOption('stateBackend', config.stateBackend);
  const latest = await loadLatestCheckpoint(config.store, { stateBackend });
  const { positions, target } = perCoreProgressOf(latest.checkpoint?.manifest, { stateBackend });
  if (latest.checkpoint) target.state = latest.checkpoint.state;
  const mode = config.mode ?? 'tolerate-torn-tail';
  const perCore: PerCoreWalEntry[][] = [];
  const stats: SegmentStats[] = [];
  for (let c = 0; c < config.cores; c++) {
    throwIfAborted(what, signal);
    const read = await PerCoreWalReader.read(config.walRoot, c, { from: positions.get(c), mode });
    perCore.push(read.entries);
    stats.push(read.stats);
  }
  await requirePerCoreWalCoverage({
    walRoot: config.walRoot,
    cores: config.cores,
    checkpointId: latest.checkpoint?.manifest.id,
    positions,
    skipped: latest.skipped,
    stats,
  });
  let cut: PerCoreCut | undefined;
  const damaged = stats.filter((s) => s.damage.length > 0);
  if (mode === 'point-in-time' && damaged.length > 0) {
    // A damaged core holds epoch e complete when it read the barrier of epoch e + 1.
    let cutEpoch = Number.MAX_SAFE_INTEGER;
    for (const s of damaged) {
      const entries = perCore[s.coreId]!;
      let complete = target.epoch;
      for (const e of entries)
        if (e.operation.type === 'epoch-barrier') complete = Math.max(complete, e.epoch - 1);
      cutEpoch = Math.min(cutEpoch, complete);
    }
    const droppedByCore: Record<string, number> = {};
    const cutAt: PerCoreCut['cutAt'] = {};
    for (let c = 0; c < config.cores; c++) {
      const entries = perCore[c]!;
      const keep = entries.filter((e) => e.epoch <= cutEpoch);
      droppedByCore[c] = entries.length - keep.length;
      perCore[c] = keep;
      const barrier = stats[c]!.barriers.get(cutEpoch + 1);
      const dir = `${config.walRoot.path}/${coreWalDirName(c)}`;
      if (barrier && barrier.segment > 0)
        cutAt[c] = { path: `${dir}/${segmentFileName(barrier.segment)}`, offset: barrier.offset };
      else cutAt[c] = stats[c]!.damage[0];
    }
    cut = { epoch: cutEpoch, droppedByCore, cutAt };
  }
  const replayer = new PerCoreReplayer(target, config.transactional ?? false);
  for (const e of mergeSegments(perCore)) replayer.apply(e);
  return {
    state: target.state,
    epoch: target.epoch,
    cores: target.cores,
    checkpointId: latest.checkpoint?.manifest.id,
    checkpointsSkipped: latest.skipped,
    segmentStats: stats,
    uncommittedDiscarded: replayer.pendingCount,
    cut,
    durationMs: performance.now() - t0,
  };
}

/**
 * Recovery, then writers for every core at an epoch above anything recovered.
 *
 * Threads: runs in the coordinating thread, and the writers `open()` returns live there; to write
 * from worker threads, recover here and open each core's `CoreWalWriter` in its own worker (at
 * `recovered.epoch + 1`).
 */
export class PerCoreRecoveryManager {
  /** Checks `config` (`TIDEMARK_INVALID_ARGUMENT` naming the option) before anything is touched. */
  constructor(
    /** What to recover, as given to the constructor. */
    readonly config: PerCoreRecoveryConfig,
  ) {
    checkPerCoreRecoveryConfig(config);
  }

  /**
   * Read-only recovery (see {@link recoverPerCore}). `options.signal` stops it between cores'
   * logs with `TIDEMARK_ABORTED`; nothing on disk changes either way.
   */
  recover(options?: AbortOptions): Promise<PerCoreRecoveredState> {
    try {
      abortSignalOf('recover(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    return recoverPerCore(this.config, options);
  }

  /**
   * Recovers; in `point-in-time` mode cuts every core's log at the cut; then opens each core's
   * writer at epoch `recovered.epoch + 1` (so epochs survive restarts and never repeat).
   *
   * `options.signal` stops the open between cores (while recovering, and before each writer
   * opens): the writers opened so far are closed, the lock is released, and it rejects with
   * `TIDEMARK_ABORTED` (`cause` = `signal.reason`); already aborted, before the lock is taken.
   * A point-in-time cut already made stays made (it is what any later open would cut).
   */
  async open(
    options: Omit<CoreWalWriterOptions, 'epoch' | 'lock'> &
      AbortOptions & {
        /**
         * The data directory's lock, already held by the caller and handed over (the writers
         * share it; released when the last one closes, or when the open fails). Default: taken here.
         */
        lock?: DirectoryLock | undefined;
      } = {},
  ): Promise<{
    /** The recovered state and where each core stands. */
    recovered: PerCoreRecoveredState;
    /** One open writer per core, at `recovered.epoch + 1`, for its worker thread. */
    writers: CoreWalWriter[];
  }> {
    const signal = abortSignalOf('open(options)', options);
    const { signal: _signal, lock: held, ...writerOptions } = options;
    const what = `opening the per-core WAL in ${this.config.walRoot.path}`;
    throwIfAborted(what, signal);
    // The data directory's lock, before anything is cut; the writers share it (last close frees it).
    const shares = shareLock(held ?? (await this.config.walRoot.lock()), this.config.cores);
    const writers: CoreWalWriter[] = [];
    try {
      const recovered = await this.recoverAndCut(signal);
      for (let c = 0; c < this.config.cores; c++) {
        throwIfAborted(what, signal);
        writers.push(
          await CoreWalWriter.open(this.config.walRoot, c, {
            ...writerOptions,
            lock: shares[c]!,
            epoch: recovered.epoch + 1,
          }),
        );
      }
      return { recovered, writers };
    } catch (err) {
      await Promise.allSettled(writers.map((w) => w.close()));
      await Promise.allSettled(shares.slice(writers.length).map((s) => s.release()));
      throw err;
    }
  }

  private async recoverAndCut(signal: AbortSignal | undefined): Promise<PerCoreRecoveredState> {
    const recovered = await recoverPerCore(this.config, { signal });
    if (recovered.cut) {
      for (let c = 0; c < this.config.cores; c++) {
        const at = recovered.cut.cutAt[c];
        if (!at) continue;
        const dir = await this.config.walRoot.subdirectory(coreWalDirName(c));
        await cutWalAt(dir, {
          path: at.path,
          offset: at.offset,
          bytesSkipped: 0,
          reason: 'point-in-time cut',
        });
      }
    }
    return recovered;
  }
}

/** A malformed {@link PerCoreRecoveryConfig} is `TIDEMARK_INVALID_ARGUMENT`, not a `TypeError` inside the first read. */
function checkPerCoreRecoveryConfig(config: PerCoreRecoveryConfig): void {
  checkOptionsObject('config', config);
  if (config === undefined) throw invalidArgument('config', config, 'an options object');
  checkDirectoryArgument('config.walRoot', config.walRoot);
  checkCheckpointStoreArgument('config.store', config.store);
  checkInteger('config.cores', config.cores, 1, 1024);
  booleanOption('config.transactional', config.transactional, false);
  enumOption('config.mode', config.mode, ['tolerate-torn-tail', 'point-in-time'], 'tolerate-torn-tail');
}
