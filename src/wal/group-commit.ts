/**
 * Group commit of the WAL (RocksDB's write group, PostgreSQL's commit_delay): the two group
 * buffers (one being built, one being written), the flush loop that writes a group with one
 * write and makes it durable with one barrier, the delay timer, and the one promise per group
 * that resolves every waiter of that group. A failed write or sync is final: every waiter is
 * rejected and nothing is retried.
 *
 * Leader/follower, without a timer on the commit path:
 * - Idle log (no write in flight): the first commit someone awaits makes its group leave on the
 *   next turn of the event loop (`setImmediate`, microseconds: every commit issued in the same
 *   turn joins it), not after `groupCommitDelayMs`.
 * - Write in flight: records appended meanwhile form the next group, written as soon as the
 *   in-flight one is durable (the flush loop keeps going while the active group is non-empty).
 *   That wait is the batching window; no extra delay is added to it.
 * - Records nobody awaits leave when their group reaches `groupCommitBytes`, or at the latest
 *   `groupCommitDelayMs` after the group's first record (the timer), so they never sit in memory
 *   unwritten for longer than that (plus the write in flight).
 */
import { tracing } from '../diagnostics.js';
import { ioError, TidemarkError } from '../errors.js';
import type { WalStats } from './wal-options.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A buffer of framed records waiting to be written, with the points where a new segment starts. */
export interface GroupBuffer {
  buf: Buffer;
  length: number;
  records: number;
  /** LSN of the newest record in the group. */
  lastLsn: number;
  /**
   * Buffer offsets at which a new segment begins, with that segment's first LSN and base time
   * (whole seconds since the Unix epoch, format version 4).
   */
  rotations: { offset: number; firstLsn: number; baseSeconds: number }[];
  /**
   * When ≥ 0: before writing, the (still empty) segment being appended to gets its header
   * rewritten with this base time — its old base is too far back for a commit time to fit.
   */
  rebaseSeconds: number;
  waiter: Deferred | undefined;
  /**
   * The batch being filled (format version 3): offset of its header in `buf`, -1 when none is
   * open. The log seals it (header and CRC32C) when the group leaves, or when the next record
   * does not fit the batch bound or starts a new segment.
   */
  batchAt: number;
  /** Logical offset (own and borrowed bytes before it) of the open batch's header. */
  batchStart: number;
  /** Records in the open batch. */
  batchRecords: number;
  /** LSN of the open batch's first record. */
  batchFirstLsn: number;
  /** Number of the segment the open batch goes into. */
  batchSegment: number;
  /** Base time (seconds) of that segment, when it carries commit times (version 4); else -1. */
  batchBaseSeconds: number;
  /**
   * Records borrowed, not copied (`WriteAheadLog.appendBorrowed`: Ring 1 writes straight from
   * the shared arena). Without any, the group's bytes are `buf[0, length)`. With some, the group
   * is, in order: `pieces` (views of `buf` and of borrowed memory), then the open borrowed run
   * (`runBuf[runStart, runEnd)`) when there is one, else `buf[pieceMark, length)`.
   */
  pieces: Buffer[];
  /** Where in `buf` the own bytes not yet in `pieces` start. */
  pieceMark: number;
  /** Borrowed bytes in the group (in `pieces` and the open run). */
  borrowed: number;
  /** The open borrowed run (extended while records are contiguous), if any. */
  runBuf: Buffer | undefined;
  runStart: number;
  runEnd: number;
  /** Where the open batch's header is: `pieces[batchPiece]` at `batchPieceOffset` once it moved there. */
  batchPiece: number;
  batchPieceOffset: number;
}

/** Bytes in `group`, own and borrowed. */
export function groupSize(group: GroupBuffer): number {
  return group.length + group.borrowed;
}

function newGroup(capacity: number): GroupBuffer {
  return {
    buf: Buffer.allocUnsafe(capacity),
    length: 0,
    records: 0,
    lastLsn: 0,
    rotations: [],
    rebaseSeconds: -1,
    waiter: undefined,
    batchAt: -1,
    batchStart: 0,
    batchRecords: 0,
    batchFirstLsn: 0,
    batchSegment: 0,
    batchBaseSeconds: -1,
    pieces: [],
    pieceMark: 0,
    borrowed: 0,
    runBuf: undefined,
    runStart: 0,
    runEnd: 0,
    batchPiece: -1,
    batchPieceOffset: 0,
  };
}

