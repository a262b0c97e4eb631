/**
 * io_uring, a measured decision. libuv (Node 20's 1.46) can run file operations through
 * io_uring instead of its thread pool; Node 20 ships it off and `UV_USE_IO_URING=1` turns it on
 * for the whole process. The WAL's writes and fdatasyncs are libuv file operations, so the
 * question is whether a durable group commits faster through io_uring than through the pool.
 *
 * Each round runs the same WAL workload in two child processes, one per setting, alternating
 * which goes first: durable 1 KiB records through `WriteAheadLog` in groups of 1 and of 512,
 * for both sync methods (`o_dsync`: the group write is its own barrier; `fdatasync`: write, then
 * fdatasync). Medians over rounds of the per-round ratio io_uring / thread pool:
 *
 *   io_uring_vs_threadpool_<syncMethod>_b<group>   ratio (> 1: io_uring commits faster)
 *
 * and the median records/s of each setting. A ratio within noise of 1.0 means no reason to
 * change the default (docs/PERFORMANCE.md, "io_uring").
 *
 *   npm run bench -- --only io-uring [--json]      TIDEMARK_BENCH_ROUNDS (default 5)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsDirectory, PutEncoder, WriteAheadLog } from '../dist/index.js';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 5));
const CASES = [
  { syncMethod: 'o_dsync', group: 1, groups: QUICK ? 40 : 400 },
  { syncMethod: 'o_dsync', group: 512, groups: QUICK ? 5 : 50 },
  { syncMethod: 'fdatasync', group: 1, groups: QUICK ? 40 : 400 },
  { syncMethod: 'fdatasync', group: 512, groups: QUICK ? 5 : 50 },
] as const;
const RECORD_BYTES = 1024;

/** Child: runs every case once and prints `{ "<case>": records/s, … }`. */
async function child(): Promise<void> {
  const base = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-uring-'));
  const out: Record<string, number> = {};
  const put = new PutEncoder();
  const value = Buffer.alloc(RECORD_BYTES - 4 - 8, 7); // payload = 4 + 8-byte key + value
  try {
    let n = 0;
    for (const c of CASES) {
      const dir = await FsDirectory.open(path.join(base, `wal-${n++}`));
      const log = await WriteAheadLog.open(dir, {
        syncMethod: c.syncMethod,
        groupCommitBytes: Math.max(4096, c.group * (RECORD_BYTES + 64)),
        groupCommitDelayMs: 60_000,
        preallocateSegments: false,
      });
      const t0 = performance.now();
      for (let g = 0; g < c.groups; g++) {
        for (let i = 0; i < c.group; i++) log.append(put.set('key00000', value));
        await log.sync();
      }
      out[`${c.syncMethod}_b${c.group}`] = (c.groups * c.group) / ((performance.now() - t0) / 1000);
      await log.close();
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function runChild(uring: boolean): Record<string, number> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child'], {
    encoding: 'utf8',
    env: { ...process.env, UV_USE_IO_URING: uring ? '1' : '0' },
  });
  if (r.status !== 0) throw new Error(`io-uring child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const ratios = new Map<string, number[]>();
  const rates = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const got = new Map(order.map((u) => [u, runChild(u)] as const));
    for (const name of Object.keys(got.get(false)!)) {
      const pool = got.get(false)![name]!;
      const uring = got.get(true)![name]!;
      (ratios.get(name) ?? ratios.set(name, []).get(name)!).push(uring / pool);
      (
        rates.get(`threadpool_${name}`) ?? rates.set(`threadpool_${name}`, []).get(`threadpool_${name}`)!
      ).push(pool);
      (rates.get(`io_uring_${name}`) ?? rates.set(`io_uring_${name}`, []).get(`io_uring_${name}`)!).push(
        uring,
      );
    }
  }
  const lines: { name: string; value: number; unit: string }[] = [];
  for (const [name, xs] of ratios)
    lines.push({ name: `io_uring_vs_threadpool_${name}`, value: median(xs), unit: 'ratio' });
  for (const [name, xs] of rates)
    lines.push({ name: `wal_records_per_s_${name}`, value: median(xs), unit: 'records/s' });
  if (json) for (const l of lines) console.log(JSON.stringify(l));
  else {
    console.log(
      `io_uring vs libuv thread pool (${ROUNDS} rounds, medians; 1 KiB durable records through the WAL)`,
    );
    for (const l of lines)
      console.log(`  ${l.name.padEnd(48)} ${l.value.toFixed(l.unit === 'ratio' ? 3 : 0)} ${l.unit}`);
  }
}

if (process.argv.includes('--child')) await child();
else await main();
