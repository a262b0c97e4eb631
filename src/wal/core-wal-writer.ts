/**
 * `CoreWalWriter` (the seed's): the log of one core (one worker thread), with no cross-thread
 * synchronisation — an ordinary tidemark WAL (framing, group commit, fdatasync, torn tails) in
 * `wal/core-<id>/`, whose records are `CoreEntry`s carrying epoch, core id and timestamp.
 *
 * - Timestamps are strictly increasing per writer even when the wall clock steps back
 *   (`max(clock(), last + 1)`), and the last one is recovered when the writer reopens.
 * - The epoch only moves forward; `appendEpochBarrier(e)` moves it and marks the spot.
 * - `position` (written) and `syncedPosition` (durable) are kept apart: only the synced position
 *   may enter a checkpoint manifest.
 * - Sequences are the log's LSNs: they never repeat, across restarts too.
 */
import { TidemarkError } from '../errors.js';
import { CoreOperation } from '../format/constants.js';
import {
  CheckpointMarkerEncoder,
  CommitEncoder,
  DeleteEncoder,
  PutEncoder,
  type SourceOffsets,
} from '../format/entry-codec.js';
import { CoreEntryEncoder } from '../format/per-core-entry.js';
import type { Directory } from '../io/directory.js';
import { coreWalDirName, PerCoreWalReader } from './per-core-wal-reader.js';
import type { WalPosition } from './wal-reader.js';
import { type WalOptions, type WalStats, WriteAheadLog } from './write-ahead-log.js';

/** A wall clock in nanoseconds since the Unix epoch (injectable for tests). */
export type NanoClock = () => bigint;

/** Default clock: `Date.now()` in nanoseconds (it may step back; the writer never does). */
export const wallClockNs: NanoClock = () => BigInt(Date.now()) * 1_000_000n;

/** Options of {@link CoreWalWriter.open}. */
export interface CoreWalWriterOptions {
  wal?: Omit<WalOptions, 'lock'>;
  clock?: NanoClock;
  /** Epoch to start at (at least one above anything recovered). Default: the last epoch in the log. */
  epoch?: number;
}

/** One core's WAL writer; owned by one thread. */
export class CoreWalWriter {
  private readonly encoder: CoreEntryEncoder;
  private readonly put = new PutEncoder();
  private readonly del = new DeleteEncoder();
  private lastTimestampNs: bigint;
  private currentEpoch: number;

  private constructor(
    readonly coreId: number,
    readonly wal: WriteAheadLog,
    private readonly clock: NanoClock,
    epoch: number,
    lastTimestampNs: bigint,
  ) {
    this.encoder = new CoreEntryEncoder(coreId);
    this.currentEpoch = epoch;
    this.lastTimestampNs = lastTimestampNs;
  }

