/**
 * `CheckpointPublisher`: publishes a checkpoint in the crash-safe order of the `durability`
 * crate's `publish` module (LaminarDB):
 *
 * 1. the state's records are durable in the WAL, then the checkpoint is durable in the store;
 * 2. a CheckpointMarker record is appended to the WAL and made durable;
 * 3. retention deletes checkpoints no retained chain needs;
 * 4. with WAL archiving, sealed segments are uploaded;
 * 5. only then are WAL segments deleted — and only those below the *oldest retained*
 *    checkpoint (and, with archiving, already archived), so recovery can still fall back to any
 *    retained checkpoint and replay from it, locally or from the archive; archived segments
 *    below that checkpoint are then deleted from the archive too.
 *
 * A crash between any two steps leaves the old or the new checkpoint valid and every
 * acknowledged record recoverable (test/crash/checkpoint-kill-points.test.ts kills at each).
 */
import { TidemarkError } from '../errors.js';
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import { CheckpointMarkerEncoder } from '../format/entry-codec.js';
import type { WalArchiver } from '../wal/wal-archiver.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';
import { pruneCheckpoints, type RetentionPolicy } from './checkpoint-chain.js';
import { emitCheckpointStep } from './checkpoint-events.js';
import type { CheckpointDraft, CheckpointStore } from './checkpoint-store.js';
import { collectFencedObjects } from './fenced-object-gc.js';
import { ObjectStoreCheckpointStore } from './object-store-checkpoint-store.js';

/** What a publish did. */
export interface PublishResult {
  /** The manifest published. */
  manifest: CheckpointManifest;
  /** LSN of the CheckpointMarker record. */
  walMarkerLsn: number;
  /** WAL segments deleted by the truncation. */
  deletedWalSegments: number;
  /** Checkpoints deleted by retention. */
  deletedCheckpoints: number;
  /** Recoverable checkpoints retained. */
  retained: number;
  /**
   * With WAL archiving: why archiving failed this time, if it did. The checkpoint is published
   * all the same; segments not archived stay on disk (the truncation guard) and the next
   * checkpoint, the archive timer or close retries.
   */
  archiveError?: TidemarkError | undefined;
}

/**
 * Publishes checkpoints; see the module comment for the order.
 *
 * Threads: not thread-safe — the thread that owns the WAL it publishes into (Ring 1 in the
 * pipeline).
 */
export class CheckpointPublisher {
  private busy = false;
  /**
   * Manifests retention has read or this publisher committed, by id: each publish's retention
   * step then reads no manifest it has seen (a local store's manifest read costs a directory
   * listing and a file read; on an object store, a GET).
   */
  private readonly manifests = new Map<number, CheckpointManifest>();

  /**
   * `retention` (default `{ maxRetained: 2, minRetainedBases: 2 }`; a number is `maxRetained`):
   * recoverable checkpoints kept (see `planRetention`); the WAL is kept back to the oldest of them.
   */
  constructor(
    /** Where checkpoints are written and listed. */
    readonly store: CheckpointStore,
    /** Retention after each publish: a number is `{ maxRetained }`. Default 2. */
    readonly retention: number | RetentionPolicy = 2,
    /** With WAL archiving: sealed segments are archived before the WAL is truncated. */
    readonly archiver?: WalArchiver,
  ) {}

  /**
   * Publishes `draft`, whose state is as of WAL LSN `draft.manifest.walPosition.lsn` (already
   * appended to `wal`). Rejects with `TIDEMARK_INVALID_ARGUMENT` when a publish is already
   * running, and with the I/O error that stopped it — after which no WAL has been deleted.
   */
  async publish(draft: CheckpointDraft, wal: WriteAheadLog): Promise<PublishResult> {
    if (this.busy)
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'a checkpoint is already being published');
    this.busy = true;
    try {
      const { id, epoch, kind } = draft.manifest;
      emitCheckpointStep('begin', id, { kind });
      await wal.flushed(draft.manifest.walPosition.lsn);
      const manifest = await this.store.save(draft);
      const walMarkerLsn = wal.append(new CheckpointMarkerEncoder(id, epoch, manifest.walPosition.lsn));
      await wal.flushed(walMarkerLsn);
      emitCheckpointStep('wal-marker-durable', id, { kind });
      this.manifests.set(manifest.id, manifest);
      const pruned = await pruneCheckpoints(this.store, this.retention, this.manifests);
      // Best effort: what fenced writers published after a takeover (never visible) goes too.
      if (this.store instanceof ObjectStoreCheckpointStore)
        await collectFencedObjects(this.store.storage).catch(() => {});
      emitCheckpointStep('pruned', id, { kind });
      const oldest = pruned.retained.reduce(
        (min, m) => Math.min(min, m.walPosition.lsn),
        manifest.walPosition.lsn,
      );
      let archiveError: TidemarkError | undefined;
      if (this.archiver) {
        await this.archiver.archiveSealed().catch((err: unknown) => {
          archiveError = err as TidemarkError; // also in the archiver's stats and channel
        });
      }
      const deletedWalSegments = await wal.truncatePrefix(oldest + 1);
      if (this.archiver && archiveError === undefined) {
        // The archive keeps what the retained checkpoints need, like the local WAL.
        await this.archiver.pruneArchive(oldest + 1).catch((err: unknown) => {
          archiveError = err as TidemarkError;
        });
      }
      emitCheckpointStep('wal-truncated', id, { kind });
      return {
        manifest,
        walMarkerLsn,
        deletedWalSegments,
        deletedCheckpoints: pruned.removed.length,
        retained: pruned.retained.length,
        archiveError,
      };
    } finally {
      this.busy = false;
    }
  }
}
