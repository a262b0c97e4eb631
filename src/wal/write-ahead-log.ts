/**
 * `WriteAheadLog`: a segmented, CRC32C-framed log with group commit (the seeds' `WriteAheadLog`;
 * the group commit of RocksDB's write thread and PostgreSQL's commit_delay).
 *
 * - `append()` frames the record straight into a preallocated group buffer and returns its LSN;
 *   no syscall, no promise, no allocation per record.
 * - A group is written with one write and made durable with one fdatasync when it reaches
 *   `groupCommitBytes`, when `groupCommitDelayMs` has passed since its first record, or when
 *   someone calls `sync()`. One promise per group resolves every waiter of that group.
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
import { corruption, ioError, TidemarkError } from '../errors.js';
import { CleanShutdownEncoder } from '../format/clean-shutdown.js';
import {
  CLEAN_MARKER_FILE_NAME as CLEAN_MARKER_NAME,
  CLEAN_SHUTDOWN_RECORD_SIZE,
  MAX_RECORD_PAYLOAD_BYTES,
  MAX_SEGMENT_FILE_BYTES,
  MAX_SEGMENT_SIZE_BYTES,
  RECORD_HEADER_SIZE,
  SEGMENT_HEADER_SIZE,
  WAL_FORMAT_VERSION,
  WAL_SYNC_WINDOW_BYTES,
} from '../format/constants.js';
import type { PayloadEncoder } from '../format/entry-codec.js';
import { sealFrame } from '../format/record-frame.js';
import { encodeSegmentHeader } from '../format/segment-header.js';
import type { Directory, DirectoryFile, DirectoryLock } from '../io/directory.js';
import { saveBrokenCopy } from './broken-copy.js';
import {
  cleanShutdownHeaderLoss,
  cleanShutdownShortfall,
  readCleanMarker,
  removeCleanMarker,
  writeCleanMarker,
} from './clean-marker.js';
import { listSegments, readSegmentHead } from './segment-files.js';
import { segmentFileName } from './segment-name.js';
import { headerError, isTornSegmentHeader, scanSegment, type TornTail } from './segment-scanner.js';

/** Options of {@link WriteAheadLog.open}. Sizes in bytes, delays in milliseconds. */
export interface WalOptions {
  /** A segment is sealed once the next record would take it past this size. Default 64 MiB. */
  segmentSizeBytes?: number;
  /** A group is flushed as soon as it holds this many bytes. Default 512 KiB (measured: 64 KiB–1 MiB is the sweet spot on NVMe; `npm run bench`). */
  groupCommitBytes?: number;
  /** Longest time a record waits before its group is flushed. Default 2 ms; 0 flushes on the next turn of the event loop. */
  groupCommitDelayMs?: number;
  /** Cap on bytes buffered while a flush is in flight; past it `append` throws `TIDEMARK_BACKPRESSURE`. Default 64 MiB. */
  maxBufferedBytes?: number;
  /** LSN of the first record when the directory holds no segment yet. Default 1. */
  initialLsn?: number;
  /**
   * How a group is made durable (PostgreSQL's `wal_sync_method`): `'o_dsync'` opens segments
   * with O_DSYNC so the group's single write is its own durability barrier (one thread-pool hop
   * per group); `'fdatasync'` writes, then calls fdatasync (two hops). Default `'o_dsync'`,
   * chosen by `npm run bench` (docs/ARCHITECTURE.md).
   */
  syncMethod?: 'o_dsync' | 'fdatasync';
  /**
   * The data directory's writer lock (see `Directory.lock`): `true` (default) takes it; `false`
   * when the caller (or, for a worker thread, the thread that started it) holds it for this
   * log's whole life; a held `DirectoryLock` is handed to the log, which releases it on close.
   */
  lock?: boolean | DirectoryLock;
  /**
   * What open does with a damaged end of the final segment: `'tolerate-torn-tail'` (default)
   * cuts a torn write; `'absolute-consistency'` refuses it with `TIDEMARK_CORRUPTION`. (The
   * other modes of `WalRecoveryMode` are applied by `RecoveryManager` before the log opens.)
   */
  recoveryMode?: 'tolerate-torn-tail' | 'absolute-consistency';
  /**
   * Whether `close()` marks the log as cleanly closed: a CleanShutdown record (in segments of
   * format version 2) and the marker file `CLEAN`. Default true. The per-core WAL turns it off
   * (its LSNs are entry sequences, so it takes no record it did not write). Opening checks and
   * removes an existing marker either way.
   */
  cleanShutdown?: boolean;
}

