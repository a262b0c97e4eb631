/**
 * `WriteAheadLog`: a segmented, CRC32C-framed log with group commit (the seeds' `WriteAheadLog`;
 * the group commit of RocksDB's write thread and PostgreSQL's commit_delay).
 *
 * - `append()` frames the record straight into a preallocated group buffer and returns its LSN;
 *   no syscall, no promise, no allocation per record.
 * - A group is written with one write and made durable with one fdatasync (leader/follower,
 *   group-commit.ts): on an idle log as soon as someone awaits one of its records (`flushed()`,
 *   `sync()`), right after the write in flight when there is one, and otherwise when it reaches
 *   `groupCommitBytes` or `groupCommitDelayMs` after its first record. One promise per group
 *   resolves every waiter of that group.
 * - Segments rotate by size; rotation fdatasyncs the sealed segment, creates the next one and
 *   fsyncs the directory before the group is acknowledged.
 * - On open, a torn tail of the final segment is cut (then fdatasync) and appends continue at
 *   exactly that offset; damage anywhere else is `TIDEMARK_CORRUPTION`. What a repair cuts off is
 *   first kept in `<segment>.broken` (broken-copy.ts).
 * - `close()` appends a CleanShutdown record and writes the marker `CLEAN` (clean-marker.ts); a
 *   log found shorter than the marker says is `TIDEMARK_DATA_LOSS`, not a torn tail. Open removes
 *   the marker (one directory fsync per open) before anything can be appended.
 * - A failed write or fdatasync is final (PostgreSQL's fsyncgate lesson): every waiter is
 *   rejected, nothing is retried, and the log refuses further appends.
 */
import { abortedError, raceAbort, type WaitOptions, waitSignal } from '../abort.js';
import { TidemarkError } from '../errors.js';
import { CleanShutdownEncoder } from '../format/clean-shutdown.js';
import {
  BATCH_HEADER_SIZE,
  BATCH_RECORD_HEADER_SIZE,
  CLEAN_SHUTDOWN_RECORD_SIZE,
  MAX_BATCH_RECORDS_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_HEADER_SIZE,
  SEGMENT_HEADER_SIZE,
  WAL_BATCH_FORMAT_VERSION,
  WAL_FORMAT_VERSION,
} from '../format/constants.js';
import type { PayloadEncoder } from '../format/entry-codec.js';
import { writeBatchRecordHeader } from '../format/record-batch.js';
import { sealFrame } from '../format/record-frame.js';
import type { Directory, DirectoryLock } from '../io/directory.js';
import { BorrowedCopy, type BorrowedRecord } from './borrowed-record.js';
import { writeCleanMarker } from './clean-marker.js';
import { CommitClock } from './commit-clock.js';
import { type GroupBuffer, GroupCommit, groupSize } from './group-commit.js';
import { addBorrowed, closeBorrowedRun, sealOpenBatch } from './group-pieces.js';
import { segmentFileName } from './segment-name.js';
import { SegmentPreallocator } from './segment-preallocator.js';
import type { TornTail } from './segment-scanner.js';
import { type Segment, SegmentWriter } from './segment-writer.js';
import { type OpenedSegments, openSegments, type ResolvedWalOptions, resolveWalOptions } from './wal-open.js';
import type { WalOptions, WalStats } from './wal-options.js';

export type { BorrowedRecord } from './borrowed-record.js';
export type { WalOptions, WalStats } from './wal-options.js';

/**
 * The write-ahead log. Create with {@link WriteAheadLog.open}.
 *
 * Threads: not thread-safe — use an instance from the thread that opened it (in the pipeline, Ring
 * 1's worker). One writer per directory across threads and processes (its `LOCK`).
 */
export class WriteAheadLog {
  private readonly segmentSizeBytes: number;
  /** A group is flushed as soon as it holds this many bytes. */
  readonly groupCommitBytes: number;
  private readonly cleanShutdown: boolean;
  private readonly writer: SegmentWriter;
  private readonly groups: GroupCommit;
  private readonly segments: Segment[];
  private readonly borrowedCopy = new BorrowedCopy();

