/**
 * The checks of {@link WalOptions}, callable before anything opens (the stores validate their
 * whole configuration at the call, before taking a lock or touching the disk).
 * `WriteAheadLog.open` applies the same ranges.
 */
import { MAX_SEGMENT_SIZE_BYTES } from '../format/constants.js';
import { checkOptionsObject, enumOption, integerOption, invalidArgument } from '../validation.js';
import type { WalOptions } from './write-ahead-log.js';

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
}
