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
import { CoreOperation, SEGMENT_HEADER_SIZE } from '../format/constants.js';
import {
  CheckpointMarkerEncoder,
  CommitEncoder,
  DeleteEncoder,
  PutEncoder,
  type SourceOffsets,
} from '../format/entry-codec.js';
import { CoreEntryEncoder } from '../format/per-core-entry.js';
import type { Directory, DirectoryLock } from '../io/directory.js';
import { checkDirectoryArgument } from '../validation.js';
import { coreWalDirName, PerCoreWalReader } from './per-core-wal-reader.js';
import type { WalPosition } from './wal-reader.js';
import { type WalOptions, type WalStats, WriteAheadLog } from './write-ahead-log.js';

/** A wall clock in nanoseconds since the Unix epoch (injectable for tests). */
export type NanoClock = () => bigint;

/** Default clock: `Date.now()` in nanoseconds (it may step back; the writer never does). */
export const wallClockNs: NanoClock = () => BigInt(Date.now()) * 1_000_000n;

/** Options of {@link CoreWalWriter.open}. */
export interface CoreWalWriterOptions {
  /** Options of the core's WAL (segment size, group commit, sync method…); the lock is set by `lock`. */
  wal?: Omit<WalOptions, 'lock'>;
  /**
   * The data directory's lock (every core of a data directory shares one; see
   * `Directory.lock`): `true` (default) takes it, so this writer is the directory's only one;
   * `false` when this process already holds it for the writer's whole life (a core's worker
   * thread, started by the thread that took it); a held `DirectoryLock` handle is released
   * when the writer closes (see `shareLock`).
   */
  lock?: boolean | DirectoryLock;
  /** Clock of the entries' timestamps (ns since the Unix epoch). Default `wallClockNs`. */
  clock?: NanoClock;
  /**
   * Epoch to start at (at least one above anything recovered; `TIDEMARK_INVALID_ARGUMENT` when
   * below the newest entry's). Default: the epoch of the newest entry in the log, 0 when empty.
   */
  epoch?: number;
}

/**
 * The epoch and timestamp of the newest entry in the log (0 and 0n when it holds none).
 *
 * The newest entry is the one to continue from: a writer never writes an epoch below one already
 * in its log (barriers only move up, and a reopened writer starts at least here) and its
 * timestamps strictly increase, so the newest entry carries the highest of both. It is looked
 * for in the segment that holds the newest LSN, not in the final segment: after a rotation or a
 * seal (or a crash between creating the next segment and writing to it) the final segment holds
 * no entry, and restarting at epoch 0 would sort every new write before older writes of higher
 * epochs in the merge. Only that one segment is read (plus the empty ones after it).
 * `truncateBefore` never deletes that segment, so the entry survives truncation too.
 */
async function newestEntryOf(
  walRoot: Directory,
  coreId: number,
  wal: WriteAheadLog,
): Promise<{ epoch: number; lastTs: bigint }> {
  let epoch = 0;
  let lastTs = 0n;
  const segments = wal.segmentList();
  let holder: (typeof segments)[number] | undefined;
  for (const s of segments) if (s.firstLsn <= wal.lastLsn) holder = s;
  if (holder === undefined) return { epoch, lastTs };
  const { entries } = await PerCoreWalReader.read(walRoot, coreId, {
    from: { segment: holder.number, offset: SEGMENT_HEADER_SIZE, lsn: holder.firstLsn },
  });
  for (const e of entries) {
    if (e.epoch > epoch) epoch = e.epoch;
    if (e.timestampNs > lastTs) lastTs = e.timestampNs;
  }
  return { epoch, lastTs };
}

/**
 * One core's WAL writer; owned by one thread.
 *
 * Threads: one per worker thread — each thread opens its own core's writer
 * (`CoreWalWriter.open(walRoot, id)`) and uses it only there; writers of different cores never
 * share state.
 */
export class CoreWalWriter {
  private readonly encoder: CoreEntryEncoder;
  private readonly put = new PutEncoder();
  private readonly del = new DeleteEncoder();
  private lastTimestampNs: bigint;
  private currentEpoch: number;

  /** The core this writer logs for (its WAL is `core-<id>/` under the WAL root). */
  readonly coreId: number;
  /** The core's WAL. */
  readonly wal: WriteAheadLog;
  private readonly clock: NanoClock;

  // Named fields: coreId and epoch are both small integers, easy to swap positionally.
  private constructor(init: {
    coreId: number;
    wal: WriteAheadLog;
    clock: NanoClock;
    /** The epoch appends start in. */
    epoch: number;
    /** The last timestamp in the log (appends never go below it). */
    lastTimestampNs: bigint;
  }) {
    this.coreId = init.coreId;
    this.wal = init.wal;
    this.clock = init.clock;
    this.encoder = new CoreEntryEncoder(init.coreId);
    this.currentEpoch = init.epoch;
    this.lastTimestampNs = init.lastTimestampNs;
  }

