// `tidemark probe DIR`: the compiled CLI (run `npm run build` first; `npm test` does) against
// real temp directories.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const BIN = fileURLToPath(new URL('../../bin/tidemark.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

const SIZES = ['4KiB', '64KiB', '1MiB'];
const METHODS = ['fdatasync', 'o_dsync'];

test('probe --json prints positive figures for every sync method and size, then a recommendation, and leaves DIR as it was', () => {
  const dir = tmpDir('probe');
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
  const r = cli('probe', dir, '--seconds', '1', '--json');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.deepEqual(fs.readdirSync(dir), ['keep.txt'], 'the temporary subdirectory is removed');
  assert.equal(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'mine');

  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const last = lines.pop();
  const units = new Map<string, string>();
  for (const m of lines) {
    assert.deepEqual(Object.keys(m).sort(), ['name', 'unit', 'value'], JSON.stringify(m));
    assert.ok(typeof m.value === 'number' && Number.isFinite(m.value) && m.value > 0, JSON.stringify(m));
    assert.ok(!units.has(m.name), `${m.name} printed once`);
    units.set(m.name, m.unit);
  }
  const expected = new Map<string, string>();
  for (const method of METHODS)
    for (const size of SIZES) {
      expected.set(`durable_write_${method}_${size}`, 'writes/s');
      expected.set(`durable_write_${method}_${size}_throughput`, 'MiB/s');
    }
  for (const method of METHODS)
    for (const file of ['append', 'prealloc']) expected.set(`commit_1KiB_${file}_${method}`, 'commits/s');
  expected.set('fdatasync_latency_p50_4KiB', 'us');
  expected.set('fdatasync_latency_p99_4KiB', 'us');
  assert.deepEqual(new Map([...units].sort()), new Map([...expected].sort()));
  const p50 = lines.find((m) => m.name === 'fdatasync_latency_p50_4KiB').value;
  const p99 = lines.find((m) => m.name === 'fdatasync_latency_p99_4KiB').value;
  assert.ok(p50 <= p99);

  const rec = last.recommendation;
  assert.ok(rec, r.stdout);
  assert.ok(['o_dsync', 'fdatasync'].includes(rec.syncMethod));
  assert.ok(Number.isSafeInteger(rec.groupCommitBytes) && rec.groupCommitBytes >= 16 * 1024);
  assert.ok(rec.groupCommitBytes <= 1024 * 1024);
  assert.equal(typeof rec.preallocateSegments, 'boolean');
  assert.equal(typeof rec.groupCommitHelps, 'boolean');
  for (const field of ['syncMethod', 'groupCommitBytes', 'preallocateSegments', 'groupCommitHelps'])
    assert.ok(typeof rec.reasons[field] === 'string' && rec.reasons[field].length > 20, field);
});

test('probe creates a missing DIR (and its parents) for the run and removes them afterwards', () => {
  const root = tmpDir('probe-missing');
  const r = cli('probe', path.join(root, 'a', 'b'), '--seconds', '0.1');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /recommended WalOptions:/);
  assert.match(r.stdout, /syncMethod: '(o_dsync|fdatasync)'/);
  assert.deepEqual(fs.readdirSync(root), []);
});

test('probe on a DIR that is a file exits 2 with TIDEMARK_INVALID_ARGUMENT and leaves the file alone', () => {
  const file = path.join(tmpDir('probe-file'), 'not-a-dir');
  fs.writeFileSync(file, 'data');
  const r = cli('probe', file, '--seconds', '1');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /TIDEMARK_INVALID_ARGUMENT: .*not-a-dir exists and is not a directory/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'data');
});

test('probe on an unwritable DIR exits 2 with TIDEMARK_IO naming it', (t) => {
  let dir: string;
  if (process.getuid?.() === 0) {
    // Permission bits do not stop root; sysfs refuses new entries to everyone.
    if (!fs.existsSync('/sys/kernel')) return t.skip('running as root without /sys');
    dir = '/sys/kernel';
  } else {
    dir = tmpDir('probe-ro');
    fs.chmodSync(dir, 0o555);
    t.after(() => fs.chmodSync(dir, 0o755));
  }
  const r = cli('probe', dir, '--seconds', '1');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /TIDEMARK_IO: create a temporary directory failed on /);
  assert.ok(r.stderr.includes(dir), r.stderr);
});

test('probe refuses --seconds 0 before touching DIR', () => {
  const root = tmpDir('probe-args');
  const r = cli('probe', path.join(root, 'never'), '--seconds', '0');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--seconds must be a number in \(0, 3600\]/);
  assert.deepEqual(fs.readdirSync(root), []);
});
