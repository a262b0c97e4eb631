/**
 * `RecoveryManager` (the seeds' `RecoveryManager`, `RecoveryConfig`, `RecoveredState`):
 * latest valid checkpoint + WAL replay, the core invariant
 * `Checkpoint(epoch) + WAL.replay(epoch..current) = Consistent State`.
 *
 * A data directory holds `LOCK`, `wal/` (segments) and `checkpoints/`.
 */

import { CheckpointPublisher } from '../checkpoint/checkpoint-publisher.js';
import {
  FileSystemCheckpointStore,
  replayStartOf,
  type SkippedCheckpoint,
} from '../checkpoint/checkpoint-store.js';
import { TidemarkError } from '../errors.js';
import { ABORT_ENCODER, type SourceOffsets } from '../format/entry-codec.js';
import type { Directory, DirectoryLock } from '../io/directory.js';
import { FsDirectory } from '../io/fs-directory.js';
import { replayWal, StateReplayer } from '../state/apply-entry.js';
import { WalStateStore } from '../state/wal-state-store.js';
import type { TornTail } from '../wal/segment-scanner.js';
import { type WalOptions, WriteAheadLog } from '../wal/write-ahead-log.js';

/** Subdirectory holding WAL segments. */
export const WAL_DIR_NAME = 'wal';
/** Subdirectory holding checkpoints. */
export const CHECKPOINT_DIR_NAME = 'checkpoints';

/** Configuration of recovery and of the store it opens. */
export interface RecoveryConfig {
  /** The data directory: a path, or any {@link Directory}. */
  dir: string | Directory;
  /**
   * When true, records after the last Commit are an unfinished transaction and are discarded
   * (an Abort record is appended on open so they can never be revived). Default false: every
   * durable record is applied.
   */
  transactional?: boolean;
  /** WAL options for the store opened by {@link RecoveryManager.open}. */
  wal?: WalOptions;
  /** Checkpoints kept by the publisher (default 2). */
  maxRetained?: number;
}

/** Timings and counts of one recovery. */
export interface RecoveryStats {
  /** Id of the checkpoint used, or undefined when recovery started from an empty state. */
  checkpointId: number | undefined;
  /** WAL LSN that checkpoint covers (0 without one): replay started after it. */
  checkpointLsn: number;
  /** Newer checkpoints that failed verification and were passed over. */
  checkpointsSkipped: SkippedCheckpoint[];
  /** WAL records replayed. */
  recordsReplayed: number;
  /** Mutations discarded because their transaction never committed. */
  uncommittedDiscarded: number;
  /** Bytes of WAL read. */
  bytesRead: number;
  /** Torn tail found (read-only recover) or cut (open), if any. */
  tornTail: TornTail | undefined;
  /** Wall time, ms. */
  durationMs: number;
}

/** What recovery rebuilt. */
export interface RecoveredState {
  epoch: number;
  sourceOffsets: SourceOffsets;
  watermark: number | undefined;
  state: Map<string, Uint8Array>;
  /** LSN of the last record applied (or covered by the checkpoint). */
  lsn: number;
  stats: RecoveryStats;
}

/** An open, recovered store: write through `store`, checkpoint with `checkpoint()`. */
export interface OpenedStore {
  store: WalStateStore;
  recovered: RecoveredState;
  publisher: CheckpointPublisher;
  /** Publishes a checkpoint of `store` (see {@link CheckpointPublisher.publish}). */
  checkpoint(): ReturnType<CheckpointPublisher['publish']>;
  /** Syncs and closes the WAL and releases the directory lock. */
  close(): Promise<void>;
}

/** Recovers state from a data directory. */
export class RecoveryManager {
  constructor(readonly config: RecoveryConfig) {}

  private async root(): Promise<Directory> {
    const d = this.config.dir;
    return typeof d === 'string' ? FsDirectory.open(d) : d;
  }