/** What the group commit needs from the log. */
export interface GroupCommitSink {
  /** Writes the group and makes it durable (one write + one barrier, in sync-window steps). */
  writeGroup(group: GroupBuffer): Promise<void>;
  /** Told once every record ≤ `lastLsn` is durable, before that group's waiters resolve. */
  committed(lastLsn: number): void;
}

/** Options of a {@link GroupCommit} (already validated by the log). */
export interface GroupCommitOptions {
  /** Directory of the log, for error messages. */
  path: string;
  groupCommitBytes: number;
  groupCommitDelayMs: number;
  maxBufferedBytes: number;
  sink: GroupCommitSink;
  /** The log's counters (groupsCommitted, maxGroupRecords are kept here). */
  stats: WalStats;
}

/**
 * The group buffers and flush loop of one log.
 *
 * Threads: part of a `WriteAheadLog`: used from that log's thread only.
 */
export class GroupCommit {
  private readonly path: string;
  private readonly groupCommitBytes: number;
  private readonly groupCommitDelayMs: number;
  private readonly maxBufferedBytes: number;
  private readonly sink: GroupCommitSink;
  private readonly stats: WalStats;
  /** The group records are appended to. */
  active: GroupBuffer;
  private flushing: GroupBuffer;
  private flushingEndLsn = 0;
  private flushInProgress = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** The error that made the log read-only, if any. */
  failure: TidemarkError | undefined;

  constructor(options: GroupCommitOptions) {
    this.path = options.path;
    this.groupCommitBytes = options.groupCommitBytes;
    this.groupCommitDelayMs = options.groupCommitDelayMs;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.sink = options.sink;
    this.stats = options.stats;
    const capacity = Math.max(this.groupCommitBytes * 2, 64 * 1024);
    this.active = newGroup(capacity);
    this.flushing = newGroup(capacity);
  }

  /** Bytes appended and not yet written: the group being built plus the one being flushed. */
  get bufferedBytes(): number {
    return groupSize(this.active) + (this.flushInProgress ? groupSize(this.flushing) : 0);
  }

  /** True when nothing is buffered and no write is in flight. */
  get idle(): boolean {
    return !this.flushInProgress && groupSize(this.active) === 0;
  }

  /**
   * The active group, with room for a frame of `frameLength` bytes. Throws
   * `TIDEMARK_BACKPRESSURE` past `maxBufferedBytes` (an empty group always takes one record).
   */
  reserve(frameLength: number): GroupBuffer {
    const group = this.active;
    const buffered = groupSize(group) + frameLength + (this.flushInProgress ? groupSize(this.flushing) : 0);
    if (buffered > this.maxBufferedBytes && groupSize(group) > 0) {
      throw new TidemarkError(
        'TIDEMARK_BACKPRESSURE',
        `WAL has ${buffered} bytes buffered, over maxBufferedBytes ${this.maxBufferedBytes}: await sync() before appending more`,
        { path: this.path },
      );
    }
    if (group.length + frameLength > group.buf.length) this.grow(group, frameLength);
    return group;
  }

  /** Called after record `lsn` was framed into the active group. */
  appended(lsn: number): void {
    const group = this.active;
    group.lastLsn = lsn;
    if (groupSize(group) >= this.groupCommitBytes) this.startFlush();
    else if (group.records === 1) this.scheduleFlush();
  }

  /**
   * Resolves when the group holding `lsn` (appended, not yet durable) is durable. With `lead`
   * (an awaited commit) an idle log writes that group on the next turn of the event loop instead
   * of at the delay timer; while a write is in flight the group follows it at once anyway.
   */
  waitFor(lsn: number, lead: boolean): Promise<void> {
    const inFlight = this.flushInProgress && lsn <= this.flushingEndLsn;
    const group = inFlight ? this.flushing : this.active;
    group.waiter ??= deferred();
    if (lead && !this.flushInProgress) this.leadSoon();
    return group.waiter.promise;
  }

  /** Starts writing the active group now (no delay) unless a write is already in flight. */
  flushNow(): void {
    if (groupSize(this.active) > 0) this.startFlush();
  }

