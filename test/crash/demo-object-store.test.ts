// The acceptance run, on the real radosgw started by scripts/run-tests.mjs: a demo with
// SIGKILLs keeps its checkpoints and WAL archive in object storage; the local directory is then
// deleted, and `tidemark recover --from s3://…` on an empty directory gives exactly its state.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));

for (const engine of ['ring', 'simple']) {
  test(`demo --store s3:// (${engine} engine), then recover --from s3:// on an empty machine, gives exactly the demo's state`, () => {
    const dir = tmpDir(`demo-s3-${engine}`);
    const url = urlOf(testObjectStore(`demo-${engine}`));
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
        '3',
        '--dir',
        data,
        '--out',
        demoOut,
      ].concat(['--checkpoint-every', '30000', '--engine', engine, '--store', url]),
      { encoding: 'utf8' },
    );
    assert.equal(demo.status, 0, demo.stdout + demo.stderr);
    assert.match(demo.stdout, /VERIFIED/);
    assert.equal(
      fs.existsSync(path.join(data, 'checkpoints', 'latest')),
      false,
      'checkpoints went to the object store',
    );

    fs.rmSync(data, { recursive: true }); // the machine is gone
    const restoredOut = path.join(dir, 'restored.json');
    const recover = spawnSync(
      process.execPath,
      [
        BIN,
        'recover',
        '--from',
        url,
        '--dir',
        path.join(dir, 'new-machine'),
        '--transactional',
        '--out',
        restoredOut,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(recover.status, 0, recover.stdout + recover.stderr);
    assert.match(recover.stdout, /restored\s+s3:\/\//);
    assert.equal(fs.readFileSync(restoredOut, 'utf8'), fs.readFileSync(demoOut, 'utf8'));
    assert.equal(JSON.parse(fs.readFileSync(restoredOut, 'utf8')).rows, 150_000);
  });
}

test('recover --from refuses a directory that already holds data, with its error code and exit status 2', () => {
  const dir = tmpDir('recover-refuses');
  fs.mkdirSync(path.join(dir, 'wal'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'wal', 'wal-0000000000000001.log'), Buffer.alloc(32));
  const r = spawnSync(
    process.execPath,
    [BIN, 'recover', '--from', urlOf(testObjectStore('refuse')), '--dir', dir],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /TIDEMARK_INVALID_ARGUMENT/);
});
