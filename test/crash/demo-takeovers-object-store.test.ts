// `tidemark demo --store s3://… --takeovers N` on the real radosgw started by
// scripts/run-tests.mjs: the writer is frozen with SIGSTOP at random rows, another takes the
// object store over from a fresh directory, the frozen one is resumed and must be fenced, and
// the final state — restored from the object store alone — equals the crash-free reference.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));

for (const engine of ['ring', 'simple']) {
  test(`demo --takeovers 3 (${engine} engine): every frozen writer is fenced when resumed, and the state restored from the store alone is exact`, () => {
    const seed = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
    console.log(`# seed ${seed} (TIDEMARK_SEED=${seed} to replay)`);
    const dir = tmpDir(`demo-takeovers-${engine}`);
    const url = urlOf(testObjectStore(`takeovers-${engine}`));
    const demo = spawnSync(
      process.execPath,
      [BIN, 'demo', '--limit', '150000', '--crashes', '1', '--takeovers', '3', '--seed', String(seed)].concat(
        ['--checkpoint-every', '30000', '--engine', engine, '--store', url, '--dir', path.join(dir, 'data')],
      ),
      { encoding: 'utf8', timeout: 240_000 },
    );
    assert.equal(demo.status, 0, demo.stdout + demo.stderr);
    assert.match(
      demo.stdout,
      /takeovers {7}3 .*: 3 fenced; final state restored from the object store alone/,
    );
    assert.match(demo.stdout, /VERIFIED/);
  });
}
