/**
 * Ring 1's checkpointer (the seeds' periodic checkpoint: `wal.replay(last_ckpt..now) →
 * state.apply_batch() → state.create_checkpoint() → wal.truncate(epoch)`). It keeps its *own*
 * copy of the state — loaded from the latest checkpoint the first time, then advanced by
 * replaying the WAL from the last checkpoint's LSN to the target — so a checkpoint never reads
 * Ring 0's memory and never pauses Ring 0.
 */
import type { Directory } from '../io/directory.js';
import { replayWal, StateReplayer } from '../state/apply-entry.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';
import type { CheckpointPublisher, CheckpointSnapshot, PublishResult } from './checkpoint-publisher.js';
import { replayStartOf } from './checkpoint-store.js';

/** What one Ring 1 checkpoint did. */
export interface Ring1Checkpoint extends PublishResult {
  /** Records replayed onto the checkpointer's copy for this checkpoint. */
  recordsReplayed: number;
  /** Keys in the checkpoint. */
  keys: number;
}

/** Checkpoints from a private copy of the state, advanced by WAL replay. */
export class Ring1Checkpointer {
  private copy: (CheckpointSnapshot & { lastCommitLsn: number }) | undefined;

  constructor(
    private readonly publisher: CheckpointPublisher,
    private readonly walDir: Directory,
    private readonly wal: WriteAheadLog,
    private readonly transactional: boolean,
  ) {}

  /**
   * Checkpoints the state as of WAL LSN `targetLsn` (durable; in transactional mode, a Commit
   * record) with epoch `epoch`. Resolves what was published. Rejects with the I/O or corruption
   * error that stopped it — no WAL is deleted then — and the copy is rebuilt on the next call.
   */
  async checkpoint(targetLsn: number, epoch: number): Promise<Ring1Checkpoint> {
    try {
      this.copy ??= replayStartOf((await this.publisher.store.loadLatest()).checkpoint);
      const copy = this.copy;
      let recordsReplayed = 0;
      if (targetLsn > copy.lsn) {
        const replayer = new StateReplayer(copy, this.transactional);
        recordsReplayed = (await replayWal(this.walDir, replayer, copy.lsn + 1, targetLsn)).records;
        copy.lsn = targetLsn;
      }
      if (epoch > copy.epoch) copy.epoch = epoch;
      const published = await this.publisher.publishSnapshot(copy, this.wal);
      return { ...published, recordsReplayed, keys: copy.state.size };
    } catch (err) {
      this.copy = undefined;
      throw err;
    }
  }
}