  private closed = false;
  /** Set when close() starts: appends are refused from then on, except close's own record. */
  private closing: Promise<void> | undefined;
  private appendingCleanRecord = false;
  private truncationGuard: ((segmentNumber: number) => boolean) | undefined;

  private nextLsn: number;
  private durable: number;
  /** Segment and byte offset just after the last durable record. */
  private durableSegment: number;
  private durableOffset: number;
  /** Bytes assigned to the newest segment, including records still buffered. */
  private assignedSegmentBytes: number;
  /** Number of the newest segment, including one that records still buffered will start. */
  private assignedSegment: number;
  /** Format version of that segment: below 3, records are framed one by one (see append). */
  private assignedVersion: number;
  /** Base time of that segment (whole seconds since the Unix epoch); undefined below version 4. */
  private assignedBaseSeconds: number | undefined;
  /** Commit times of batches and base times of segments (format version 4). */
  private readonly clock: CommitClock;
  private readonly statsCounters: WalStats = {
    recordsAppended: 0,
    bytesWritten: 0,
    syncs: 0,
    fdatasyncs: 0,
    groupsCommitted: 0,
    maxGroupRecords: 0,
    syncTotalMs: 0,
    syncMaxMs: 0,
    segmentsCreated: 0,
  };

  private constructor(
    private readonly dir: Directory,
    opened: OpenedSegments,
    private readonly lockHandle: DirectoryLock | undefined,
    options: ResolvedWalOptions,
  ) {
    this.repairedTail = opened.repaired;
    this.cleanShutdown = options.cleanShutdown;
    this.segmentSizeBytes = options.segmentSizeBytes;
    this.groupCommitBytes = options.groupCommitBytes;
    this.segments = opened.segments;
    this.writer = new SegmentWriter({
      dir,
      file: opened.file,
      segments: opened.segments,
      dsync: options.dsync,
      activeVersion: opened.activeVersion,
      stats: this.statsCounters,
      fileBytes: opened.fileBytes,
      preallocator:
        options.preallocateSegments && SegmentPreallocator.supported(dir)
          ? new SegmentPreallocator({ dir, segmentSizeBytes: options.segmentSizeBytes })
          : undefined,
    });
    this.groups = new GroupCommit({
      path: dir.path,
      groupCommitBytes: options.groupCommitBytes,
      groupCommitDelayMs: options.groupCommitDelayMs,
      maxBufferedBytes: options.maxBufferedBytes,
      stats: this.statsCounters,
      sink: {
        writeGroup: (group) => {
          sealOpenBatch(group, this.clock); // the group leaves: its last batch is complete
          return this.writer.writeGroup(group);
        },
        committed: (lastLsn) => {
          this.durable = lastLsn;
          this.durableSegment = this.writer.current.number;
          this.durableOffset = this.writer.fileSize;
        },
      },
    });
    this.nextLsn = opened.lastLsn + 1;
    this.durable = opened.lastLsn;
    const tail = opened.segments[opened.segments.length - 1]!;
    this.assignedSegmentBytes = tail.sizeBytes;
    this.assignedSegment = tail.number;
    this.assignedVersion = opened.activeVersion;
    this.assignedBaseSeconds = opened.baseSeconds;
    this.clock = new CommitClock({ now: options.clock, lastCommitTimeMs: opened.lastCommitTimeMs });
    this.durableSegment = tail.number;
    this.durableOffset = tail.sizeBytes;
  }

  /** Damage cut from the final segment when the log was opened, if any. */
  readonly repairedTail: TornTail | undefined;

