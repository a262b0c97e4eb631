import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const OPEN_SCRIPT = `
import { RecoveryManager } from '${new URL('../../src/recovery/index.ts', import.meta.url).href}';
try {
  const s = await new RecoveryManager({ dir: process.argv[1] }).open();
  console.log('opened');
  if (process.argv[2] === 'hold') setInterval(() => {}, 1000); else await s.close();
} catch (e) { console.log(e.code); }
`;

test('a second writer in another process fails at once with TIDEMARK_LOCKED', async () => {
  const dir = tmpDir('xlock');
  const held = await new RecoveryManager({ dir }).open();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', OPEN_SCRIPT, dir], {
    encoding: 'utf8',
  });
  assert.equal(r.stdout.trim(), 'TIDEMARK_LOCKED');
  await held.close();
  const again = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', OPEN_SCRIPT, dir],
    { encoding: 'utf8' },
  );
  assert.equal(again.stdout.trim(), 'opened');
});

test('the lock of a writer killed with SIGKILL is stale and taken over', async () => {
  const dir = tmpDir('stale');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', OPEN_SCRIPT, dir, 'hold'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('opened') && resolve()),
  );
  await assert.rejects(new RecoveryManager({ dir }).open(), { code: 'TIDEMARK_LOCKED' });
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  const s = await new RecoveryManager({ dir }).open();
  await s.close();
});
