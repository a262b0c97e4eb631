import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { FaultInjectingDirectory } from '../../src/testing/index.ts';
import { CoreWalWriter, PerCoreWalManager, WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const LOCKED = { code: 'TIDEMARK_LOCKED' };

test('a WAL opened on the wal/ directory of a data directory a store holds fails with TIDEMARK_LOCKED, and the other way round', async () => {
  const dir = tmpDir('dd-lock');
  const held = await new RecoveryManager({ dir }).open();
  const walDir = await FsDirectory.open(path.join(dir, 'wal'));
  await assert.rejects(WriteAheadLog.open(walDir), LOCKED);
  await assert.rejects(PerCoreWalManager.open({ dir: walDir, cores: 2 }), LOCKED);
  await assert.rejects(CoreWalWriter.open(walDir, 0), LOCKED);
  await held.close();

  const wal = await WriteAheadLog.open(walDir);
  await assert.rejects(new RecoveryManager({ dir }).open(), LOCKED);
  await assert.rejects(openChangelogAwareStore({ dir }), LOCKED);
  await wal.close();
  assert.deepEqual(fs.readdirSync(path.join(dir, 'wal')).includes('LOCK'), false, 'one LOCK, at the root');
  const again = await new RecoveryManager({ dir }).open();
  await again.close();
});

test('a changelog-aware store (whose Ring 1 thread writes the WAL) keeps every other writer of its data directory out', async () => {
  const dir = tmpDir('dd-ring1');
  const { store } = await openChangelogAwareStore({ dir });
  store.put('k', Buffer.from('v'));
  await store.durable();
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(path.join(dir, 'wal'))), LOCKED);
  await assert.rejects(new RecoveryManager({ dir }).open(), LOCKED);
  const other = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { WriteAheadLog } from '${new URL('../../src/wal/index.ts', import.meta.url).href}';
       import { FsDirectory } from '${new URL('../../src/io/index.ts', import.meta.url).href}';
       try { await WriteAheadLog.open(await FsDirectory.open(process.argv[1])); console.log('opened'); }
       catch (e) { console.log(e.code); }`,
      path.join(dir, 'wal'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(other.stdout.trim(), 'TIDEMARK_LOCKED');
  await store.close();
});

test('the per-core writers of one data directory share its lock: a store cannot open it until the last writer closes', async () => {
  const dir = tmpDir('dd-cores');
  const m = await PerCoreWalManager.open({ dir: path.join(dir, 'wal'), cores: 3 });
  await assert.rejects(new RecoveryManager({ dir }).open(), LOCKED);
  await assert.rejects(CoreWalWriter.open(m.walRoot, 1), LOCKED);
  await m.close();
  const s = await new RecoveryManager({ dir }).open();
  await s.close();
});

test('in-memory and fault-injecting directories keep one lock per data directory too', async () => {
  for (const root of [new MemoryDirectory(), FaultInjectingDirectory.root()]) {
    const lock = await root.lock();
    const wal = await root.subdirectory('wal');
    await assert.rejects(wal.lock(), LOCKED);
    await assert.rejects((await wal.subdirectory('core-2')).lock(), LOCKED);
    await lock.release();
    const walLock = await wal.lock();
    await assert.rejects(root.lock(), LOCKED);
    await walLock.release();
  }
});

test('an empty LOCK left by a writer killed between creating it and writing its owner is taken over', async () => {
  const dir = tmpDir('dd-empty');
  fs.writeFileSync(path.join(dir, 'LOCK'), '');
  const s = await new RecoveryManager({ dir }).open();
  assert.match(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'), new RegExp(`^pid=${process.pid} `));
  await s.close();
  assert.equal(fs.existsSync(path.join(dir, 'LOCK')), false);
});

test('releasing a lock that another process took over (it judged the owner dead) leaves the new owner its LOCK', async () => {
  const dir = tmpDir('dd-release');
  const lock = await (await FsDirectory.open(dir)).lock();
  const theirs = `pid=1 start= boot= token=theirs\n`;
  fs.writeFileSync(path.join(dir, 'LOCK'), theirs);
  await lock.release();
  assert.equal(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'), theirs);
});
