// The per-core demo with its checkpoints and every core's WAL archive in object storage (the real
// radosgw started by scripts/run-tests.mjs): after SIGKILLs the local directory is deleted, and
// `tidemark recover --from s3://…` on a fresh directory — cores detected, or given — writes
// exactly the demo's --out.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));

test('demo --cores 3 --store s3:// survives SIGKILLs, and recover --from s3:// on a fresh directory gives the same --out', () => {
  const dir = tmpDir('demo-cores-s3');
  const url = urlOf(testObjectStore('demo-cores'));
  const demoOut = path.join(dir, 'demo.json');
  const data = path.join(dir, 'data');
  const demo = spawnSync(
    process.execPath,
    [
      BIN,
      'demo',
      '--limit',
      '150000',
      '--crashes',
      '2',
      '--seed',
      '5',
      '--batch',
      '2000',
      '--checkpoint-every',
      '10000',
    ].concat(['--cores', '3', '--store', url, '--dir', data, '--out', demoOut]),
    { encoding: 'utf8' },
  );
  assert.equal(demo.status, 0, demo.stdout + demo.stderr);
  assert.match(demo.stdout, /VERIFIED/);
  assert.match(demo.stdout, /crashes\s+2 SIGKILLs/);
  assert.match(demo.stdout, /checkpoints\s+[1-9]\d* published/);
  assert.equal(
    fs.existsSync(path.join(data, 'checkpoints', 'latest')),
    false,
    'checkpoints went to the object store',
  );
  fs.rmSync(data, { recursive: true }); // the machine is gone

  const recover = (target: string, out: string, ...extra: string[]) => {
    const r = spawnSync(
      process.execPath,
      [BIN, 'recover', '--from', url, '--dir', target, '--transactional', '--out', out, ...extra],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /restored\s+s3:\/\/.*\(3 cores\)/);
    assert.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(demoOut, 'utf8'));
    assert.equal(JSON.parse(fs.readFileSync(out, 'utf8')).rows, 150_000);
  };
  recover(path.join(dir, 'detected'), path.join(dir, 'detected.json'));
  recover(path.join(dir, 'given'), path.join(dir, 'given.json'), '--cores', '3');
  assert.ok(fs.existsSync(path.join(dir, 'given', 'wal', 'core-2')));
});
