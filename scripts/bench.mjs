#!/usr/bin/env node
// Runs every benchmark (bench/*.ts, through tsx) with the same arguments, e.g. `npm run bench -- --json`.
// One benchmark only: `npm run bench -- --only pipeline`.
//
// The benchmarks measure the compiled library (they import ../dist), so the library is built
// first with `npm run build`: a stale dist/ would measure old code. `--no-build` skips it.
// TIDEMARK_BENCH_QUICK=1 makes every benchmark small (checks that it runs; not for figures).
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
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
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
