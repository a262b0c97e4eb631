/**
 * The default suite's run of `npm run bench:scale`: 2,000,000 keys through the public API of
 * both engines, a checkpoint, 1 % overwritten after it, SIGKILL, reopen in a fresh process, and
 * every key checked against its recomputation. The 50,000,000-key run is `npm run bench:scale --
 * --keys 50000000` (docs/PERFORMANCE.md, "State at scale").
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const SCALE = fileURLToPath(new URL('../../bench/scale.ts', import.meta.url));
const KEYS = 2_000_000;

test('two million acknowledged keys all survive a SIGKILL after a checkpoint on both engines', () => {
  const dir = tmpDir('scale');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', SCALE, '--keys', String(KEYS), '--json', '--dir', path.join(dir, 'scale')],
    { encoding: 'utf8', timeout: 8 * 60_000 },
  );
  assert.equal(r.status, 0, `bench:scale failed: ${r.stderr}\n${r.stdout}`);
  const figures = new Map<string, number>();
  for (const line of r.stdout.trim().split('\n')) {
    const { name, value } = JSON.parse(line) as { name: string; value: number };
    figures.set(name, value);
  }
  for (const engine of ['simple', 'changelog']) {
    assert.equal(figures.get(`state_keys_max_verified_${engine}`), KEYS, `${engine}: ${r.stderr}`);
    assert.ok((figures.get(`scale_recovery_ms_${engine}`) ?? 0) > 0);
  }
  assert.equal(figures.get('state_keys_max_verified'), KEYS);
});
