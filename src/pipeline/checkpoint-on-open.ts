/**
 * Checkpoint on open: when recovery replayed a long WAL, the recovered state is checkpointed
 * before the pipeline starts.
 *
 * Why: the Ring 1 worker checkpoints from its own copy of the state, which it builds on its
 * first checkpoint by loading the latest checkpoint and replaying the WAL after it — the same
 * work recovery has just done in Ring 0, and it grows with the state and with the WAL. A process
 * killed over and over (a crash loop under a supervisor) sooner than that first checkpoint
 * completes never checkpoints again: every restart replays a longer WAL, and the kills keep
 * coming first. The state recovery rebuilt is exactly "checkpoint + replay", so it can be
 * checkpointed at once, as a delta of the keys the replay changed — a cost that follows what was
 * replayed, not the size of the state — with the usual publish order (checkpoint durable, marker
 * durable in the WAL, then truncation). The next recovery then replays at most what was written
 * after this open, however early each run is killed. (PostgreSQL likewise ends crash recovery
 * with an end-of-recovery checkpoint.)
 */
import type { CheckpointOptions } from '../checkpoint/checkpoint-config.js';
import { IncrementalCheckpointManager } from '../checkpoint/incremental-checkpoint-manager.js';
import type { IncrementalCheckpointMetadata } from '../format/checkpoint-manifest.js';
import type { Directory } from '../io/directory.js';
import type { RecoveredState } from '../recovery/recovery-manager.js';
import {
  type ClaimedEpoch,
  objectStoreOf,
  openCheckpointStore,
  type StorageOptions,
  startWalArchiver,
  WAL_DIR_NAME,
} from '../recovery/storage-location.js';
import type { WalArchiver } from '../wal/wal-archiver.js';
import { type WalOptions, WriteAheadLog } from '../wal/write-ahead-log.js';

/** What {@link checkpointRecoveredState} works on. */
export interface CheckpointOnOpenInit {
  /** The data directory, whose lock the caller holds. */
  root: Directory;
  /** What recovery rebuilt, with `changedSinceCheckpoint` (recovered with `trackChangedKeys`). */
  recovered: RecoveredState;
  transactional: boolean;
  /** Options of the WAL the pipeline will write (segment size, sync method). */
  wal: Omit<WalOptions, 'lock' | 'initialLsn'>;
  /** Checkpoint options; `recoveryCheckpointRecords` decides whether to checkpoint at all. */
  checkpoint: CheckpointOptions;
  /** Where checkpoints go (and whether the WAL is archived). */
  storage: StorageOptions;
  /** Abandons the checkpoint before its publish point (`TIDEMARK_ABORTED`); see `CreateCheckpointOptions.signal`. */
  signal?: AbortSignal | undefined;
  /** With an object store: the writer epoch this open claimed (its checkpoint is published under it). */
  writer?: ClaimedEpoch | undefined;
}

/**
 * Checkpoints the recovered state when recovery replayed at least
 * `checkpoint.recoveryCheckpointRecords` records (and that option is not 0); resolves what was
 * written, or undefined when nothing was. The state is not changed. The caller holds the
 * directory lock and nothing else has the WAL open. Rejects with `TIDEMARK_IO` /
 * `TIDEMARK_NO_SPACE` (nothing is deleted then, and recovery still works from the old
 * checkpoint), `TIDEMARK_CORRUPTION`, `TIDEMARK_CONFLICT` (WAL archive).
 */
export async function checkpointRecoveredState(
  init: CheckpointOnOpenInit,
): Promise<IncrementalCheckpointMetadata | undefined> {
  const { recovered, checkpoint: options } = init;
  const threshold = options.recoveryCheckpointRecords;
  if (threshold === 0 || recovered.stats.recordsReplayed < threshold) return undefined;
  const changed = recovered.changedSinceCheckpoint;
  // Recovery gives its record of changed keys up past MAX_CHECKPOINT_REPLAY_RECORDS keys (V8's Map
  // limit): no checkpoint on open then; Ring 1's checkpoints cover the backlog in bounded steps.
  if (changed === undefined) return undefined;
  const walDir = await init.root.subdirectory(WAL_DIR_NAME);
  const checkpoints = await openCheckpointStore(init.root, objectStoreOf(init.storage), {
    writer: init.writer,
    compression: options.compression,
  });
  let wal: WriteAheadLog;
  try {
    wal = await WriteAheadLog.open(walDir, {
      ...init.wal,
      lock: false,
      initialLsn: recovered.stats.checkpointLsn + 1,
    });
  } catch (err) {
    checkpoints.close();
    throw err;
  }
  let archiver: WalArchiver | undefined;
  let result: IncrementalCheckpointMetadata | undefined;
  let failure: unknown;
  try {
    // With WAL archiving the archiver's guard keeps every segment not yet archived.
    archiver = await startWalArchiver(checkpoints.store, wal, { ...init.storage, archiveIntervalMs: 0 });
    const manager = new IncrementalCheckpointManager({
      store: checkpoints.store,
      wal,
      options,
      transactional: init.transactional,
      archiver,
    });
    await manager.cleanupOrphans();
    await manager.adoptRecoveredState({
      checkpoint: recovered.checkpoint,
      operators: recovered.operators,
      state: recovered.state,
      epoch: recovered.epoch,
      sourceOffsets: recovered.sourceOffsets,
      watermark: recovered.watermark,
      // Transactional recovery's `lsn` is its last Commit (or the checkpoint's LSN).
      lastCommitLsn: recovered.lsn,
      lsn: recovered.lsn,
      changed,
    });
    result = await manager.createCheckpoint(recovered.epoch + 1, { signal: init.signal });
  } catch (err) {
    failure = err;
  }
  await archiver?.stop();
  // A failed close (its final sync) is reported unless an earlier error already is.
  await wal.close().catch((err: unknown) => {
    failure ??= err;
  });
  checkpoints.close();
  if (failure !== undefined) throw failure;
  return result;
}
