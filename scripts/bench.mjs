#!/usr/bin/env node
// Runs every benchmark (bench/*.ts, through tsx) with the same arguments, e.g. `npm run bench -- --json`.
// One benchmark only: `npm run bench -- --only pipeline`.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
for (const name of ['wal-append', 'pipeline', 'checkpoint', 'per-core']) {
  if (only && only !== name) continue;
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`, ...args], {
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
