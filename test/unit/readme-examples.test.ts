import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecoveryManager } from '../../src/index.js';
import { tmpDir } from '../helpers/tmp.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** Runs a README block as a module in `cwd`, importing this checkout's source instead of the package. */
function runBlock(code: string, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const source = code.replace(/from 'tidemark'/g, `from ${JSON.stringify(path.join(root, 'src/index.ts'))}`);
  const file = path.join(cwd, 'example.mts');
  fs.writeFileSync(file, source);
  // tsx is resolved from this checkout: the scratch directory has no node_modules.
  return spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), file], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

async function dataWithCheckpoints(cwd: string): Promise<void> {
  const opened = await new RecoveryManager({ dir: path.join(cwd, 'data') }).open();
  for (let i = 0; i < 3; i++) {
    opened.store.put(`k${i}`, new TextEncoder().encode(String(i)));
    await opened.checkpoint();
  }
  await opened.close();
}

test('the README checks checkpoints without hard-coding a checkpoint id, and its example runs on a real data directory', async () => {
  const block = blocks.find((b) => b.includes('validateCheckpoint('));
  assert.ok(block, 'the README shows validateCheckpoint');
  assert.doesNotMatch(block, /checkpoint-\d{16}/, 'no hard-coded checkpoint directory');
  const cwd = tmpDir('readme-validate');
  await dataWithCheckpoints(cwd);
  const r = runBlock(block, cwd);
  assert.equal(r.status, 0, r.stderr);
  const ids = r.stdout.split('\n').filter((l) => / valid$/.test(l));
  assert.ok(ids.length >= 2, r.stdout);
});

test('the README example of { signal } on open and checkpoint and of for await over readWal runs', async () => {
  const block = blocks.find((b) => b.includes('readWal('));
  assert.ok(block, 'the README shows readWal');
  const cwd = tmpDir('readme-readwal');
  const r = runBlock(block, cwd);
  assert.equal(r.status, 0, r.stderr);
  // The checkpoint marker and the clean shutdown are records too; no put was written here.
  assert.equal(r.stderr, '');
});