  /**
   * Opens (recovering: a torn tail is cut) the log of core `coreId` under `walRoot`, taking that
   * core directory's lock. Throws `TIDEMARK_LOCKED`, `TIDEMARK_CORRUPTION`, `TIDEMARK_IO`.
   */
  static async open(
    walRoot: Directory,
    coreId: number,
    options: CoreWalWriterOptions = {},
  ): Promise<CoreWalWriter> {
    const dir = await walRoot.subdirectory(coreWalDirName(coreId));
    // No CleanShutdown record: a core log's LSNs are its entry sequences, every record a CoreEntry.
    const wal = await WriteAheadLog.open(dir, { ...options.wal, cleanShutdown: false });
    try {
      // The newest entry gives the epoch and timestamp to continue from.
      let epoch = 0;
      let lastTs = 0n;
      const segments = wal.segmentList();
      const last = segments[segments.length - 1]!;
      if (wal.lastLsn >= last.firstLsn) {
        const { entries } = await PerCoreWalReader.read(walRoot, coreId, {
          from: { segment: last.number, offset: 32, lsn: last.firstLsn },
        });
        for (const e of entries) {
          if (e.epoch > epoch) epoch = e.epoch;
          if (e.timestampNs > lastTs) lastTs = e.timestampNs;
        }
      }
      const start = options.epoch ?? epoch;
      if (!Number.isSafeInteger(start) || start < epoch)
        throw new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `core ${coreId}: epoch ${start} is below the log's ${epoch}`,
        );
      return new CoreWalWriter(coreId, wal, options.clock ?? wallClockNs, start, lastTs);
    } catch (err) {
      await wal.close().catch(() => {});
      throw err;
    }
  }

  /** The epoch new entries carry. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** Written position: where the next written record starts (not necessarily durable). */
  get position(): WalPosition {
    const segments = this.wal.segmentList();
    const last = segments[segments.length - 1]!;
    return { segment: last.number, offset: last.sizeBytes, lsn: this.wal.lastLsn + 1 };
  }

  /** Durable position: only this may enter a manifest. */
  get syncedPosition(): WalPosition {
    return this.wal.durablePosition;
  }

  private nextTimestamp(): bigint {
    const now = this.clock();
    this.lastTimestampNs = now > this.lastTimestampNs ? now : this.lastTimestampNs + 1n;
    return this.lastTimestampNs;
  }

  /** Appends a Put; returns its sequence. Durable once `flushed(sequence)` resolves. */
  appendPut(key: string, value: Uint8Array): number {
    return this.wal.append(
      this.encoder.set(CoreOperation.Put, this.currentEpoch, this.nextTimestamp(), this.put.set(key, value)),
    );
  }

  appendDelete(key: string): number {
    return this.wal.append(
      this.encoder.set(CoreOperation.Delete, this.currentEpoch, this.nextTimestamp(), this.del.set(key)),
    );
  }

  /** Appends a Commit of this core's source offsets (and watermark). */
  appendCommit(sourceOffsets: SourceOffsets, watermark?: number): number {
    const inner = new CommitEncoder(this.currentEpoch, sourceOffsets, watermark);
    return this.wal.append(
      this.encoder.set(CoreOperation.Commit, this.currentEpoch, this.nextTimestamp(), inner),
    );
  }

  /** Marks that checkpoint `checkpointId` covers this core's log up to here. */
  appendCheckpoint(checkpointId: number): number {
    const inner = new CheckpointMarkerEncoder(checkpointId, this.currentEpoch, this.wal.lastLsn);
    return this.wal.append(
      this.encoder.set(CoreOperation.Checkpoint, this.currentEpoch, this.nextTimestamp(), inner),
    );
  }

  /**
   * Moves to `epoch` (which must be above the current one) and appends an EpochBarrier carrying
   * it: entries before it belong to earlier epochs. Returns its sequence.
   */
  appendEpochBarrier(epoch: number): number {
    if (!Number.isSafeInteger(epoch) || epoch <= this.currentEpoch)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `core ${this.coreId}: epoch barrier ${epoch} is not above the current epoch ${this.currentEpoch}`,
      );
    this.currentEpoch = epoch;
    return this.wal.append(
      this.encoder.set(CoreOperation.EpochBarrier, epoch, this.nextTimestamp(), undefined),
    );
  }

  /**
   * A checkpoint barrier: appends EpochBarrier(`epoch`), waits until it is durable, and resolves
   * the synced position right after it — what a coordinator may put in a manifest. When more
   * became durable meanwhile no byte position is known for the next record, so the position
   * names segment 0 (which never exists) and readers find the record by its LSN.
   */
  async barrier(epoch: number): Promise<WalPosition> {
    const seq = this.appendEpochBarrier(epoch);
    await this.wal.flushed(seq);
    const p = this.wal.durablePosition;
    return p.lsn === seq + 1 ? p : { segment: 0, offset: 0, lsn: seq + 1 };
  }

  flushed(sequence: number): Promise<void> {
    return this.wal.flushed(sequence);
  }

  /** Makes everything appended durable. */
  sync(): Promise<void> {
    return this.wal.sync();
  }

  /** Deletes the segments wholly before `position` (a position every retained checkpoint covers). */
  truncateBefore(position: WalPosition): Promise<number> {
    return this.wal.truncatePrefix(position.lsn);
  }

  stats(): WalStats {
    return this.wal.stats();
  }

  close(): Promise<void> {
    return this.wal.close();
  }
}