  /** Read-only recovery: nothing on disk changes. Throws `TIDEMARK_CORRUPTION`, `TIDEMARK_DATA_LOSS`, `TIDEMARK_IO`. */
  async recover(): Promise<RecoveredState> {
    const root = await this.root();
    return this.replay(
      await root.subdirectory(CHECKPOINT_DIR_NAME),
      await root.subdirectory(WAL_DIR_NAME),
      undefined,
    );
  }

  /**
   * Takes the directory's lock, recovers, cuts a torn WAL tail, and returns a writable store.
   * Throws `TIDEMARK_LOCKED` when another writer has the directory.
   */
  async open(): Promise<OpenedStore> {
    const root = await this.root();
    const lock: DirectoryLock = await root.lock();
    try {
      const checkpointDir = await root.subdirectory(CHECKPOINT_DIR_NAME);
      const walDir = await root.subdirectory(WAL_DIR_NAME);
      const store = new FileSystemCheckpointStore(checkpointDir);
      const latest = await store.loadLatest();
      const ckptLsn = latest.checkpoint?.manifest.walPosition.lsn ?? 0;
      const wal = await WriteAheadLog.open(walDir, {
        ...this.config.wal,
        lock: false,
        initialLsn: ckptLsn + 1,
      });
      try {
        if (wal.lastLsn < ckptLsn) {
          throw new TidemarkError(
            'TIDEMARK_DATA_LOSS',
            `WAL in ${walDir.path} ends at LSN ${wal.lastLsn}, before checkpoint ${latest.checkpoint?.manifest.id} (LSN ${ckptLsn})`,
            { path: walDir.path },
          );
        }
        const recovered = await this.replay(checkpointDir, walDir, latest);
        recovered.stats.tornTail = wal.repairedTail ?? recovered.stats.tornTail;
        const transactional = this.config.transactional ?? false;
        if (transactional && recovered.stats.uncommittedDiscarded > 0) wal.append(ABORT_ENCODER);
        const stateStore = new WalStateStore(wal, {
          state: recovered.state,
          epoch: recovered.epoch,
          sourceOffsets: recovered.sourceOffsets,
          watermark: recovered.watermark,
          transactional,
        });
        const publisher = new CheckpointPublisher(store, this.config.maxRetained ?? 2);
        let closed = false;
        return {
          store: stateStore,
          recovered,
          publisher,
          checkpoint: () => publisher.publish(stateStore),
          close: async () => {
            if (closed) return;
            closed = true;
            try {
              await wal.close();
            } finally {
              await lock.release();
            }
          },
        };
      } catch (err) {
        await wal.close().catch(() => {});
        throw err;
      }
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private async replay(
    checkpointDir: Directory,
    walDir: Directory,
    latestIn: Awaited<ReturnType<FileSystemCheckpointStore['loadLatest']>> | undefined,
  ): Promise<RecoveredState> {
    const t0 = performance.now();
    const latest = latestIn ?? (await new FileSystemCheckpointStore(checkpointDir).loadLatest());
    const ckpt = latest.checkpoint;
    const target = replayStartOf(ckpt);
    const fromLsn = target.lsn + 1;
    const replayer = new StateReplayer(target, this.config.transactional ?? false);
    const read = await replayWal(walDir, replayer, fromLsn);
    const transactional = this.config.transactional ?? false;
    return {
      epoch: target.epoch,
      sourceOffsets: target.sourceOffsets,
      watermark: target.watermark,
      state: target.state,
      lsn: transactional ? Math.max(target.lastCommitLsn, fromLsn - 1) : read.lastReplayedLsn,
      stats: {
        checkpointId: ckpt?.manifest.id,
        checkpointLsn: target.lsn,
        checkpointsSkipped: latest.skipped,
        recordsReplayed: read.records,
        uncommittedDiscarded: replayer.pendingCount,
        bytesRead: read.bytesRead,
        tornTail: read.tornTail,
        durationMs: performance.now() - t0,
      },
    };
  }
}