/** Counters of a WAL since open. */
export interface WalStats {
  /** Records appended. */
  recordsAppended: number;
  /** Bytes written to segment files (frames and headers). */
  bytesWritten: number;
  /** Durability barriers: O_DSYNC group writes plus explicit fdatasync calls. */
  syncs: number;
  /** Explicit fdatasync calls on segment files. */
  fdatasyncs: number;
  /** Groups committed. */
  groupsCommitted: number;
  /** Largest group, in records. */
  maxGroupRecords: number;
  /** Total time spent in durability barriers (fdatasync, or O_DSYNC writes), in milliseconds. */
  syncTotalMs: number;
  /** Slowest durability barrier, in milliseconds. */
  syncMaxMs: number;
  /** Segments created. */
  segmentsCreated: number;
}

interface Segment {
  number: number;
  firstLsn: number;
  sizeBytes: number;
}

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
interface GroupBuffer {
  buf: Buffer;
  length: number;
  records: number;
  /** Buffer offsets at which a new segment begins, with that segment's first LSN. */
  rotations: { offset: number; firstLsn: number }[];
  waiter: Deferred | undefined;
}

function newGroup(capacity: number): GroupBuffer {
  return { buf: Buffer.allocUnsafe(capacity), length: 0, records: 0, rotations: [], waiter: undefined };
}

function positiveInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${name} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

/** The write-ahead log. Create with {@link WriteAheadLog.open}. */
export class WriteAheadLog {
  private readonly segmentSizeBytes: number;
  /** A group is flushed as soon as it holds this many bytes. */
  readonly groupCommitBytes: number;
  private readonly groupCommitDelayMs: number;
  private readonly maxBufferedBytes: number;
  private readonly dsync: boolean;
  private readonly cleanShutdown: boolean;

  private active: GroupBuffer;
  private flushing: GroupBuffer;
  private flushingEndLsn = 0;
  private flushInProgress = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private failure: TidemarkError | undefined;
  private closed = false;
  /** Set when close() starts: appends are refused from then on, except close's own record. */
  private closing: Promise<void> | undefined;
  private appendingCleanRecord = false;
  private truncationGuard: ((segmentNumber: number) => boolean) | undefined;
  /** Bytes written to the current segment since its last fdatasync (always ≤ WAL_SYNC_WINDOW_BYTES). */
  private unsyncedBytes = 0;
  /** Format version of the segment being appended to (a version 1 segment takes no CleanShutdown record). */
  private activeVersion: number;

