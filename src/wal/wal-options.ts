/**
 * The checks of {@link WalOptions}, callable before anything opens (the stores validate their
 * whole configuration at the call, before taking a lock or touching the disk).
 * `WriteAheadLog.open` applies the same ranges. The option and counter types of the log live here too.
 */
import { MAX_SEGMENT_SIZE_BYTES } from '../format/constants.js';
import type { DirectoryLock } from '../io/directory.js';
import { checkOptionsObject, enumOption, integerOption, invalidArgument } from '../validation.js';

/**
 * Checks the types and ranges of `options` (named `argument`, e.g. `'wal'`). Throws
 * `TIDEMARK_INVALID_ARGUMENT` naming the option (`wal.groupCommitBytes`) and the value.
 */
export function checkWalOptions(argument: string, options: WalOptions | undefined): void {
  checkOptionsObject(argument, options);
  if (options === undefined) return;
  const segmentSizeBytes = integerOption(`${argument}.segmentSizeBytes`, options.segmentSizeBytes, {
    min: 4096,
    max: MAX_SEGMENT_SIZE_BYTES,
    fallback: 64 * 1024 * 1024,
  });
  const groupCommitBytes = integerOption(`${argument}.groupCommitBytes`, options.groupCommitBytes, {
    min: 1,
    max: segmentSizeBytes,
    fallback: Math.min(512 * 1024, segmentSizeBytes),
  });
  integerOption(`${argument}.groupCommitDelayMs`, options.groupCommitDelayMs, {
    min: 0,
    max: 60_000,
    fallback: 2,
  });
  integerOption(`${argument}.maxBufferedBytes`, options.maxBufferedBytes, {
    min: groupCommitBytes,
    max: 2 ** 31 - 1,
    fallback: 64 * 1024 * 1024,
  });
  integerOption(`${argument}.initialLsn`, options.initialLsn, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    fallback: 1,
  });
  enumOption(`${argument}.syncMethod`, options.syncMethod, ['o_dsync', 'fdatasync'], 'o_dsync');
  const lock = options.lock as unknown;
  if (
    lock !== undefined &&
    typeof lock !== 'boolean' &&
    (lock === null ||
      typeof lock !== 'object' ||
      typeof (lock as { release?: unknown }).release !== 'function')
  ) {
    throw invalidArgument(`${argument}.lock`, lock, 'a boolean or a held DirectoryLock');
  }
  enumOption(
    `${argument}.recoveryMode`,
    options.recoveryMode,
    ['tolerate-torn-tail', 'absolute-consistency'],
    'tolerate-torn-tail',
  );
  const preallocate = options.preallocateSegments as unknown;
  if (preallocate !== undefined && typeof preallocate !== 'boolean')
    throw invalidArgument(`${argument}.preallocateSegments`, preallocate, 'a boolean');
}

/** Options of {@link WriteAheadLog.open}. Sizes in bytes, delays in milliseconds. */
export interface WalOptions {
  /** A segment is sealed once the next record would take it past this size. Default 64 MiB. */
  segmentSizeBytes?: number;
  /** A group is flushed as soon as it holds this many bytes. Default 512 KiB (measured: 64 KiB–1 MiB is the sweet spot on NVMe; `npm run bench`). */
  groupCommitBytes?: number;
  /**
   * Longest time, in milliseconds, a record that nobody awaits waits before its group is written
   * (it may also wait for the one write in flight). Default 2; 0 writes it on the next turn of
   * the event loop. Awaited commits never wait for this timer: on an idle log (no write in
   * flight) a `flushed()` / `sync()` / `durable()` writes and syncs its group on the next turn of
   * the event loop, and while a write is in flight the records appended meanwhile form the next
   * group, written as soon as it completes — that wait is the batching window (RocksDB's write
   * group; unlike PostgreSQL's `commit_delay`, no sleep is added to it). So commit latency at
   * concurrency 1 is about one disk sync, and at high concurrency each sync carries every commit
   * that arrived during the previous one.
   */
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
  /**
   * Whether the next segment is prepared in the background (etcd's file pipeline): once the
   * active segment is a quarter full, a file of `segmentSizeBytes` zeros is written and
   * fdatasynced as `next-segment.prealloc`; rotation renames it to the next segment's name (directory
   * fsynced) and writes the header over it. Commits then overwrite allocated space inside the
   * file instead of growing it, so their fdatasync persists no size change: measured 1.5× more
   * durable 1 KiB commits/s on ext4 (docs/PERFORMANCE.md). Rotation never waits for it: when the
   * file is not ready the segment is created as without this option. The active segment's file
   * may therefore be longer than its data (a zero tail, which is the end of the log, not
   * damage); sealed segments are cut to their data at rotation. Needs `Directory.rename`
   * (ignored without it). Default true. Throws `TIDEMARK_INVALID_ARGUMENT` for a non-boolean.
   */
  preallocateSegments?: boolean;
  /**
   * The wall clock the log stamps commit times with (format version 4: each batch's commit time,
   * each segment's base time): ms since the Unix epoch, default `Date.now`. Times written never
   * go backwards, whatever it returns. For tests and simulations; throws
   * `TIDEMARK_INVALID_ARGUMENT` for a non-function.
   */
  clock?: (() => number) | undefined;
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
