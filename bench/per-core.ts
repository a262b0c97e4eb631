/**
 * Per-core WAL scaling: aggregate durable records/s with N cores (worker threads, each with its
 * own CoreWalWriter and log, no cross-thread synchronisation) for N = 1, 2, 4 — 1 KiB records,
 * groups of 512 — and a raw single-thread writeSync + fdatasyncSync baseline of the same bytes,
 * all in the same run (medians of ROUNDS rounds, interleaved).
 *
 *   npm run bench -- --only per-core [--json]
 *
 * `percore_scaling_2` = aggregate with 2 cores ÷ with 1 core (goal ≥ 1.3); `percore_scaling_4`
 * is reported too (this machine has 2 CPUs).
 *
 * TIDEMARK_BENCH_QUICK=1: 1 round of 10 groups per core (checks that it runs; not for figures).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsDirectory } from '../dist/index.js';
import { startTsWorker } from '../test/helpers/ts-worker.ts';
import { rawDurableRecordsPerSecond } from './helpers/raw-baseline.ts';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const RECORD = 1024;
const GROUP = 512;
const GROUPS = QUICK ? 10 : 60;
const WORKER = fileURLToPath(new URL('./helpers/core-writer-worker.ts', import.meta.url));
const base = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-percore-'));
let seq = 0;

async function cores(n: number): Promise<number> {
  const walRoot = path.join(base, `run-${seq++}`);
  // One lock per data directory, taken here and held while the cores' workers write.
  const lock = await (await FsDirectory.open(walRoot)).lock();
  const workers = Array.from({ length: n }, (_, coreId) =>
    startTsWorker(WORKER, { walRoot, coreId, groups: GROUPS, groupRecords: GROUP, recordBytes: RECORD }),
  );
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const t0 = performance.now();
  const results = await Promise.all(
    workers.map(
      (w) =>
        new Promise<{ records: number }>((resolve) => {
          w.once('message', resolve);
          w.postMessage('go');
        }),
    ),
  );
  const s = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  await lock.release();
  fs.rmSync(walRoot, { recursive: true, force: true });
  return results.reduce((sum, r) => sum + r.records, 0) / s;
}

function raw(): number {
  return rawDurableRecordsPerSecond(path.join(base, `raw-${seq++}`), RECORD, GROUP, GROUPS);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const samples: Record<string, number[]> = { raw: [], c1: [], c2: [], c4: [] };
for (let r = 0; r < ROUNDS; r++) {
  samples.raw!.push(raw());
  samples.c1!.push(await cores(1));
  samples.c2!.push(await cores(2));
  samples.c4!.push(await cores(4));
}
fs.rmSync(base, { recursive: true, force: true });
const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<
  string,
  number
>;
const rows: [string, number, string][] = [
  ['raw_fdatasync_1KiB_b512_records_per_s', m.raw!, 'records/s'],
  ['percore_1_records_per_s', m.c1!, 'records/s'],
  ['percore_2_records_per_s', m.c2!, 'records/s'],
  ['percore_4_records_per_s', m.c4!, 'records/s'],
  ['percore_1_vs_raw', m.c1! / m.raw!, 'ratio'],
  ['percore_scaling_2', m.c2! / m.c1!, 'ratio'],
  ['percore_scaling_4', m.c4! / m.c1!, 'ratio'],
];
if (json)
  for (const [name, value, unit] of rows)
    console.log(JSON.stringify({ name, value: Number(value.toFixed(3)), unit }));
else {
  console.log(
    `per-core WAL, 1 KiB records in groups of 512, ${GROUPS} groups per core, medians of ${ROUNDS} rounds (${os.cpus().length} CPUs)`,
  );
  for (const [name, value, unit] of rows)
    console.log(`  ${name.padEnd(40)} ${value.toFixed(unit === 'ratio' ? 2 : 0).padStart(12)} ${unit}`);
}