  /**
   * Opens (recovering: a torn tail is cut) the log of core `coreId` under `walRoot`, taking the
   * data directory's lock unless `options.lock` says otherwise. Throws `TIDEMARK_LOCKED`, `TIDEMARK_CORRUPTION`, `TIDEMARK_IO`.
   */
  static async open(
    walRoot: Directory,
    coreId: number,
    options: CoreWalWriterOptions = {},
  ): Promise<CoreWalWriter> {
    checkDirectoryArgument('walRoot', walRoot);
    const dir = await walRoot.subdirectory(coreWalDirName(coreId));
    // No CleanShutdown record: a core log's LSNs are its entry sequences, every record a CoreEntry.
    const wal = await WriteAheadLog.open(dir, {
      ...options.wal,
      lock: options.lock ?? true,
      cleanShutdown: false,
    });
    try {
      const { epoch, lastTs } = await newestEntryOf(walRoot, coreId, wal);
      const start = options.epoch ?? epoch;
      if (!Number.isSafeInteger(start) || start < epoch)
        throw new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `core ${coreId}: epoch ${start} is below the log's ${epoch}`,
        );
      return new CoreWalWriter({
        coreId,
        wal,
        clock: options.clock ?? wallClockNs,
        epoch: start,
        lastTimestampNs: lastTs,
      });
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

  /** Appends a Delete; returns its sequence. Durable once `flushed(sequence)` resolves. */
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

  /**
   * Appends a Checkpoint marker: checkpoint `checkpointId` holds this core's entries up to
   * sequence `options.coveredSequence` (default: the last one appended). Returns its sequence.
   * Throws `TIDEMARK_INVALID_ARGUMENT` (nothing appended) for an id that is not a positive safe
   * integer or a covered sequence outside [0, last sequence appended].
   */
  appendCheckpoint(checkpointId: number, options: { coveredSequence?: number } = {}): number {
    const covered = options.coveredSequence ?? this.wal.lastLsn;
    if (!Number.isSafeInteger(checkpointId) || checkpointId < 1)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `core ${this.coreId}: checkpoint id must be a positive safe integer, got ${checkpointId}`,
      );
    if (!Number.isSafeInteger(covered) || covered < 0 || covered > this.wal.lastLsn)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `core ${this.coreId}: covered sequence ${covered} is outside [0, ${this.wal.lastLsn}]`,
      );
    const inner = new CheckpointMarkerEncoder(checkpointId, this.currentEpoch, covered);
    return this.wal.append(
      this.encoder.set(CoreOperation.Checkpoint, this.currentEpoch, this.nextTimestamp(), inner),
    );
  }

  /**
   * The "checkpoint committed" step of a coordinated checkpoint, run once the checkpoint is
   * durable and before any of its cores is truncated: appends a Checkpoint marker for
   * `checkpointId` covering this core up to (not including) `position`, and resolves its
   * sequence once it is durable. The marker is what keeps the checkpoint's epoch in the retained
   * log after truncation deletes the segment holding the barrier. Throws as
   * {@link appendCheckpoint}; rejects `TIDEMARK_IO` / `TIDEMARK_NO_SPACE` when it cannot be
   * made durable.
   */
  async markCheckpoint(options: { checkpointId: number; position: WalPosition }): Promise<number> {
    const seq = this.appendCheckpoint(options.checkpointId, { coveredSequence: options.position.lsn - 1 });
    await this.wal.flushed(seq);
    return seq;
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
    // The barrier starts a batch: its position is where point-in-time recovery may cut the log,
    // and a cut inside a batch would drop the records before it too.
    this.wal.startBatch();
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

  /** Resolves once the entry with this sequence (and every one before it) is durable. */
  flushed(sequence: number): Promise<void> {
    return this.wal.flushed(sequence);
  }

  /** Makes everything appended durable. */
  sync(): Promise<void> {
    return this.wal.sync();
  }

  /**
   * Deletes the segments wholly before `position` (a position every retained checkpoint covers).
   * The segment holding the newest durable entry is always kept, whatever `position` says: a
   * reopened writer takes its epoch, timestamp and next sequence from it, so a log truncated down
   * to an empty segment would restart at epoch 0. Resolves the number of segments deleted.
   */
  truncateBefore(position: WalPosition): Promise<number> {
    return this.wal.truncatePrefix(Math.min(position.lsn, this.wal.durableLsn));
  }

  /** This core's WAL counters. */
  stats(): WalStats {
    return this.wal.stats();
  }

  /** Closes this core's WAL (memoized: a second call returns the same promise). */
  close(): Promise<void> {
    return this.wal.close();
  }

  /** `await using writer = …`: {@link close} (memoized by the WAL) when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