  /**
   * Opens (or creates) the log in `dir`, taking the directory's writer lock.
   * Throws `TIDEMARK_LOCKED`, `TIDEMARK_CORRUPTION`, `TIDEMARK_UNSUPPORTED_VERSION`, `TIDEMARK_IO`,
   * `TIDEMARK_INVALID_ARGUMENT`, and `TIDEMARK_DATA_LOSS` when the log was closed cleanly but now
   * ends before the point its marker `CLEAN` names (nothing is cut or removed then).
   */
  static async open(dir: Directory, options: WalOptions = {}): Promise<WriteAheadLog> {
    const resolved = resolveWalOptions(options);
    const lock =
      options.lock === false ? undefined : typeof options.lock === 'object' ? options.lock : await dir.lock();
    try {
      const opened = await openSegments(dir, resolved);
      return new WriteAheadLog(dir, opened, lock, resolved);
    } catch (err) {
      await lock?.release();
      throw err;
    }
  }

  /** The directory this log lives in. */
  get directory(): Directory {
    return this.dir;
  }
  /** LSN of the newest appended record (0 or initialLsn - 1 when none). */
  get lastLsn(): number {
    return this.nextLsn - 1;
  }
  /** Every record with LSN ≤ this is on stable storage. */
  get durableLsn(): number {
    return this.durable;
  }
  /**
   * Where the record after the last durable one starts: segment number, byte offset, and that
   * record's LSN. Only this position may enter a manifest (per-core WAL checkpoints).
   */
  get durablePosition(): {
    /** Number of the segment the next record goes in. */
    segment: number;
    /** Byte offset in that segment just after the last durable record. */
    offset: number;
    /** LSN of the record after the last durable one. */
    lsn: number;
  } {
    return { segment: this.durableSegment, offset: this.durableOffset, lsn: this.durable + 1 };
  }
  /** LSN of the oldest record still in the log. */
  get firstLsn(): number {
    return this.segments[0]!.firstLsn;
  }
  /** The error that made the log read-only, if any. */
  get failed(): TidemarkError | undefined {
    return this.groups.failure;
  }
  /**
   * Makes the log read-only with `err` and rejects every waiter, as a failed fdatasync does: used
   * when the writer was fenced on its object store (`TIDEMARK_FENCED`, docs/OBJECT-STORE.md), so
   * that nothing more is acknowledged by a writer whose records no recovery will see.
   */
  failWith(err: TidemarkError): void {
    if (!this.groups.failure) this.groups.fail(err);
  }
  /** True once {@link close} has been called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Frames `encoder`'s payload into the current group and returns the record's LSN. The record
   * is durable once `flushed(lsn)` resolves. Throws `TIDEMARK_CLOSED`, the log's failure
   * (`TIDEMARK_IO` / `TIDEMARK_NO_SPACE`) once a flush has failed, `TIDEMARK_LIMIT` for records
   * over the cap, `TIDEMARK_BACKPRESSURE` past `maxBufferedBytes`.
   */
  append(encoder: PayloadEncoder): number {
    if (this.groups.failure) throw this.groups.failure;
    if (this.closed || (this.closing !== undefined && !this.appendingCleanRecord))
      throw new TidemarkError('TIDEMARK_CLOSED', `WAL in ${this.dir.path} is closed`, {
        path: this.dir.path,
      });
    const payloadLength = encoder.byteLength;
    if (payloadLength > MAX_RECORD_PAYLOAD_BYTES) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `record payload of ${payloadLength} bytes is over the cap of ${MAX_RECORD_PAYLOAD_BYTES}`,
      );
    }
    const lsn = this.nextLsn;
    if (this.assignedVersion < WAL_BATCH_FORMAT_VERSION) {
      // A log opened on a version 1 or 2 segment keeps framing records there until it rotates.
      const frameLength = RECORD_HEADER_SIZE + payloadLength;
      const group = this.groups.reserve(frameLength);
      closeBorrowedRun(group);
      if (!this.rotatesFor(frameLength)) {
        const at = group.length;
        encoder.encodeInto(group.buf, at + RECORD_HEADER_SIZE);
        sealFrame(group.buf, at, encoder.recordType, lsn, payloadLength);
        group.length = at + frameLength;
        return this.appended(group, frameLength);
      }
      this.rotateAt(group, lsn);
    }
    const recordLength = BATCH_RECORD_HEADER_SIZE + payloadLength;
    const group = this.groups.reserve(BATCH_HEADER_SIZE + recordLength);
    closeBorrowedRun(group);
    this.placeInBatch(group, { lsn, recordLength });
    const at = group.length;
    encoder.encodeInto(group.buf, at + BATCH_RECORD_HEADER_SIZE);
    writeBatchRecordHeader(group.buf, at, encoder.recordType, payloadLength);
    group.length = at + recordLength;
    group.batchRecords++;
    return this.appended(group, recordLength);
  }

  /**
   * Closes the batch being filled, so that the next record appended starts a batch (format
   * version 3) and its batch's offset is an exact point to cut the log before it: a per-core
   * log's epoch barriers, which point-in-time recovery may cut at. Changes nothing durable;
   * a no-op in a version 1 or 2 segment, where every record is its own frame.
   */
  startBatch(): void {
    sealOpenBatch(this.groups.active, this.clock);
  }

  /**
   * Appends a record already laid out as a batch stores it — `record.buf[record.start, +5)` its
   * record header (type, payload length), then the payload — without copying it: the group keeps
   * a view and the write reads it in place (a vectored write), the batch CRC32C is computed over
   * it there. Returns the record's LSN. For Ring 1, whose shared arena holds entries in exactly
   * this layout. The caller must leave those bytes unchanged until the record is durable
   * (`whenDurable` / `flushed` resolved): only then may the memory be reused. In a version 1 or 2
   * segment the record is copied into a frame instead. `record` is read during the call only (a
   * reused object is fine). Same errors as {@link append}.
   */
  appendBorrowed(record: BorrowedRecord): number {
    if (this.assignedVersion < WAL_BATCH_FORMAT_VERSION) return this.append(this.borrowedCopy.set(record));
    if (this.groups.failure) throw this.groups.failure;
    if (this.closed || this.closing !== undefined)
      throw new TidemarkError('TIDEMARK_CLOSED', `WAL in ${this.dir.path} is closed`, {
        path: this.dir.path,
      });
    const payloadLength = record.payloadLength;
    if (payloadLength > MAX_RECORD_PAYLOAD_BYTES) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `record payload of ${payloadLength} bytes is over the cap of ${MAX_RECORD_PAYLOAD_BYTES}`,
      );
    }
    const recordLength = BATCH_RECORD_HEADER_SIZE + payloadLength;
    const group = this.groups.reserve(BATCH_HEADER_SIZE + recordLength);
    const lsn = this.nextLsn;
    if (this.placeInBatch(group, { lsn, recordLength })) closeBorrowedRun(group);
    addBorrowed(group, record.buf, record.start, record.start + recordLength);
    group.batchRecords++;
    return this.appended(group, recordLength);
  }

  /**
   * Makes the open batch of `group` take a record of `recordLength` bytes (with LSN `lsn`): it
   * joins the open batch unless that would pass the batch bound (a record over the bound is a
   * batch of its own) or it starts a new segment; otherwise the open batch is sealed and a new
   * one's header is placed in the own buffer. Returns true when it placed a header.
   */
  private placeInBatch(group: GroupBuffer, next: { lsn: number; recordLength: number }): boolean {
    const { lsn, recordLength } = next;
    let joins =
      group.batchAt >= 0 &&
      groupSize(group) - this.batchStart(group) - BATCH_HEADER_SIZE + recordLength <= MAX_BATCH_RECORDS_BYTES;
    if (this.rotatesFor(recordLength + (joins ? 0 : BATCH_HEADER_SIZE))) {
      this.rotateAt(group, lsn);
      joins = false;
    } else if (!joins) this.keepCommitTimeInRange(group, lsn);
    if (joins) return false;
    sealOpenBatch(group, this.clock);
    closeBorrowedRun(group);
    group.batchAt = group.length;
    group.batchStart = groupSize(group);
    group.batchRecords = 0;
    group.batchFirstLsn = lsn;
    group.batchSegment = this.assignedSegment;
    group.batchBaseSeconds = this.assignedBaseSeconds ?? -1;
    group.length += BATCH_HEADER_SIZE;
    this.assignedSegmentBytes += BATCH_HEADER_SIZE;
    return true;
  }

  /** Logical offset (own and borrowed bytes) in `group` of its open batch's header. */
  private batchStart(group: GroupBuffer): number {
    return group.batchStart;
  }

  /** Whether `bytes` more would pass the segment size (a segment holding nothing yet takes anything). */
  private rotatesFor(bytes: number): boolean {
    return (
      this.assignedSegmentBytes + bytes > this.segmentSizeBytes &&
      this.assignedSegmentBytes > SEGMENT_HEADER_SIZE
    );
  }

  /**
   * Before a new batch opens in the assigned segment: when that segment's base time is so old
   * that the batch's commit time might not fit its field (about 49.7 days), records from `lsn` go
   * to a new segment — or, when the segment holds nothing yet, it gets a new base time (its
   * header is rewritten before the group's write). Otherwise nothing.
   */
  private keepCommitTimeInRange(group: GroupBuffer, lsn: number): void {
    const base = this.assignedBaseSeconds;
    if (base === undefined || !this.clock.segmentTooOld(base)) return;
    if (this.assignedSegmentBytes > SEGMENT_HEADER_SIZE) {
      this.rotateAt(group, lsn);
      return;
    }
    const rebased = this.clock.segmentBase();
    const pending = group.rotations[group.rotations.length - 1];
    // A segment this group starts has no header yet: it simply takes the new base.
    if (pending !== undefined) pending.baseSeconds = rebased;
    else group.rebaseSeconds = rebased;
    this.assignedBaseSeconds = rebased;
  }

  /** Records in `group` from here on go to the next segment (a version 4 one), starting at `lsn`. */
  private rotateAt(group: GroupBuffer, lsn: number): void {
    sealOpenBatch(group, this.clock);
    closeBorrowedRun(group);
    const baseSeconds = this.clock.segmentBase();
    group.rotations.push({ offset: groupSize(group), firstLsn: lsn, baseSeconds });
    this.assignedSegmentBytes = SEGMENT_HEADER_SIZE;
    this.assignedSegment++;
    this.assignedVersion = WAL_FORMAT_VERSION;
    this.assignedBaseSeconds = baseSeconds;
  }

  /** Bookkeeping after a record of `bytes` was placed in `group`; returns its LSN. */
  private appended(group: GroupBuffer, bytes: number): number {
    const lsn = this.nextLsn;
    group.records++;
    this.assignedSegmentBytes += bytes;
    this.nextLsn = lsn + 1;
    this.statsCounters.recordsAppended++;
    this.groups.appended(lsn);
    return lsn;
  }

  /**
   * Resolves once every record with LSN ≤ `lsn` is durable: an awaited commit. On an idle log
   * (no write in flight) its group is written and synced on the next turn of the event loop,
   * without waiting for `groupCommitDelayMs`; while a write is in flight it joins the next group,
   * written as soon as that write is durable. Rejects with the log's failure (`TIDEMARK_IO` /
   * `TIDEMARK_NO_SPACE`), or `TIDEMARK_INVALID_ARGUMENT` for an LSN never appended or one that is
   * not a non-negative safe integer (`undefined`, NaN, -1, 1.5), without touching any other waiter.
   * With `options.signal`, an abort rejects this wait alone with `TIDEMARK_ABORTED` (`cause`: the
   * signal's reason); the group is still written and synced, and its other waiters are untouched.
   */
  flushed(lsn: number, options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = waitSignal('flushed(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal === undefined) return this.waitDurable('flushed', lsn, true);
    if (signal.aborted) {
      // Validation errors first, as without a signal; nothing is hurried for a wait given up.
      const refused = this.refuseWait('flushed', lsn);
      return Promise.reject(refused ?? abortedError('flushed', signal));
    }
    return raceAbort('flushed', this.waitDurable('flushed', lsn, true), signal);
  }

  /**
   * Like {@link flushed}, but only watches: the record's group is not hurried, it leaves by size
   * (`groupCommitBytes`), by the `groupCommitDelayMs` timer, or because someone awaits it with
   * `flushed()` / `sync()`. For bookkeeping that must not turn every append into a sync (Ring 1
   * publishing its durable watermark). Same errors as {@link flushed}.
   */
  whenDurable(lsn: number): Promise<void> {
    return this.waitDurable('whenDurable', lsn, false);
  }

  private waitDurable(name: string, lsn: number, lead: boolean): Promise<void> {
    const refused = this.refuseWait(name, lsn);
    if (refused) return Promise.reject(refused);
    if (lsn <= this.durable) return Promise.resolve();
    return this.groups.waitFor(lsn, lead);
  }

  /** Why a wait for `lsn` must be refused (a bad or future LSN, a failed log), if it must. */
  private refuseWait(name: string, lsn: number): TidemarkError | undefined {
    // Validated first: a NaN compares false with everything and would park a waiter on a group
    // that may never be flushed.
    if (!Number.isSafeInteger(lsn) || lsn < 0) {
      return new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${name}(lsn): lsn must be a non-negative safe integer, got ${String(lsn)}`,
      );
    }
    if (lsn <= this.durable) return undefined;
    if (this.groups.failure) return this.groups.failure;
    if (lsn >= this.nextLsn) {
      return new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${name}(${lsn}): no record past LSN ${this.nextLsn - 1} was appended`,
      );
    }
    return undefined;
  }

  /**
   * Flushes everything appended so far now (no delay) and resolves when it is durable.
   * `options.signal` as in {@link flushed}: an abort stops the wait, never the flush.
   */
  sync(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = waitSignal('sync(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    const lsn = this.nextLsn - 1;
    if (lsn <= this.durable)
      return this.groups.failure ? Promise.reject(this.groups.failure) : Promise.resolve();
    const p = this.waitDurable('flushed', lsn, true);
    this.groups.flushNow();
    return raceAbort('sync', p, signal);
  }

  /** Bytes appended and not yet written: the group being built plus the one being flushed. */
  get bufferedBytes(): number {
    return this.groups.bufferedBytes;
  }

  /** Bytes the log occupies: every segment file plus records still buffered. */
  walSize(): number {
    let total = 0;
    for (const s of this.segments) total += s.sizeBytes;
    return total + this.groups.bufferedBytes;
  }

  /** Counters since open. */
  stats(): WalStats {
    return { ...this.statsCounters };
  }

  /** Segment numbers and first LSNs, oldest first (for inspection and tests). */
  segmentList(): readonly {
    /** The segment number. */
    number: number;
    /** LSN of the segment's first record. */
    firstLsn: number;
    /** Size of the segment file (bytes). */
    sizeBytes: number;
  }[] {
    return this.segments.map((s) => ({ ...s }));
  }

  /**
   * Deletes the segments whose records all have LSN < `lsn` (never the segment being appended
   * to), then fsyncs the directory. Resolves the number of segments deleted. Only call this once
   * whatever covers those records (a checkpoint) is durable: see `CheckpointPublisher`.
   */
  async truncatePrefix(lsn: number): Promise<number> {
    if (this.groups.failure) throw this.groups.failure;
    let count = 0;
    while (
      count < this.segments.length - 1 &&
      this.segments[count + 1]!.firstLsn <= lsn &&
      (this.truncationGuard === undefined || this.truncationGuard(this.segments[count]!.number))
    )
      count++;
    if (count === 0) return 0;
    const doomed = this.segments.slice(0, count).map((s) => segmentFileName(s.number));
    await this.dir.remove(doomed);
    this.segments.splice(0, count);
    return count;
  }

  /**
   * Installs a guard `truncatePrefix` asks before deleting each segment (oldest first); deletion
   * stops at the first segment it refuses. WAL archiving uses it so that no segment leaves the
   * disk before it is in the archive. Replaces any earlier guard; `undefined` removes it.
   */
  setTruncationGuard(guard: ((segmentNumber: number) => boolean) | undefined): void {
    this.truncationGuard = guard;
  }

  /**
   * Seals the segment being appended to — makes everything durable, then starts the next segment
   * at the next LSN — so that it never changes again (WAL archiving ships only sealed segments).
   * Resolves false, doing nothing, when that segment holds no record yet. Rejects with the log's
   * failure (`TIDEMARK_IO`, `TIDEMARK_NO_SPACE`) or `TIDEMARK_CLOSED`.
   */
  async sealActiveSegment(): Promise<boolean> {
    for (;;) {
      if (this.closed)
        throw new TidemarkError('TIDEMARK_CLOSED', `WAL in ${this.dir.path} is closed`, {
          path: this.dir.path,
        });
      await this.sync();
      if (this.groups.failure) throw this.groups.failure;
      if (this.groups.idle) break;
    }
    if (this.writer.fileSize <= SEGMENT_HEADER_SIZE) return false;
    // Holding the flush loop off keeps appends made meanwhile buffered until the new segment exists.
    const firstLsn = this.nextLsn;
    this.assignedSegmentBytes = SEGMENT_HEADER_SIZE; // appends from here on go to the new segment
    this.assignedSegment++;
    this.assignedVersion = WAL_FORMAT_VERSION;
    const baseSeconds = this.clock.segmentBase();
    this.assignedBaseSeconds = baseSeconds;
    await this.groups.exclusive(() => this.writer.rotate(firstLsn, baseSeconds));
    return true;
  }

  /**
   * Flushes and syncs what is buffered, marks the log as cleanly closed (unless the option
   * `cleanShutdown` is false: a CleanShutdown record, made durable, then the marker file `CLEAN`,
   * written atomically), then closes the file and releases the lock. A log that failed earlier
   * is closed all the same, unmarked, and then rejects with that failure (`TIDEMARK_IO`,
   * `TIDEMARK_NO_SPACE`): an I/O error is never swallowed.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  /** `await using wal = await WriteAheadLog.open(…)`: {@link close} when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async closeOnce(): Promise<void> {
    let err: unknown = this.groups.failure;
    if (!this.groups.failure) {
      try {
        await this.sync();
        if (this.cleanShutdown) await this.markClean();
      } catch (e) {
        err = e;
      }
    }
    this.closed = true;
    this.groups.clearTimers();
    await this.writer.close();
    await this.lockHandle?.release();
    if (err) throw err;
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────

  /**
   * The clean-shutdown record, then the marker. A crash before the marker is durable leaves an
   * unmarked log (treated as a crash: a torn tail may be cut); the marker never names a point the
   * log does not durably reach.
   */
  private async markClean(): Promise<void> {
    if (this.writer.activeVersion >= 2) {
      // Everything is synced, so the record starts a new frame or batch (whose offset it names).
      const frameLength =
        this.assignedVersion < WAL_BATCH_FORMAT_VERSION
          ? RECORD_HEADER_SIZE + CLEAN_SHUTDOWN_RECORD_SIZE
          : BATCH_HEADER_SIZE + BATCH_RECORD_HEADER_SIZE + CLEAN_SHUTDOWN_RECORD_SIZE;
      // The same rotation rules as append(): the record may start the next segment — by size,
      // or (decided here, once, so the record names the right place) by its segment's age.
      if (!this.rotatesFor(frameLength)) this.keepCommitTimeInRange(this.groups.active, this.nextLsn);
      const rotates = this.rotatesFor(frameLength);
      this.appendingCleanRecord = true;
      try {
        this.append(
          new CleanShutdownEncoder(
            this.lastLsn,
            rotates ? this.assignedSegment + 1 : this.assignedSegment,
            rotates ? SEGMENT_HEADER_SIZE : this.assignedSegmentBytes,
          ),
        );
      } finally {
        this.appendingCleanRecord = false;
      }
      await this.sync();
    }
    const tail = this.segments[this.segments.length - 1]!;
    await writeCleanMarker(this.dir, {
      segment: tail.number,
      lsn: this.lastLsn,
      endOffset: this.writer.fileSize,
    });
  }
}
