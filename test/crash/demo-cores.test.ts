// `tidemark demo --cores N`: thread-per-core ingest (each core its own state and WAL, checkpoints
// coordinated by epoch barriers) survives SIGKILLs and gives the same --out as one WAL.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));

test('demo --cores 2 and --cores 3 survive SIGKILLs, verify, and write the same --out as the single-WAL demo', () => {
  const dir = tmpDir('demo-cores');
  const run = (out: string, ...extra: string[]) => {
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        'demo',
        '--limit',
        '200000',
        '--crashes',
        '3',
        '--seed',
        '11',
        '--checkpoint-every',
        '40000',
        '--out',
        out,
      ].concat(['--dir', path.join(dir, path.basename(out, '.json'))], extra),
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /VERIFIED/);
    assert.match(r.stdout, /crashes\s+3 SIGKILLs/);
    return r.stdout;
  };
  const two = run(path.join(dir, 'two.json'), '--cores', '2');
  assert.match(two, /2 cores, one WAL each/);
  assert.ok(
    fs.existsSync(path.join(dir, 'two', 'wal', 'core-0')) &&
      fs.existsSync(path.join(dir, 'two', 'wal', 'core-1')),
  );
  run(path.join(dir, 'three.json'), '--cores', '3');
  run(path.join(dir, 'single.json'), '--engine', 'simple');
  const single = fs.readFileSync(path.join(dir, 'single.json'), 'utf8');
  assert.equal(fs.readFileSync(path.join(dir, 'two.json'), 'utf8'), single);
  assert.equal(fs.readFileSync(path.join(dir, 'three.json'), 'utf8'), single);
});
