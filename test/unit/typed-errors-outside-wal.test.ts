import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CheckpointConfig,
  CoreWalWriter,
  FileSystemCheckpointStore,
  FsDirectory,
  loadLatestCheckpoint,
  PerCoreCheckpointCoordinator,
  PerCoreRecoveryManager,
  PerCoreWalManager,
  readWal,
  recoverPerCore,
  restoreFromObjectStore,
  validateCheckpoint,
  WalReader,
} from '../../src/index.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * Each of these threw a bare `TypeError` (`Cannot read properties of undefined`, `store.list is
 * not a function`) or Node's `ERR_INVALID_ARG_TYPE` from deep inside the first read.
 */
test('malformed arguments to the per-core, checkpoint, directory and restore entry points are TIDEMARK_INVALID_ARGUMENT, not a TypeError or ERR_*', async () => {
  const dir = await FsDirectory.open(tmpDir('typed-errors'));
  const store = new FileSystemCheckpointStore(await dir.subdirectory('checkpoints'));
  const calls: [string, () => unknown][] = [
    ['restoreFromObjectStore(undefined)', () => restoreFromObjectStore(undefined as never)],
    [
      'restoreFromObjectStore({ from, dir: 7 })',
      () => restoreFromObjectStore({ from: 's3://b/p', dir: 7 } as never),
    ],
    ['validateCheckpoint(undefined)', () => validateCheckpoint(undefined as never)],
    ['new PerCoreRecoveryManager(undefined)', () => new PerCoreRecoveryManager(undefined as never)],
    ['new PerCoreRecoveryManager({})', () => new PerCoreRecoveryManager({} as never)],
    [
      'new PerCoreRecoveryManager({ cores: 0 })',
      () => new PerCoreRecoveryManager({ walRoot: dir, store, cores: 0 }),
    ],
    ['recoverPerCore({ walRoot: 1 })', () => recoverPerCore({ walRoot: 1, store: 2, cores: 'x' } as never)],
    ['PerCoreCheckpointCoordinator.open({})', () => PerCoreCheckpointCoordinator.open({} as never)],
    ['new CheckpointConfig(123)', () => new CheckpointConfig(123 as never)],
    ['FsDirectory.open(123)', () => FsDirectory.open(123 as never)],
    ['FsDirectory.openExisting(undefined)', () => FsDirectory.openExisting(undefined as never)],
    ['readWal(undefined)', () => readWal(undefined as never).next()],
    ['WalReader.read(undefined, …)', () => WalReader.read(undefined as never, { fromLsn: 1 }, () => {})],
    ['new FileSystemCheckpointStore(undefined)', () => new FileSystemCheckpointStore(undefined as never)],
    ['CoreWalWriter.open(undefined, 0)', () => CoreWalWriter.open(undefined as never, 0)],
    ['PerCoreWalManager.open(undefined)', () => PerCoreWalManager.open(undefined as never)],
    ['loadLatestCheckpoint(undefined)', () => loadLatestCheckpoint(undefined as never)],
  ];
  for (const [name, call] of calls) {
    await assert.rejects(
      async () => call(),
      (err: Error & { code?: string }) => {
        assert.equal(
          err.code,
          'TIDEMARK_INVALID_ARGUMENT',
          `${name}: ${err.constructor.name} ${err.code} ${err.message}`,
        );
        return true;
      },
      name,
    );
  }
});
