/**
 * Validation of the configurations that open a data directory, done once at the call, before a
 * lock is taken, a directory created or a worker started: a mistyped option is
 * `TIDEMARK_INVALID_ARGUMENT` naming the option and its value, never a silent default and never
 * a half-opened store.
 */
import { resolveCheckpointOptions } from '../checkpoint/checkpoint-config.js';
import { TieringPolicy } from '../checkpoint/tiering-policy.js';
import { TidemarkError } from '../errors.js';
import { MAX_ARENA_BYTES, MAX_RING_ENTRIES } from '../format/constants.js';
import { parseObjectStoreUrl, resolveObjectStoreConfig } from '../io/object-store-config.js';
import { stateBackendOption } from '../state/state-backend.js';
import {
  booleanOption,
  checkOptionsObject,
  checkPath,
  enumOption,
  integerOption,
  invalidArgument,
} from '../validation.js';
import { checkWalOptions } from '../wal/wal-options.js';
import type { StorageOptions } from './storage-location.js';

/** The WAL recovery modes, by name (see `WalRecoveryMode`). */
export const WAL_RECOVERY_MODES = [
  'tolerate-torn-tail',
  'absolute-consistency',
  'point-in-time',
  'salvage',
] as const;

function checkStorageOptions(config: StorageOptions): void {
  const o = config.objectStore;
  if (typeof o === 'string') parseObjectStoreUrl(o);
  else if (o !== undefined) {
    resolveObjectStoreConfig(o);
    TieringPolicy.of(o.tiering);
  }
  booleanOption('archiveWal', config.archiveWal, true);
  if (booleanOption('takeover', config.takeover, false) && o === undefined)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'takeover needs an object store (objectStore)', {
      argument: 'takeover',
    });
  integerOption('archiveIntervalMs', config.archiveIntervalMs, {
    min: 0,
    max: 24 * 3600 * 1000,
    fallback: 1000,
  });
}

function checkCheckpointOptions(config: { maxRetained?: unknown; checkpoint?: unknown }): void {
  integerOption('maxRetained', config.maxRetained, { min: 1, max: 1_000_000, fallback: 2 });
  checkOptionsObject('checkpoint', config.checkpoint);
  resolveCheckpointOptions((config.checkpoint ?? {}) as Record<string, never>);
}

/** Checks a `RecoveryConfig` (the simple store's `RecoveryManager`). */
export function checkRecoveryConfig(config: unknown): void {
  checkOptionsObject('config', config);
  if (config === undefined) throw invalidArgument('config', config, 'an options object');
  const c = config as Record<string, unknown>;
  const dir = c.dir;
  if (typeof dir === 'string') checkPath('dir', dir);
  else if (
    dir === null ||
    typeof dir !== 'object' ||
    typeof (dir as { lock?: unknown }).lock !== 'function'
  ) {
    throw invalidArgument('dir', dir, 'a non-empty path string or a Directory');
  }
  booleanOption('transactional', c.transactional, false);
  checkWalOptions('wal', c.wal as never);
  checkCheckpointOptions(c);
  enumOption('mode', c.mode, WAL_RECOVERY_MODES, 'tolerate-torn-tail');
  booleanOption('trackChangedKeys', c.trackChangedKeys, false);
  stateBackendOption('stateBackend', c.stateBackend);
  checkStorageOptions(c as StorageOptions);
}

function powerOfTwoOption(argument: string, value: unknown, max: number): void {
  if (value === undefined) return;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 2 ||
    value > max ||
    (value & (value - 1)) !== 0
  ) {
    throw invalidArgument(argument, value, `a power of two in [2, ${max}]`);
  }
}

/** Checks a `ChangelogStoreConfig` (`openChangelogAwareStore`). */
export function checkChangelogStoreConfig(config: unknown): void {
  checkOptionsObject('config', config);
  if (config === undefined) throw invalidArgument('config', config, 'an options object');
  const c = config as Record<string, unknown>;
  checkPath('dir', c.dir);
  booleanOption('transactional', c.transactional, false);
  stateBackendOption('stateBackend', c.stateBackend);
  checkWalOptions('wal', c.wal as never);
  const wal = c.wal as Record<string, unknown> | undefined;
  if (wal?.lock !== undefined || wal?.initialLsn !== undefined) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      'wal.lock and wal.initialLsn are set by the store itself, not by its caller',
      { argument: wal?.lock !== undefined ? 'wal.lock' : 'wal.initialLsn' },
    );
  }
  checkCheckpointOptions(c);
  checkOptionsObject('ring', c.ring);
  const ring = (c.ring ?? {}) as Record<string, unknown>;
  powerOfTwoOption('ring.capacityEntries', ring.capacityEntries, MAX_RING_ENTRIES);
  powerOfTwoOption('ring.arenaBytes', ring.arenaBytes, MAX_ARENA_BYTES);
  enumOption('backpressure', c.backpressure, ['wait', 'throw'], 'wait');
  integerOption('maxQueuedBytes', c.maxQueuedBytes, { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 });
  checkOptionsObject('drainer', c.drainer);
  const drainer = (c.drainer ?? {}) as Record<string, unknown>;
  integerOption('drainer.maxBatchEntries', drainer.maxBatchEntries, {
    min: 1,
    max: MAX_RING_ENTRIES,
    fallback: 4096,
  });
  integerOption('drainer.spinMicros', drainer.spinMicros, { min: 0, max: 1_000_000, fallback: 0 });
  integerOption('drainer.idleSleepMs', drainer.idleSleepMs, { min: 1, max: 60_000, fallback: 1 });
  integerOption('checkpointIntervalMs', c.checkpointIntervalMs, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: 0,
  });
  integerOption('checkpointWalBytes', c.checkpointWalBytes, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: 0,
  });
  checkStorageOptions(c as StorageOptions);
}
