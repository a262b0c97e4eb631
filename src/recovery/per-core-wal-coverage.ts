/**
 * Per-core "missing WAL after a checkpoint": a core's log must still hold every entry the
 * checkpoint recovery starts from does not. The reader already refuses a log that no longer
 * reaches back to the checkpoint's position; this covers what it cannot see — a core whose log
 * ends before that position (or has no segment at all), and a directory whose checkpoints are
 * all invalid while a core's log is empty. Replaying such a log would look like a clean start,
 * and the core's writer would then reuse sequences the checkpoint claims to cover, so the next
 * recovery would skip its new entries too (PostgreSQL refuses to start when the WAL ends before
 * the checkpoint's redo point for the same reason).
 */
import type { SkippedCheckpoint } from '../checkpoint/checkpoint-chain.js';
import { TidemarkError } from '../errors.js';
import type { Directory } from '../io/directory.js';
import { coreWalDirName, type SegmentStats } from '../wal/per-core-wal-reader.js';
import { listSegments } from '../wal/segment-files.js';
import type { WalPosition } from '../wal/wal-reader.js';

/** What {@link requirePerCoreWalCoverage} checks. */
export interface PerCoreWalCoverage {
  walRoot: Directory;
  cores: number;
  /** Id of the checkpoint recovery starts from (undefined: none). */
  checkpointId: number | undefined;
  /** That checkpoint's position per core (the next sequence it does not hold). */
  positions: ReadonlyMap<number, WalPosition>;
  /** Checkpoints passed over as invalid. */
  skipped: readonly SkippedCheckpoint[];
  /** What reading each core's log from its position found, by core id. */
  stats: readonly SegmentStats[];
}

/**
 * Throws `TIDEMARK_DATA_LOSS` (naming the core and its log directory) when a core's log ends
 * before the checkpoint's position for it, or has no segment although the checkpoint covers
 * entries of it, or has no segment while checkpoints exist and none is valid.
 */
export async function requirePerCoreWalCoverage(c: PerCoreWalCoverage): Promise<void> {
  for (let core = 0; core < c.cores; core++) {
    const dir = await c.walRoot.subdirectory(coreWalDirName(core));
    const position = c.positions.get(core);
    const needed = position === undefined ? 0 : position.lsn - 1;
    const empty = (await listSegments(dir)).length === 0;
    if (needed > 0 && (empty || c.stats[core]!.lastSequence < needed)) {
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `core ${core}: the log in ${dir.path} ${
          empty ? 'has no segment' : `ends at sequence ${c.stats[core]!.lastSequence}`
        }, but checkpoint ${c.checkpointId} holds it up to sequence ${needed}: entries written after it are missing`,
        { path: dir.path },
      );
    }
    if (c.checkpointId === undefined && c.skipped.length > 0 && empty) {
      const why = c.skipped.map((s) => `checkpoint ${s.id}: ${s.code} ${s.reason}`).join('; ');
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `core ${core}: no valid checkpoint is left (${why}) and the log in ${dir.path} has no segment: starting empty would drop what the checkpoints held`,
        { path: dir.path },
      );
    }
  }
}