  private nextLsn: number;
  private durable: number;
  /** Segment and byte offset just after the last durable record. */
  private durableSegment: number;
  private durableOffset: number;
  /** Bytes assigned to the newest segment, including records still buffered. */
  private assignedSegmentBytes: number;
  /** Size on disk of the file being appended to. */
  private fileSize: number;
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
    private file: DirectoryFile,
    private readonly segments: Segment[],
    lastLsn: number,
    private readonly lockHandle: DirectoryLock | undefined,
    /** Damage cut from the final segment when the log was opened, if any. */
    readonly repairedTail: TornTail | undefined,
    options: Required<
      Pick<
        WalOptions,
        'segmentSizeBytes' | 'groupCommitBytes' | 'groupCommitDelayMs' | 'maxBufferedBytes' | 'cleanShutdown'
      >
    > & { dsync: boolean; activeVersion: number },
  ) {
    this.cleanShutdown = options.cleanShutdown;
    this.activeVersion = options.activeVersion;
    this.segmentSizeBytes = options.segmentSizeBytes;
    this.groupCommitBytes = options.groupCommitBytes;
    this.groupCommitDelayMs = options.groupCommitDelayMs;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.dsync = options.dsync;
    const capacity = Math.max(this.groupCommitBytes * 2, 64 * 1024);
    this.active = newGroup(capacity);
    this.flushing = newGroup(capacity);
    this.nextLsn = lastLsn + 1;
    this.durable = lastLsn;
    const tail = segments[segments.length - 1]!;
    this.assignedSegmentBytes = tail.sizeBytes;
    this.fileSize = tail.sizeBytes;
    this.durableSegment = tail.number;
    this.durableOffset = tail.sizeBytes;
  }

  /**
   * Opens (or creates) the log in `dir`, taking the directory's writer lock.
   * Throws `TIDEMARK_LOCKED`, `TIDEMARK_CORRUPTION`, `TIDEMARK_UNSUPPORTED_VERSION`, `TIDEMARK_IO`,
   * `TIDEMARK_INVALID_ARGUMENT`, and `TIDEMARK_DATA_LOSS` when the log was closed cleanly but now
   * ends before the point its marker `CLEAN` names (nothing is cut or removed then).
   */
  static async open(dir: Directory, options: WalOptions = {}): Promise<WriteAheadLog> {
    const segmentSizeBytes = positiveInt(
      'segmentSizeBytes',
      options.segmentSizeBytes ?? 64 * 1024 * 1024,
      4096,
      MAX_SEGMENT_SIZE_BYTES,
    );
    const groupCommitBytes = positiveInt(
      'groupCommitBytes',
      options.groupCommitBytes ?? Math.min(512 * 1024, segmentSizeBytes),
      1,
      segmentSizeBytes,
    );
    const groupCommitDelayMs = positiveInt('groupCommitDelayMs', options.groupCommitDelayMs ?? 2, 0, 60_000);
    const maxBufferedBytes = positiveInt(
      'maxBufferedBytes',
      options.maxBufferedBytes ?? 64 * 1024 * 1024,
      groupCommitBytes,
      2 ** 31 - 1,
    );
    const initialLsn = positiveInt('initialLsn', options.initialLsn ?? 1, 1, Number.MAX_SAFE_INTEGER);
    const syncMethod = options.syncMethod ?? 'o_dsync';
    if (syncMethod !== 'o_dsync' && syncMethod !== 'fdatasync') {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `syncMethod must be 'o_dsync' or 'fdatasync', got ${syncMethod}`,
      );
    }
    const dsync = syncMethod === 'o_dsync';
    const cleanShutdown = options.cleanShutdown ?? true;
    if (typeof cleanShutdown !== 'boolean')
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `cleanShutdown must be a boolean, got ${cleanShutdown}`,
      );
    const lock =
      options.lock === false ? undefined : typeof options.lock === 'object' ? options.lock : await dir.lock();
    try {
      // Checked before anything is repaired: a cleanly closed log that is now short is refused whole.
      const marker = await readCleanMarker(dir);
      const markerPath = `${dir.path}/${CLEAN_MARKER_NAME}`;
      const numbers = await listSegments(dir);
      if (marker && numbers.length === 0)
        throw cleanShutdownShortfall(
          marker,
          { segment: undefined, path: dir.path, lastLsn: 0, endOffset: 0 },
          markerPath,
        );
      let repaired: TornTail | undefined;
      // A final segment whose header never became durable (crash during rotation) holds nothing
      // acknowledged: drop it. If it was the only one, a fresh segment of that number replaces it.
      // The final segment is read once; its image is kept for the scan below.
      let replaceNumber: number | undefined;
      let finalImage: Buffer | undefined;
      while (numbers.length > 0) {
        const number = numbers[numbers.length - 1]!;
        const name = segmentFileName(number);
        const buf = Buffer.from(await dir.readFile(name, MAX_SEGMENT_FILE_BYTES));
        if (!isTornSegmentHeader(buf, undefined)) {
          finalImage = buf;
          break;
        }
        // The marker was written after its segment's header was durable: that header cannot be torn.
        if (marker && marker.segment >= number)
          throw cleanShutdownHeaderLoss(marker, `${dir.path}/${name}`, markerPath);
        if (options.recoveryMode === 'absolute-consistency')
          throw corruption(
            `${dir.path}/${name}`,
            0,
            'segment header never became durable (absolute-consistency refuses a torn tail)',
          );
        repaired = {
          path: `${dir.path}/${name}`,
          offset: 0,
          bytesDropped: buf.length,
          reason: 'segment header never became durable',
        };
        if (buf.length > 0) await saveBrokenCopy(dir, name, buf);
        await dir.remove([name]);
        numbers.pop();
        if (numbers.length === 0) replaceNumber = number;
      }
      const segments: Segment[] = [];
      for (let i = 0; i < numbers.length - 1; i++) {
        const head = await readSegmentHead(dir, numbers[i]!);
        if (typeof head.header === 'string') throw headerError(head.path, head.header);
        segments.push({ number: head.number, firstLsn: head.header.firstLsn, sizeBytes: head.sizeBytes });
      }
      let file: DirectoryFile;
      let lastLsn: number;
      let activeVersion = WAL_FORMAT_VERSION;
      if (finalImage === undefined) {
        // Every segment is gone or never had a durable header: a marker says records were there.
        if (marker)
          throw cleanShutdownShortfall(
            marker,
            { segment: undefined, path: dir.path, lastLsn: 0, endOffset: 0 },
            markerPath,
          )!;
        const number = replaceNumber ?? 1;
        const created = await createSegment(dir, number, initialLsn, dsync);
        file = created.file;
        segments.push({ number, firstLsn: initialLsn, sizeBytes: SEGMENT_HEADER_SIZE });
        lastLsn = initialLsn - 1;
      } else {
        const number = numbers[numbers.length - 1]!;
        const name = segmentFileName(number);
        const path = `${dir.path}/${name}`;
        const scan = scanSegment(finalImage, {
          path,
          segmentNumber: number,
          final: true,
          mode: options.recoveryMode ?? 'tolerate-torn-tail',
        });
        const prev = segments[segments.length - 1];
        if (prev && scan.header.firstLsn <= prev.firstLsn) {
          throw corruption(
            path,
            0,
            `segment starts at LSN ${scan.header.firstLsn}, not after segment ${prev.number}`,
          );
        }
        if (marker) {
          const short = cleanShutdownShortfall(
            marker,
            { segment: number, path, lastLsn: scan.lastLsn, endOffset: scan.validEnd },
            markerPath,
          );
          if (short) throw short;
          // From here on the log may change: the marker must be gone (durably) before it does.
          await removeCleanMarker(dir);
        }
        activeVersion = scan.header.version;
        if (scan.tornTail) await saveBrokenCopy(dir, name, finalImage.subarray(scan.validEnd));
        file = await dir.open(name, 'write', { dsync });
        if (scan.tornTail) {
          repaired = scan.tornTail;
          try {
            await file.truncate(scan.validEnd);
            await file.datasync();
          } catch (err) {
            await file.close();
            throw err;
          }
        }
        segments.push({ number, firstLsn: scan.header.firstLsn, sizeBytes: scan.validEnd });
        lastLsn = scan.lastLsn;
      }
      return new WriteAheadLog(dir, file, segments, lastLsn, lock, repaired, {
        segmentSizeBytes,
        groupCommitBytes,
        groupCommitDelayMs,
        maxBufferedBytes,
        dsync,
        cleanShutdown,
        activeVersion,
      });
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
  get durablePosition(): { segment: number; offset: number; lsn: number } {
    return { segment: this.durableSegment, offset: this.durableOffset, lsn: this.durable + 1 };
  }
  /** LSN of the oldest record still in the log. */
  get firstLsn(): number {
    return this.segments[0]!.firstLsn;
  }
  /** The error that made the log read-only, if any. */
  get failed(): TidemarkError | undefined {
    return this.failure;
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
    if (this.failure) throw this.failure;
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
    const frameLength = RECORD_HEADER_SIZE + payloadLength;
    const group = this.active;
    const buffered = group.length + frameLength + (this.flushInProgress ? this.flushing.length : 0);
    if (buffered > this.maxBufferedBytes && group.length > 0) {
      throw new TidemarkError(
        'TIDEMARK_BACKPRESSURE',
        `WAL has ${buffered} bytes buffered, over maxBufferedBytes ${this.maxBufferedBytes}: await sync() before appending more`,
        { path: this.dir.path },
      );
    }
    if (group.length + frameLength > group.buf.length) this.grow(group, frameLength);
    const lsn = this.nextLsn;
    if (
      this.assignedSegmentBytes + frameLength > this.segmentSizeBytes &&
      this.assignedSegmentBytes > SEGMENT_HEADER_SIZE
    ) {
      group.rotations.push({ offset: group.length, firstLsn: lsn });
      this.assignedSegmentBytes = SEGMENT_HEADER_SIZE;
    }
    const at = group.length;
    encoder.encodeInto(group.buf, at + RECORD_HEADER_SIZE);
    sealFrame(group.buf, at, encoder.recordType, lsn, payloadLength);
    group.length = at + frameLength;
    group.records++;
    this.assignedSegmentBytes += frameLength;
    this.nextLsn = lsn + 1;
    this.statsCounters.recordsAppended++;
    if (group.length >= this.groupCommitBytes) this.startFlush();
    else if (group.records === 1) this.scheduleFlush();
    return lsn;
  }

  /**
   * Resolves once every record with LSN ≤ `lsn` is durable. Rejects with the log's failure
   * (`TIDEMARK_IO` / `TIDEMARK_NO_SPACE`), or `TIDEMARK_INVALID_ARGUMENT` for an LSN never
   * appended or one that is not a non-negative safe integer (`undefined`, NaN, -1, 1.5), without
   * touching any other waiter.
   */
  flushed(lsn: number): Promise<void> {
    // Validated first: a NaN compares false with everything and would park a waiter on a group
    // that may never be flushed.
    if (!Number.isSafeInteger(lsn) || lsn < 0) {
      return Promise.reject(
        new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `flushed(lsn): lsn must be a non-negative safe integer, got ${String(lsn)}`,
        ),
      );
    }
    if (lsn <= this.durable) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    if (lsn >= this.nextLsn) {
      return Promise.reject(
        new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `flushed(${lsn}): no record past LSN ${this.nextLsn - 1} was appended`,
        ),
      );
    }
    const group = this.flushInProgress && lsn <= this.flushingEndLsn ? this.flushing : this.active;
    group.waiter ??= deferred();
    return group.waiter.promise;
  }

  /** Flushes everything appended so far now (no delay) and resolves when it is durable. */
  sync(): Promise<void> {
    const lsn = this.nextLsn - 1;
    if (lsn <= this.durable) return this.failure ? Promise.reject(this.failure) : Promise.resolve();
    const p = this.flushed(lsn);
    if (this.active.length > 0) this.startFlush();
    return p;
  }

  /** Bytes appended and not yet written: the group being built plus the one being flushed. */
  get bufferedBytes(): number {
    return this.active.length + (this.flushInProgress ? this.flushing.length : 0);
  }

  /** Bytes the log occupies: every segment file plus records still buffered. */
  walSize(): number {
    let total = 0;
    for (const s of this.segments) total += s.sizeBytes;
    return total + this.active.length + (this.flushInProgress ? this.flushing.length : 0);
  }

  /** Counters since open. */
  stats(): WalStats {
    return { ...this.statsCounters };
  }

  /** Segment numbers and first LSNs, oldest first (for inspection and tests). */
  segmentList(): readonly { number: number; firstLsn: number; sizeBytes: number }[] {
    return this.segments.map((s) => ({ ...s }));
  }

  /**
   * Deletes the segments whose records all have LSN < `lsn` (never the segment being appended
   * to), then fsyncs the directory. Resolves the number of segments deleted. Only call this once
   * whatever covers those records (a checkpoint) is durable: see `CheckpointPublisher`.
   */
  async truncatePrefix(lsn: number): Promise<number> {
    if (this.failure) throw this.failure;
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
      if (this.failure) throw this.failure;
      if (!this.flushInProgress && this.active.length === 0) break;
    }
    if (this.fileSize <= SEGMENT_HEADER_SIZE) return false;
    // Holding the flush flag keeps appends made meanwhile buffered until the new segment exists.
    this.flushInProgress = true;
    this.assignedSegmentBytes = SEGMENT_HEADER_SIZE; // appends from here on go to the new segment
    try {
      await this.rotate(this.nextLsn);
    } catch (err) {
      this.fail(err);
      throw this.failure;
    } finally {
      this.flushInProgress = false;
      if (this.active.length > 0 && !this.failure) this.scheduleFlush();
    }
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

  private async closeOnce(): Promise<void> {
    let err: unknown = this.failure;
    if (!this.failure) {
      try {
        await this.sync();
        if (this.cleanShutdown) await this.markClean();
      } catch (e) {
        err = e;
      }
    }
    this.closed = true;
    this.clearTimers();
    await this.file.close().catch(() => {});
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
    if (this.activeVersion >= 2) {
      const frameLength = RECORD_HEADER_SIZE + CLEAN_SHUTDOWN_RECORD_SIZE;
      const current = this.segments[this.segments.length - 1]!;
      // The same rotation rule as append(): the record may start the next segment.
      const rotates =
        this.assignedSegmentBytes + frameLength > this.segmentSizeBytes &&
        this.assignedSegmentBytes > SEGMENT_HEADER_SIZE;
      this.appendingCleanRecord = true;
      try {
        this.append(
          new CleanShutdownEncoder(
            this.lastLsn,
            rotates ? current.number + 1 : current.number,
            rotates ? SEGMENT_HEADER_SIZE : this.assignedSegmentBytes,
          ),
        );
      } finally {
        this.appendingCleanRecord = false;
      }
      await this.sync();
    }
    const tail = this.segments[this.segments.length - 1]!;
    await writeCleanMarker(this.dir, { segment: tail.number, lsn: this.lastLsn, endOffset: this.fileSize });
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

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private startFlush(): void {
    if (this.flushInProgress || this.failure) return;
    this.clearTimers();
    void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    this.flushInProgress = true;
    while (this.active.length > 0 && !this.failure) {
      const group = this.active;
      this.active = this.flushing;
      this.flushing = group;
      this.flushingEndLsn = this.nextLsn - 1;
      try {
        await this.writeGroup(group);
        this.durable = this.flushingEndLsn;
        this.durableSegment = this.segments[this.segments.length - 1]!.number;
        this.durableOffset = this.fileSize;
        this.statsCounters.groupsCommitted++;
        if (group.records > this.statsCounters.maxGroupRecords)
          this.statsCounters.maxGroupRecords = group.records;
        const waiter = group.waiter;
        group.length = 0;
        group.records = 0;
        group.rotations.length = 0;
        group.waiter = undefined;
        waiter?.resolve();
      } catch (err) {
        this.fail(err);
      }
    }
    this.flushInProgress = false;
    // Records appended while the last write was in flight and a timer was never armed for them.
    if (this.active.length > 0 && !this.failure) this.scheduleFlush();
  }

  private async writeGroup(group: GroupBuffer): Promise<void> {
    let pos = 0;
    for (const rotation of group.rotations) {
      if (rotation.offset > pos) await this.writeAt(group.buf, pos, rotation.offset - pos);
      await this.rotate(rotation.firstLsn);
      pos = rotation.offset;
    }
    if (group.length > pos) await this.writeAt(group.buf, pos, group.length - pos);
    if (!this.file.dsync) await this.datasync();
  }

  /**
   * Writes at the end of the current segment, never leaving more than `WAL_SYNC_WINDOW_BYTES`
   * written and unsynced (a large group is made durable in steps), so a crash can tear only the
   * last window — which is how the reader tells a torn write from corruption.
   */
  private async writeAt(buf: Buffer, offset: number, length: number): Promise<void> {
    while (length > 0) {
      if (!this.file.dsync && this.unsyncedBytes >= WAL_SYNC_WINDOW_BYTES) await this.datasync();
      const n = Math.min(length, WAL_SYNC_WINDOW_BYTES - (this.file.dsync ? 0 : this.unsyncedBytes));
      const t0 = performance.now();
      await this.file.write(buf, offset, n, this.fileSize);
      if (this.file.dsync) this.countSync(performance.now() - t0);
      else this.unsyncedBytes += n;
      this.fileSize += n;
      this.segments[this.segments.length - 1]!.sizeBytes = this.fileSize;
      this.statsCounters.bytesWritten += n;
      offset += n;
      length -= n;
    }
  }

  private async datasync(): Promise<void> {
    const t0 = performance.now();
    this.unsyncedBytes = 0;
    await this.file.datasync();
    this.statsCounters.fdatasyncs++;
    this.countSync(performance.now() - t0);
  }

  private countSync(ms: number): void {
    this.statsCounters.syncs++;
    this.statsCounters.syncTotalMs += ms;
    if (ms > this.statsCounters.syncMaxMs) this.statsCounters.syncMaxMs = ms;
  }

  /** Seals the current segment (fdatasync, unless its writes were O_DSYNC) and starts the next one at `firstLsn`. */
  private async rotate(firstLsn: number): Promise<void> {
    if (!this.file.dsync) await this.datasync();
    await this.file.close();
    const number = this.segments[this.segments.length - 1]!.number + 1;
    const created = await createSegment(this.dir, number, firstLsn, this.dsync);
    this.file = created.file;
    this.fileSize = SEGMENT_HEADER_SIZE;
    this.activeVersion = WAL_FORMAT_VERSION;
    this.segments.push({ number, firstLsn, sizeBytes: SEGMENT_HEADER_SIZE });
    this.statsCounters.segmentsCreated++;
    this.statsCounters.bytesWritten += SEGMENT_HEADER_SIZE;
  }

  private fail(err: unknown): void {
    const cause = err instanceof TidemarkError ? err : ioError('WAL flush', this.dir.path, err);
    this.failure = new TidemarkError(
      cause.code === 'TIDEMARK_NO_SPACE' ? 'TIDEMARK_NO_SPACE' : 'TIDEMARK_IO',
      `WAL in ${this.dir.path} is read-only after a failed write or fdatasync (never retried): ${cause.message}`,
      { path: cause.path ?? this.dir.path, cause },
    );
    this.clearTimers();
    for (const group of [this.flushing, this.active]) {
      const waiter = group.waiter;
      group.waiter = undefined;
      waiter?.reject(this.failure);
    }
  }
}

async function createSegment(
  dir: Directory,
  number: number,
  firstLsn: number,
  dsync: boolean,
): Promise<{ file: DirectoryFile }> {
  // `create` fsyncs the directory, making the new entry durable before anything is acknowledged.
  const file = await dir.open(segmentFileName(number), 'create', { dsync });
  try {
    await file.write(encodeSegmentHeader(number, firstLsn), 0, SEGMENT_HEADER_SIZE, 0);
    if (!file.dsync) await file.datasync();
  } catch (err) {
    await file.close().catch(() => {});
    throw err;
  }
  return { file };
}
