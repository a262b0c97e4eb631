/**
 * `ChangelogDrainer` (the seeds' Ring 1 SPSC changelog consumer): drains the
 * {@link StateChangelogBuffer} and hands each entry to the {@link WriteAheadLog} as a record
 * borrowed from the arena (no copy: the group commit writes it from there with vectored writes and
 * computes each batch's CRC32C over it in place; the arena bytes are released once durable); after each group is durable it publishes the durable
 * watermark (changelog sequence + WAL LSN) in shared memory, where Ring 0 awaits it with
 * `Atomics.waitAsync`.
 *
 * Wake-up strategy (measured here: waking a sleeping thread costs ~70 µs here, a busy peer
 * 0.2–0.5 µs): when the ring is empty the drainer first spins for `spinMicros`, then sleeps on
 * the head word for at most `idleSleepMs`. Ring 0 wakes it early only when work piles up or when
 * someone awaits durability, so `push()` itself never makes a syscall.
 *
 * A failed write or fdatasync is final: the failure is published to Ring 0 (every waiter
 * rejects), the drainer stops, nothing is retried.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { assert } from '../errors.js';
import {
  BATCH_RECORD_HEADER_SIZE,
  BATCH_RECORD_LENGTH_OFFSET,
  BATCH_RECORD_TYPE_OFFSET,
  type RecordType,
  RING_FLUSH_REQUEST_WORD,
  RING_HEAD_WORD,
  RingStat,
  StateOp,
} from '../format/constants.js';
import type { BorrowedRecord, WriteAheadLog } from '../wal/write-ahead-log.js';
import { publishDurable, publishFailure } from './ring-status.js';
import type { StateChangelogBuffer, StateChangelogEntry } from './state-changelog-buffer.js';

/** Options of a {@link ChangelogDrainer}. */
export interface ChangelogDrainerOptions {
  /** Entries taken per drain pass before yielding to the event loop. Default 4096. */
  maxBatchEntries?: number;
  /** Busy-poll the ring this long (µs) before sleeping when it is empty. Default 0 (see `npm run bench`). */
  spinMicros?: number;
  /** Longest sleep (ms) while the ring is empty before looking again. Default 1. */
  idleSleepMs?: number;
  /** Changelog sequence of the first entry Ring 0 will push. Default 1. */
  firstSequence?: number;
  /** LSN of the last durable Commit before this session (what recovery found). Default 0. */
  initialCommitLsn?: number;
}

/**
 * An arena entry as the WAL record it already is (Ring 0 writes the batch record header before
 * each payload): handed to `WriteAheadLog.appendBorrowed`, which writes it from the arena in
 * place. A reused object: no allocation per record.
 */
class ArenaRecord implements BorrowedRecord {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  recordType: RecordType = StateOp.Put;
  payloadLength = 0;
  set(entry: StateChangelogEntry): this {
    const start = entry.payloadOffset - BATCH_RECORD_HEADER_SIZE;
    const arena = entry.payload;
    // Ring 0 wrote the record header with the payload; a mismatch is a broken ring, never data.
    assert(
      arena[start + BATCH_RECORD_TYPE_OFFSET] === entry.op &&
        arena.readUInt32LE(start + BATCH_RECORD_LENGTH_OFFSET) === entry.payloadLength,
      `changelog entry ${entry.sequenceLow}: arena record header does not match the entry`,
    );
    this.buf = arena;
    this.start = start;
    this.recordType = entry.op;
    this.payloadLength = entry.payloadLength;
    return this;
  }
}

/**
 * Ring 1's consumer. Call {@link run} once; {@link stop} drains what is left, syncs and returns.
 *
 * Threads: runs in Ring 1's worker thread, the single consumer of the ring.
 */
export class ChangelogDrainer {
  private readonly maxBatchEntries: number;
  private readonly spinMicros: number;
  private readonly idleSleepMs: number;
  private readonly record = new ArenaRecord();
  private consumed: number;
  private lastLsn = 0;
  private batchCommitLsn = 0;
  private durableSequence: number;
  private durableCommit = 0;
  private seenFlushRequest = 0;
  private stopping = false;
  private failure: unknown;
  private readonly appendVisitor = (entry: StateChangelogEntry): void => {
    const sequence = this.consumed + 1;
    assert(
      entry.sequenceLow === sequence >>> 0,
      `changelog entry ${entry.sequenceLow} drained where ${sequence >>> 0} was expected`,
    );
    // Written in place from the arena (no copy): the bytes stay Ring 1's until the record is
    // durable (afterBatch releases them), so Ring 0 cannot reuse them before the write.
    const lsn = this.wal.appendBorrowed(this.record.set(entry));
    this.consumed = sequence;
    this.lastLsn = lsn;
    if (entry.op === StateOp.Commit) this.batchCommitLsn = lsn;
  };

  constructor(
    /** The ring Ring 1 drains (it is the consumer). */
    readonly buffer: StateChangelogBuffer,
    /** The WAL the drained entries are appended to. */
    readonly wal: WriteAheadLog,
    options: ChangelogDrainerOptions = {},
  ) {
    this.maxBatchEntries = options.maxBatchEntries ?? 4096;
    this.spinMicros = options.spinMicros ?? 0;
    this.idleSleepMs = options.idleSleepMs ?? 1;
    this.consumed = (options.firstSequence ?? 1) - 1;
    this.durableSequence = this.consumed;
    this.durableCommit = options.initialCommitLsn ?? 0;
    this.seenFlushRequest = Atomics.load(buffer.control, RING_FLUSH_REQUEST_WORD);
    // The WAL reads drained records from the arena when it writes them: the arena bytes go back
    // to Ring 0 only once they are durable (see afterBatch), never at drain.
    buffer.deferArenaRelease = true;
  }

