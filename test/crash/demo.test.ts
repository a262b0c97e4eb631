import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { flightsPath } from '../../src/cli/demo/flights.ts';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));
const LIMIT = 200_000;

test('tidemark demo survives SIGKILLs and its --out equals an independent fold over the same rows', async () => {
  const dir = tmpDir('demo');
  const out = path.join(dir, 'out.json');
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'demo',
      '--limit',
      String(LIMIT),
      '--crashes',
      '3',
      '--seed',
      '7',
      '--dir',
      path.join(dir, 'data'),
      '--out',
      out,
      '--checkpoint-every',
      '40000',
    ],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /VERIFIED/);
  assert.match(r.stdout, /crashes\s+3 SIGKILLs/);
  // The summary reports the checkpoint recovery really used and the WAL really on disk, never
  // "0 checkpoints" while one was used (checkpoints every 40k rows of 200k: there are some).
  assert.match(r.stdout, /checkpoints\s+final recovery started from checkpoint \d+/);
  const onDisk = /WAL on disk\s+([\d,]+) bytes in (\d+) segment files/.exec(r.stdout);
  assert.ok(onDisk, r.stdout);
  const walDir = path.join(dir, 'data', 'wal');
  const actual = fs
    .readdirSync(walDir)
    .filter((f) => /^wal-\d+\.log$/.test(f))
    .reduce((n, f) => n + fs.statSync(path.join(walDir, f)).size, 0);
  assert.equal(Number(onDisk[1]!.replaceAll(',', '')), actual);
  const got = JSON.parse(fs.readFileSync(out, 'utf8'));

  // Independent computation: row objects, no batching, no store.
  const rows = await parquetReadObjects({
    file: await asyncBufferFromFile(flightsPath()),
    compressors,
    rowStart: 0,
    rowEnd: LIMIT,
  });
  const origins: Record<string, { count: number; delaySum: number; delayMax: number }> = {};
  const routes: Record<string, number> = {};
  for (const row of rows) {
    const delay = Number(row.delay);
    const o = origins[row.origin] ?? { count: 0, delaySum: 0, delayMax: -Infinity };
    origins[row.origin] = {
      count: o.count + 1,
      delaySum: o.delaySum + delay,
      delayMax: Math.max(o.delayMax, delay),
    };
    routes[`${row.origin}-${row.destination}`] = (routes[`${row.origin}-${row.destination}`] ?? 0) + 1;
  }
  assert.equal(got.rows, LIMIT);
  assert.deepEqual(got.origins, origins);
  assert.deepEqual(got.routes, routes);
});

test('tidemark --help explains the commands', () => {
  const r = spawnSync(process.execPath, [BIN, 'demo', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--crashes <n>/);
  assert.match(r.stdout, /SIGKILL/);
});