  /**
   * Runs `work` (a segment rotation) with the flush loop held off: records appended meanwhile
   * stay buffered until it is done. A failure of `work` is final for the log and is rethrown.
   */
  async exclusive(work: () => Promise<void>): Promise<void> {
    this.flushInProgress = true;
    try {
      await work();
    } catch (err) {
      this.fail(err);
      throw this.failure;
    } finally {
      this.flushInProgress = false;
      if (groupSize(this.active) > 0 && !this.failure) {
        if (this.active.waiter) this.leadSoon();
        else this.scheduleFlush();
      }
    }
  }

  /** Cancels the delay timer (close). */
  clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** Makes the log read-only with `err` (never retried) and rejects every waiter. */
  fail(err: unknown): void {
    const cause = err instanceof TidemarkError ? err : ioError('WAL flush', this.path, err);
    this.failure =
      cause.code === 'TIDEMARK_FENCED'
        ? new TidemarkError('TIDEMARK_FENCED', `WAL in ${this.path} is read-only: ${cause.message}`, {
            path: cause.path ?? this.path,
            cause,
          })
        : new TidemarkError(
            cause.code === 'TIDEMARK_NO_SPACE' ? 'TIDEMARK_NO_SPACE' : 'TIDEMARK_IO',
            `WAL in ${this.path} is read-only after a failed write or fdatasync (never retried): ${cause.message}`,
            { path: cause.path ?? this.path, cause },
          );
    this.clearTimers();
    for (const group of [this.flushing, this.active]) {
      const waiter = group.waiter;
      group.waiter = undefined;
      waiter?.reject(this.failure);
    }
  }

  private grow(group: GroupBuffer, frameLength: number): void {
    const need = group.length + frameLength;
    const grown = Buffer.allocUnsafe(Math.max(need, Math.min(group.buf.length * 2, this.maxBufferedBytes)));
    group.buf.copy(grown, 0, 0, group.length);
    group.buf = grown;
  }

  private scheduleFlush(): void {
    if (this.groupCommitDelayMs === 0) {
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.startFlush();
      });
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.startFlush();
      }, this.groupCommitDelayMs);
    }
  }

  /**
   * The leader's flush: on the next turn of the event loop rather than synchronously, so that
   * every commit made in this turn (the continuations of the group that just became durable,
   * concurrent callers) joins the same group instead of the first one leaving alone.
   */
  private leadSoon(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.immediate ??= setImmediate(() => {
      this.immediate = undefined;
      this.startFlush();
    });
  }

  private startFlush(): void {
    if (this.flushInProgress || this.failure) return;
    this.clearTimers();
    void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    this.flushInProgress = true;
    while (groupSize(this.active) > 0 && !this.failure) {
      const group = this.active;
      this.active = this.flushing;
      this.flushing = group;
      this.flushingEndLsn = group.lastLsn;
      try {
        if (tracing.walGroupCommit.hasSubscribers) await this.tracedWrite(group);
        else await this.sink.writeGroup(group);
        this.sink.committed(this.flushingEndLsn);
        this.stats.groupsCommitted++;
        if (group.records > this.stats.maxGroupRecords) this.stats.maxGroupRecords = group.records;
        const waiter = group.waiter;
        group.length = 0;
        group.records = 0;
        group.rotations.length = 0;
        group.rebaseSeconds = -1;
        group.batchAt = -1;
        // Drop the views (borrowed memory may be reused by its owner once this write returned).
        group.pieces.length = 0;
        group.pieceMark = 0;
        group.borrowed = 0;
        group.runBuf = undefined;
        group.waiter = undefined;
        waiter?.resolve();
      } catch (err) {
        this.fail(err);
      }
    }
    this.flushInProgress = false;
  }

  /** {@link GroupCommitSink.writeGroup} as a `tidemark:wal.group-commit` span (LSNs are consecutive in a group). */
  private tracedWrite(group: GroupBuffer): Promise<void> {
    const ctx = {
      path: this.path,
      records: group.records,
      bytes: groupSize(group),
      firstLsn: group.lastLsn - group.records + 1,
      lastLsn: group.lastLsn,
    };
    return tracing.walGroupCommit.tracePromise(this.sink.writeGroup, ctx, this.sink, group);
  }
}
