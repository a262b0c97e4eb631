/**
 * What a durable commit costs depending on how the segment file it lands in was prepared (the
 * measurement behind the WAL's `preallocateSegments` option, docs/PERFORMANCE.md): 1 KiB
 * single-record commits, each made durable on its own, into
 *
 * - `append`: a fresh empty file, every commit extends it (today's WAL without preallocation);
 * - `ftruncate`: a file extended with ftruncate to its full size first (sparse: no blocks);
 * - `fallocate`: blocks reserved with fallocate(1) (`unwritten` extents on ext4/XFS);
 * - `zeros`: a file pre-written with zeros and fdatasynced (what the WAL does in the background);
 * - `recycled`: an old segment full of non-zero bytes, overwritten (RocksDB's recycled logs).
 *
 * For each, the commit is either write + fdatasync or one O_DSYNC write. The machine may be
 * loaded by other work, so the cases are interleaved round by round and medians are reported,
 * with each case's ratio to `append` (same sync method) measured in the same round.
 *
 *   npm run bench -- --only segment-prealloc          human-readable table
 *   npm run -s bench -- --only segment-prealloc --json  one {"name","value","unit"} object per line
 *   TIDEMARK_BENCH_ROUNDS=9     more rounds (default 7)
 *   TIDEMARK_BENCH_QUICK=1      1 round, few commits (checks that it runs; not for figures)
 *
 * It measures the file system, not the library, so it imports nothing from ../dist.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 7));
const COMMITS = QUICK ? 20 : 250;
const RECORD = 1024;
const FILE_BYTES = 4 * 1024 * 1024;
const base = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-prealloc-'));
const hasFallocate = spawnSync('fallocate', ['--help'], { stdio: 'ignore' }).status === 0;

type Prep = 'append' | 'ftruncate' | 'fallocate' | 'zeros' | 'recycled';
const PREPS: Prep[] = [
  'append',
  'ftruncate',
  ...(hasFallocate ? (['fallocate'] as const) : []),
  'zeros',
  'recycled',
];
const METHODS = ['fdatasync', 'o_dsync'] as const;
let seq = 0;

function prepare(file: string, prep: Prep): void {
  const fd = fs.openSync(file, 'w');
  try {
    if (prep === 'ftruncate') fs.ftruncateSync(fd, FILE_BYTES);
    if (prep === 'zeros' || prep === 'recycled') {
      const chunk = Buffer.alloc(1024 * 1024, prep === 'zeros' ? 0 : 0xa5);
      for (let p = 0; p < FILE_BYTES; p += chunk.length) fs.writeSync(fd, chunk, 0, chunk.length, p);
    }
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (prep === 'fallocate') {
    const r = spawnSync('fallocate', ['-l', String(FILE_BYTES), file]);
    if (r.status !== 0) throw new Error(`fallocate failed: ${r.stderr}`);
    const fd2 = fs.openSync(file, 'r+');
    fs.fsyncSync(fd2);
    fs.closeSync(fd2);
  }
  // The prepared file's directory entry is durable before the timed part, as the WAL does it.
  const d = fs.openSync(path.dirname(file), 'r');
  fs.fsyncSync(d);
  fs.closeSync(d);
}

/** Durable commits per second into a file prepared as `prep`. */
function commitsPerSecond(prep: Prep, method: (typeof METHODS)[number]): number {
  const file = path.join(base, `f-${seq++}`);
  prepare(file, prep);
  const flags = fs.constants.O_WRONLY | (method === 'o_dsync' ? fs.constants.O_DSYNC : 0);
  const fd = fs.openSync(file, flags);
  const buf = Buffer.alloc(RECORD, 7);
  const t0 = performance.now();
  for (let i = 0; i < COMMITS; i++) {
    buf.writeUInt32LE(i, 0);
    fs.writeSync(fd, buf, 0, RECORD, i * RECORD);
    if (method === 'fdatasync') fs.fdatasyncSync(fd);
  }
  const s = (performance.now() - t0) / 1000;
  fs.closeSync(fd);
  fs.rmSync(file, { force: true });
  return COMMITS / s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const rates = new Map<string, number[]>();
const ratios = new Map<string, number[]>();
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const method of METHODS) {
      const round = new Map<Prep, number>();
      // Rotate the order each round so no case always runs first (or right after a busy one).
      for (let i = 0; i < PREPS.length; i++) {
        const prep = PREPS[(i + r) % PREPS.length]!;
        round.set(prep, commitsPerSecond(prep, method));
      }
      for (const [prep, rate] of round) {
        const key = `${prep}_${method}`;
        rates.set(key, [...(rates.get(key) ?? []), rate]);
        ratios.set(key, [...(ratios.get(key) ?? []), rate / round.get('append')!]);
      }
    }
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}

for (const method of METHODS) {
  for (const prep of PREPS) {
    const key = `${prep}_${method}`;
    const rate = median(rates.get(key)!);
    const ratio = median(ratios.get(key)!);
    if (json) {
      console.log(
        JSON.stringify({ name: `prealloc_${key}_commits_per_s`, value: Math.round(rate), unit: 'commits/s' }),
      );
      console.log(
        JSON.stringify({ name: `prealloc_${key}_vs_append`, value: Number(ratio.toFixed(3)), unit: 'x' }),
      );
    } else {
      console.log(
        `${method.padEnd(9)} ${prep.padEnd(9)} ${Math.round(rate).toString().padStart(7)} commits/s  ${ratio.toFixed(2)}x append`,
      );
    }
  }
}
