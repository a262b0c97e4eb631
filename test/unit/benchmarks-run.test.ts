// The benchmarks are not run by the suite, so one that breaks (an API change, a new lock rule)
// would go unnoticed until someone wants figures. These run the peer and per-core benchmarks in
// quick mode, on the compiled library as `npm run bench` does, and check their JSON lines.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function runBench(
  name: string,
  env: Record<string, string>,
): { name: string; value: number; unit: string }[] {
  assert.ok(fs.existsSync(path.join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` first');
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, '--json'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TIDEMARK_BENCH_QUICK: '1', ...env },
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `bench/${name}.ts failed:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return lines.map((l) => JSON.parse(l));
}

test('the peer benchmark runs against sqlite and lmdb and reports every figure as a positive number', () => {
  const dir = tmpDir('bench-peers');
  const out = runBench('peers', { TIDEMARK_BENCH_CASE_MS: '30', TIDEMARK_BENCH_DIR: dir });
  const names = new Set(out.map((l) => l.name));
  for (const size of ['100B', '1KiB']) {
    for (const c of [1, 16, 256]) {
      for (const engine of ['tidemark_simple', 'tidemark_ring', 'sqlite', 'lmdb'])
        assert.ok(names.has(`commits_per_s_c${c}_${engine}_${size}`), `missing ${engine} c${c} ${size}`);
      assert.ok(names.has(`tidemark_vs_best_peer_c${c}_${size}`));
    }
    assert.ok(names.has(`wal_cpu_ns_per_record_${size}`));
  }
  assert.equal(out.length, 2 * 3 * 5 + 2);
  for (const l of out) {
    assert.ok(Number.isFinite(l.value) && l.value > 0, `${l.name} = ${l.value}`);
    assert.equal(
      l.unit,
      l.name.startsWith('commits') ? 'commits/s' : l.name.startsWith('wal_cpu') ? 'ns' : 'ratio',
    );
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'the benchmark left files behind');
});

test('the per-core benchmark runs its cores in worker threads without tripping the directory lock', () => {
  const dir = tmpDir('bench-percore');
  const out = runBench('per-core', { TIDEMARK_BENCH_DIR: dir });
  const scaling = out.find((l) => l.name === 'percore_scaling_2');
  assert.ok(scaling && scaling.value > 0);
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('the commit-latency benchmark runs both stores at concurrency 1, 16 and 256 and reports positive figures under its own names', () => {
  const dir = tmpDir('bench-commit-latency');
  const out = runBench('commit-latency', { TIDEMARK_BENCH_CASE_MS: '30', TIDEMARK_BENCH_DIR: dir });
  const byName = new Map(out.map((l) => [l.name, l]));
  for (const store of ['simple', 'ring'])
    for (const c of [1, 16, 256])
      for (const figure of ['commits_per_s', 'mean_us', 'commits_per_group']) {
        const row = byName.get(`commit_latency_${figure}_c${c}_${store}`);
        assert.ok(
          row && Number.isFinite(row.value) && row.value > 0,
          `${figure} c${c} ${store}: ${row?.value}`,
        );
      }
});

test('the io_uring benchmark runs the WAL with libuv io_uring on and off and reports a ratio for every case', () => {
  const dir = tmpDir('bench-io-uring');
  const out = runBench('io-uring', { TIDEMARK_BENCH_DIR: dir });
  const byName = new Map(out.map((l) => [l.name, l]));
  for (const method of ['o_dsync', 'fdatasync'])
    for (const group of [1, 512]) {
      const row = byName.get(`io_uring_vs_threadpool_${method}_b${group}`);
      assert.ok(
        row && row.unit === 'ratio' && Number.isFinite(row.value) && row.value > 0,
        `${method} b${group}`,
      );
    }
  assert.deepEqual(fs.readdirSync(dir), [], 'no temp directory left behind');
});
