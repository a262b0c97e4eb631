#!/usr/bin/env node
// Runs every benchmark (bench/*.ts, through tsx) with the same arguments, e.g. `npm run bench -- --json`.
// One benchmark only: `npm run bench -- --only pipeline`.
//
// The benchmarks measure the compiled library (they import ../dist), so the library is built
// first with `npm run build`: a stale dist/ would measure old code. `--no-build` skips it.
// TIDEMARK_BENCH_QUICK=1 makes every benchmark small (checks that it runs; not for figures).
//
// `--html FILE` also writes one self-contained HTML page with charts of the run (scripts/bench-report.mjs):
// the benchmarks then run with `--json` and their lines are collected; what is printed is those
// lines when `--json` was asked for, otherwise one aligned `name value unit` table per benchmark.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderReport } from './bench-report.mjs';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
const htmlAt = args.indexOf('--html');
const htmlFile = htmlAt >= 0 ? args.splice(htmlAt, 2)[1] : undefined;
if (htmlAt >= 0 && !htmlFile) {
  process.stderr.write('bench: --html needs a file name, e.g. --html report.html\n');
  process.exit(2);
}
const userJson = args.includes('--json');
/** Every JSON line of the run (with `--html`), tagged with its benchmark. */
const results = [];
const noBuildAt = args.indexOf('--no-build');
if (noBuildAt >= 0) args.splice(noBuildAt, 1);
else {
  // The build's output goes to stderr, so `--json` still prints only JSON lines on stdout.
  const build = spawnSync('npm', ['run', '-s', 'build'], { stdio: ['ignore', 2, 2] });
  if (build.status !== 0) {
    process.stderr.write(`bench: npm run build failed (${build.error?.message ?? `exit ${build.status}`})\n`);
    process.exit(build.status ?? 1);
  }
}
for (const name of [
  'wal-append',
  'pipeline',
  'checkpoint',
  'per-core',
  'peers',
  'commit-latency',
  'segment-prealloc',
  'state-backend',
  'io-uring',
  'compression',
]) {
  if (only && only !== name) continue;
  // The previous benchmark's dirty pages are written back first: its writeback would otherwise
  // land in this one's fdatasyncs (a checkpoint benchmark run after gigabytes of WAL appends
  // measured its small, fsync-bound deltas up to 1.5× slower than run alone).
  spawnSync('sync', { stdio: 'ignore' });
  if (htmlFile === undefined) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...args], {
      stdio: 'inherit',
    });
    if (r.status !== 0) process.exit(r.status ?? 1);
    continue;
  }
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', `bench/${name}.ts`, ...args, ...(userJson ? [] : ['--json'])],
    { stdio: ['inherit', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (userJson) process.stdout.write(r.stdout ?? '');
  if (r.status !== 0) {
    process.stderr.write(
      `bench: bench/${name}.ts failed (${r.error?.message ?? `exit ${r.status}`}): no report\n`,
    );
    process.exit(r.status ?? 1);
  }
  const lines = [];
  for (const text of (r.stdout ?? '').split('\n')) {
    if (text.trim() === '') continue;
    try {
      const line = JSON.parse(text);
      if (typeof line?.name === 'string') lines.push({ bench: name, ...line });
    } catch {
      process.stderr.write(`bench: bench/${name}.ts printed a line that is not JSON, left out: ${text}\n`);
    }
  }
  results.push(...lines);
  if (!userJson) {
    console.log(`${name}:`);
    for (const l of lines) {
      const value = String(l.value);
      console.log(
        `  ${l.name.padEnd(48)} ${value.padStart(14)} ${l.unit === 'histogram' ? 'samples (histogram)' : l.unit}`,
      );
    }
  }
}

if (htmlFile !== undefined) {
  let commit = 'unknown';
  try {
    const git = (...a) =>
      execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit =
      git('rev-parse', '--short=12', 'HEAD') +
      (git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : '');
  } catch {
    // Not a git checkout (an unpacked tarball): the report says "unknown".
  }
  const cpus = os.cpus();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    commit,
    machine: `${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown'}), ${os.platform()} ${os.release()} ${os.arch()}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    'temp dir': process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(),
    benchmarks: [...new Set(results.map((r) => r.bench))].join(', '),
    quick: process.env.TIDEMARK_BENCH_QUICK === '1',
  };
  // `npm run` runs this in the package's root; a relative FILE means the caller's directory.
  const out = path.resolve(process.env.INIT_CWD ?? process.cwd(), htmlFile);
  fs.writeFileSync(out, renderReport(results, meta));
  process.stderr.write(`bench: wrote ${out} (${results.length} figures)\n`);
}