  /** Changelog sequence of the last entry drained into the WAL. */
  get consumedSequence(): number {
    return this.consumed;
  }

  /** LSN of the last Commit record that is durable (0 when none this session). */
  get durableCommitLsn(): number {
    return this.durableCommit;
  }

  /** The failure that stopped the drainer, if any. */
  get failed(): unknown {
    return this.failure;
  }

  /** Asks the loop to drain what is left, sync and return. */
  stop(): void {
    this.stopping = true;
    Atomics.notify(this.buffer.control, RING_HEAD_WORD);
  }

  /** Publishes an error from outside the drain loop (a failed checkpoint marker, a dead WAL). */
  fail(err: unknown): void {
    this.failure ??= err;
    publishFailure(this.buffer, err);
  }

  /** The drain loop. Resolves after {@link stop} once everything drained is durable; never rejects. */
  async run(): Promise<void> {
    const buffer = this.buffer;
    const stats = buffer.statsArea;
    try {
      for (;;) {
        if (this.failure !== undefined) return;
        // A pass takes at most a quarter group, so groups stay near groupCommitBytes (measured:
        // 64 KiB–1 MiB per write+fdatasync is the sweet spot; 4 MiB groups are slower).
        const n = buffer.drain(this.appendVisitor, this.maxBatchEntries, this.wal.groupCommitBytes >>> 2);
        if (n > 0) {
          stats[RingStat.drainBatches]!++;
          this.afterBatch();
        }
        // Someone in Ring 0 awaits durability (`flushed(seq)` or `durable()`): once the ring is
        // drained, the group leaves now if the disk is idle, or right after the write in flight.
        const request = Atomics.load(buffer.control, RING_FLUSH_REQUEST_WORD);
        if (request !== this.seenFlushRequest && buffer.available() === 0) {
          this.seenFlushRequest = request;
          this.wal.sync().catch((err) => this.fail(err));
        }
        if (this.stopping && buffer.available() === 0) break;
        // Bound what waits in the WAL: one group being written plus one being built.
        if (this.wal.bufferedBytes >= 2 * this.wal.groupCommitBytes) {
          await this.wal.flushed(this.wal.durableLsn + 1);
          continue;
        }
        if (n > 0) {
          await nextTurn(); // let the WAL's I/O completions and timers run
          continue;
        }
        if (this.spinMicros > 0 && this.spin()) {
          stats[RingStat.drainSpinHits]!++;
          continue;
        }
        buffer.setConsumerSleeping(true);
        const head = buffer.loadHead();
        if (buffer.available() === 0 && !this.stopping) {
          stats[RingStat.drainSleeps]!++;
          const wait = Atomics.waitAsync(buffer.control, RING_HEAD_WORD, head, this.idleSleepMs);
          if (wait.async) await wait.value;
          else await nextTurn();
        }
        buffer.setConsumerSleeping(false);
      }
      await this.wal.sync();
    } catch (err) {
      this.fail(err);
    }
  }

  private spin(): boolean {
    const until = performance.now() + this.spinMicros / 1000;
    while (performance.now() < until) {
      if (this.buffer.available() > 0) return true;
    }
    return false;
  }

  /**
   * After a drain pass: one promise for the batch publishes its watermark once it is durable.
   * It only watches (`whenDurable`): the batch's group leaves at once when Ring 0 asks for it
   * (the flush-request word, bumped by every wait on the watermark), otherwise by size or delay.
   */
  private afterBatch(): void {
    const sequence = this.consumed;
    const lsn = this.lastLsn;
    const commitLsn = this.batchCommitLsn;
    const arenaEnd = this.buffer.arenaReleasable;
    this.wal.whenDurable(lsn).then(
      () => {
        // Written (and synced): the arena bytes of this pass may be reused. Passes become durable
        // in order, so the release position only moves forward.
        this.buffer.releaseArena(arenaEnd);
        if (sequence > this.durableSequence) {
          this.durableSequence = sequence;
          if (commitLsn > this.durableCommit) this.durableCommit = commitLsn;
          this.writeStats();
          publishDurable(this.buffer, sequence, lsn);
        }
      },
      (err) => this.fail(err),
    );
  }

  private writeStats(): void {
    const s = this.wal.stats();
    const a = this.buffer.statsArea;
    a[RingStat.recordsAppended] = s.recordsAppended;
    a[RingStat.bytesWritten] = s.bytesWritten;
    a[RingStat.syncs] = s.syncs;
    a[RingStat.groupsCommitted] = s.groupsCommitted;
    a[RingStat.maxGroupRecords] = s.maxGroupRecords;
    a[RingStat.syncTotalMs] = s.syncTotalMs;
    a[RingStat.syncMaxMs] = s.syncMaxMs;
    a[RingStat.segmentsCreated] = s.segmentsCreated;
    a[RingStat.walSizeBytes] = this.wal.walSize();
  }
}
