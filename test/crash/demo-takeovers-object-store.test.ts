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

// The per-core ingest (`--cores 2`) claims one writer epoch for all its core threads: a frozen
// per-core writer resumed after a takeover must stop fenced too, publishing nothing of its own.
const CASES = [
  { name: 'ring engine', id: 'ring', args: ['--engine', 'ring'] },
  { name: 'simple engine', id: 'simple', args: ['--engine', 'simple'] },
  { name: '--cores 2', id: 'cores', args: ['--cores', '2'] },
];

for (const { name, id, args } of CASES) {
  test(`demo --takeovers 3 (${name}): every frozen writer is fenced when resumed, and the state restored from the store alone is exact`, () => {
    const seed = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
    console.log(`# seed ${seed} (TIDEMARK_SEED=${seed} to replay)`);
    const dir = tmpDir(`demo-takeovers-${id}`);
    const url = urlOf(testObjectStore(`takeovers-${id}`));
    const demo = spawnSync(
      process.execPath,
      [BIN, 'demo', '--limit', '150000', '--crashes', '1', '--takeovers', '3', '--seed', String(seed)].concat(
        ['--checkpoint-every', '30000', ...args, '--store', url, '--dir', path.join(dir, 'data')],
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
