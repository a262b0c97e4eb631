// `tidemark verify` and `tidemark inspect` on a real demo directory, clean and damaged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));
const root = tmpDir('verify');
const data = path.join(root, 'data');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

before(() => {
  const demo = cli(
    'demo',
    '--limit',
    '120000',
    '--crashes',
    '1',
    '--dir',
    data,
    '--checkpoint-every',
    '30000',
  );
  assert.equal(demo.status, 0, demo.stdout + demo.stderr);
});

function withDamage(file: string, offset: number, body: () => void): void {
  const bytes = fs.readFileSync(file);
  const damaged = Buffer.from(bytes);
  damaged[offset]! ^= 0x20;
  fs.writeFileSync(file, damaged);
  try {
    body();
  } finally {
    fs.writeFileSync(file, bytes);
  }
}

test('verify on a clean demo directory exits 0; inspect lists its segments and checkpoints', () => {
  const v = cli('verify', data);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /OK: no damage found/);
  const i = cli('inspect', data, '--json');
  assert.equal(i.status, 0, i.stderr);
  const report = JSON.parse(i.stdout);
  assert.ok(report.segments.length >= 1);
  const records = report.segments.reduce((n: number, s: { records: number }) => n + s.records, 0);
  assert.ok(records > 1000);
  assert.ok(report.segments[0].recordsByType.put > 0 && report.segments[0].recordsByType.commit > 0);
  assert.ok(report.checkpoints.length >= 1 && report.checkpoints.every((c: { valid: boolean }) => c.valid));
  assert.match(cli('inspect', data).stdout, /segment\s+1\s+LSN 1\.\./);
});

test('verify finds a flipped bit in a WAL segment: exit 1 with TIDEMARK_CORRUPTION, the file and the offset', () => {
  const wal = path.join(data, 'wal');
  const segment = path.join(
    wal,
    fs
      .readdirSync(wal)
      .filter((n) => n.endsWith('.log'))
      .sort()[0]!,
  );
  withDamage(segment, 1000, () => {
    const v = cli('verify', data);
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.match(
      v.stdout,
      new RegExp(`TIDEMARK_CORRUPTION ${segment.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} at byte \\d+`),
    );
    const j = JSON.parse(cli('verify', data, '--json').stdout);
    assert.equal(j.clean, false);
    assert.equal(j.problems[0].code, 'TIDEMARK_CORRUPTION');
    assert.equal(j.problems[0].path, segment);
    assert.ok(j.problems[0].offset <= 1000);
  });
  assert.equal(cli('verify', data).status, 0, 'clean again once repaired');
});

test('verify finds a damaged checkpoint file: exit 1 naming the file', () => {
  const ckptDir = path.join(data, 'checkpoints');
  const latest = fs
    .readdirSync(ckptDir)
    .filter((d) => d.startsWith('checkpoint-'))
    .sort()
    .at(-1)!;
  const dir = path.join(ckptDir, latest);
  const file = path.join(dir, fs.readdirSync(dir).find((f) => f.startsWith('state.'))!);
  withDamage(file, 100, () => {
    const v = cli('verify', data);
    assert.equal(v.status, 1, v.stdout);
    assert.ok(v.stdout.includes(`TIDEMARK_CORRUPTION ${file}`), v.stdout);
  });
});

test('verify of a directory that does not exist exits 2 with TIDEMARK_NOT_FOUND and creates nothing', () => {
  const missing = path.join(root, 'no-such-dir');
  const v = cli('verify', missing);
  assert.equal(v.status, 2);
  assert.match(v.stderr, /TIDEMARK_NOT_FOUND/);
  assert.equal(fs.existsSync(missing), false);
});
