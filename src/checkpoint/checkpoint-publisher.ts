/**
 * `CheckpointPublisher`: publishes a checkpoint of a `WalStateStore` in the crash-safe order of
 * the `durability` crate's `publish` module (../shared/seeds/004_c20cf77c8e800154.txt):
 *
 * 1. the state's records are durable in the WAL, then the checkpoint is durable in the store;
 * 2. a CheckpointMarker record is appended to the WAL and made durable;
 * 3. only then are WAL segments deleted — and only those below the *oldest retained*
 *    checkpoint, so recovery can still fall back to any retained checkpoint and replay from it.
 */
import { TidemarkError } from '../errors.js';
import type { SourceOffsets } from '../format/entry-codec.js';
import { CheckpointMarkerEncoder } from '../format/entry-codec.js';
import type { WalStateStore } from '../state/wal-state-store.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';
import type { CheckpointManifest } from './checkpoint-manifest.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { encodeStateFile } from './state-file.js';

/** A consistent state as of WAL LSN `lsn`, ready to be checkpointed. */
export interface CheckpointSnapshot {
  state: Map<string, Uint8Array>;
  lsn: number;
  epoch: number;
  sourceOffsets: SourceOffsets;
  watermark: number | undefined;
}

/** What a publish did. */
export interface PublishResult {
  manifest: CheckpointManifest;
  /** LSN of the CheckpointMarker record. */
  walMarkerLsn: number;
  /** WAL segments deleted by the truncation. */
  deletedWalSegments: number;
  /** Checkpoints retained after pruning. */
  retained: number;
  /** Size of the state file, bytes. */
  stateBytes: number;
  /** Wall time of the whole publish, ms. */
  durationMs: number;
}

/** Publishes checkpoints; see the module comment for the order. */
export class CheckpointPublisher {
  private busy = false;

  /** `maxRetained` (default 2): checkpoints kept; the WAL is kept back to the oldest of them. */
  constructor(
    readonly store: CheckpointStore,
    readonly maxRetained = 2,
  ) {}

  /**
   * Checkpoints `stateStore` now. Throws `TIDEMARK_UNCOMMITTED` (transactional store with an open
   * transaction), `TIDEMARK_INVALID_ARGUMENT` (a publish already running), and any I/O error —
   * after which no WAL has been deleted.
   */
  async publish(stateStore: WalStateStore): Promise<PublishResult> {
    if (this.busy)
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'a checkpoint is already being published');
    const snap = stateStore.snapshot();
    return this.publishSnapshot(snap, stateStore.wal);
  }

  /**
   * Publishes `snap` (a consistent state as of WAL LSN `snap.lsn`, which must already be appended
   * to `wal`) in the safe order. Ring 1's checkpointer calls this with its own copy of the state.
   * The state map is read during the call: do not mutate it until the promise settles.
   */
  async publishSnapshot(snap: CheckpointSnapshot, wal: WriteAheadLog): Promise<PublishResult> {
    if (this.busy)
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'a checkpoint is already being published');
    this.busy = true;
    const t0 = performance.now();
    try {
      await wal.flushed(snap.lsn);
      const stateBytes = encodeStateFile(snap.state);
      const manifest = await this.store.save(
        {
          version: 1,
          id: await this.store.nextId(),
          epoch: snap.epoch,
          walPosition: { lsn: snap.lsn },
          sourceOffsets: snap.sourceOffsets,
          watermark: snap.watermark ?? null,
          createdAtMs: Date.now(),
        },
        snap.state.size,
        stateBytes,
      );
      const walMarkerLsn = wal.append(new CheckpointMarkerEncoder(manifest.id, manifest.epoch, snap.lsn));
      await wal.flushed(walMarkerLsn);
      const kept = await this.store.prune(this.maxRetained);
      const oldest = kept.reduce((min, m) => Math.min(min, m.walPosition.lsn), snap.lsn);
      const deletedWalSegments = await wal.truncatePrefix(oldest + 1);
      return {
        manifest,
        walMarkerLsn,
        deletedWalSegments,
        retained: kept.length,
        stateBytes: stateBytes.length,
        durationMs: performance.now() - t0,
      };
    } finally {
      this.busy = false;
    }
  }
}
