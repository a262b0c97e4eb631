/**
 * `readWal()`: the WAL's records as an async iterator, for `for await (const r of readWal(dir))`
 * — auditing a log, feeding it to another system, building a projection — without a callback
 * and without holding the whole log in memory.
 *
 * It drives {@link WalReader.read} (same checks, same errors) one segment at a time: the reader
 * pauses after each segment until the consumer took that segment's records, so at most one
 * segment's decoded records are held. Values are copies, so a record stays valid after the loop
 * moves on (the scan buffer is reused per segment).
 */
import { abortSignalOf } from '../abort-steps.js';
import { TidemarkError } from '../errors.js';
import { decodeEntry, type WalEntry } from '../format/entry-codec.js';
import type { Directory } from '../io/directory.js';
import { FsDirectory } from '../io/fs-directory.js';
import { checkInteger, checkOptionsObject, enumOption, invalidArgument } from '../validation.js';
import { listSegments, readSegmentHead } from './segment-files.js';
import { WAL_RECOVERY_MODES, type WalRecoveryMode } from './segment-scanner.js';
import { WalReader } from './wal-reader.js';

/** Options of {@link readWal}. */
export interface ReadWalOptions {
  /** First LSN to yield (an integer ≥ 1). Default: the oldest record still in the WAL. */
  fromLsn?: number | undefined;
  /** Last LSN to yield, inclusive. Default: to the end of the log. */
  untilLsn?: number | undefined;
  /** What damage does (default `tolerate-torn-tail`; see `WalRecoveryMode`). */
  mode?: WalRecoveryMode | undefined;
  /**
   * Stops the iteration before the next segment once aborted: the loop throws
   * `TIDEMARK_ABORTED` (`cause` = `signal.reason`). Default: none.
   */
  signal?: AbortSignal | undefined;
}

/** Where a record sits in the log. */
export interface WalRecordPosition {
  /** The record's LSN. */
  lsn: number;
  /** Number of the segment holding it. */
  segment: number;
  /** Byte offset of its frame in that segment file. */
  offset: number;
}

/**
 * One decoded WAL record: its entry (`put` with `key` and `value`, `delete`, `commit` with
 * `epoch`/`sourceOffsets`/`watermark`, `checkpoint`, `abort`, `clean-shutdown`) and its position.
 * A `put`'s `value` is a copy the caller owns.
 */
export type WalRecord = WalEntry & WalRecordPosition;

/**
 * The records of the WAL in `dir` (a path or a {@link Directory}), in LSN order, as an async
 * iterator:
 *
 * ```ts
 * for await (const r of readWal('./data/wal', { fromLsn: 1 })) {
 *   if (r.type === 'put') console.log(r.lsn, r.key, r.value.length);
 * }
 * ```
 *
 * Read-only: nothing on disk changes (a torn tail is ended at, not cut), so it may run on a
 * directory another process writes, up to what that process made durable. A `break` (or a throw
 * in the loop) stops the read before the next segment; no file stays open between segments.
 *
 * Arguments are checked before anything is read (`TIDEMARK_INVALID_ARGUMENT`, thrown by the first
 * `next()`). The loop throws what {@link WalReader.read} throws: `TIDEMARK_NOT_FOUND` (no such
 * directory), `TIDEMARK_CORRUPTION` (file + offset), `TIDEMARK_DATA_LOSS` (`fromLsn` older than
 * the oldest record kept, or a cleanly closed log cut short), `TIDEMARK_UNSUPPORTED_VERSION`,
 * `TIDEMARK_IO`, and `TIDEMARK_ABORTED` when `signal` aborts.
 */
export async function* readWal(
  dir: string | Directory,
  options: ReadWalOptions = {},
): AsyncGenerator<WalRecord, void, undefined> {
  checkOptionsObject('options', options);
  if (options.fromLsn !== undefined)
    checkInteger('options.fromLsn', options.fromLsn, 1, Number.MAX_SAFE_INTEGER);
  if (options.untilLsn !== undefined)
    checkInteger('options.untilLsn', options.untilLsn, 0, Number.MAX_SAFE_INTEGER);
  enumOption('options.mode', options.mode, WAL_RECOVERY_MODES, 'tolerate-torn-tail');
  const signal = abortSignalOf('options', options);
  if (typeof dir !== 'string' && (dir === null || typeof dir !== 'object'))
    throw invalidArgument('dir', dir, 'a path or a Directory');

  const directory = typeof dir === 'string' ? await FsDirectory.openExisting(dir) : dir;
  const fromLsn = options.fromLsn ?? (await oldestLsn(directory));

  // The hand-off between the reader (producer) and this generator (consumer).
  let pending: WalRecord[] = [];
  let segmentDone: ((stop: boolean) => void) | undefined;
  let wakeConsumer: (() => void) | undefined;
  let finished = false;
  let failed = false;
  let failure: unknown;
  let stopped = false;

  const read = WalReader.read(
    directory,
    {
      fromLsn,
      untilLsn: options.untilLsn,
      mode: options.mode,
      signal,
      afterSegment: () =>
        new Promise<void>((resolve, reject) => {
          if (stopped) {
            reject(STOPPED);
            return;
          }
          segmentDone = (stop) => (stop ? reject(STOPPED) : resolve());
          wakeConsumer?.();
        }),
    },
    (record) => {
      if (stopped) return;
      const entry = decodeEntry(record);
      // The scan buffer is the segment's: a value must not point into it once we move on.
      if (entry.type === 'put') entry.value = Uint8Array.prototype.slice.call(entry.value);
      pending.push(
        Object.assign(entry, { lsn: record.lsn, segment: record.segmentNumber, offset: record.frameOffset }),
      );
    },
  ).then(
    () => {
      finished = true;
      wakeConsumer?.();
    },
    (err: unknown) => {
      finished = true;
      if (err !== STOPPED) {
        failed = true;
        failure = err;
      }
      wakeConsumer?.();
    },
  );

  try {
    for (;;) {
      if (!finished && segmentDone === undefined) {
        await new Promise<void>((resolve) => {
          wakeConsumer = resolve;
        });
        wakeConsumer = undefined;
      }
      const batch = pending;
      pending = [];
      for (const record of batch) yield record;
      if (segmentDone !== undefined) {
        const next = segmentDone;
        segmentDone = undefined;
        next(false);
        continue;
      }
      if (finished) {
        if (failed) throw failure;
        return;
      }
    }
  } finally {
    if (!finished) {
      // The loop ended early (break, throw): stop the reader at its next segment and let it settle.
      stopped = true;
      const next = segmentDone;
      segmentDone = undefined;
      next?.(true);
      await read;
    }
  }
}

/** Stops the reader when the consumer left the loop (never surfaces). */
const STOPPED = new TidemarkError('TIDEMARK_ABORTED', 'readWal: the loop ended before the log did');

/** LSN of the oldest record in the WAL (1 when it is empty or its first header is unreadable). */
async function oldestLsn(dir: Directory): Promise<number> {
  const segments = await listSegments(dir);
  if (segments.length === 0) return 1;
  const { header } = await readSegmentHead(dir, segments[0]!);
  return typeof header === 'string' ? 1 : Math.max(1, header.firstLsn);
}
