/**
 * Durable appends/s through WriteAheadLog against raw fs.writeSync + fs.fdatasyncSync of the same
 * payload bytes, measured in the same run, interleaved over ROUNDS rounds (medians reported).
 * `append_vs_raw_*` lets the producer build the next group while the previous one is being
 * synced (how group commit is used); `append_serial_vs_raw_*` awaits every group before building
 * the next, so all framing and CRC CPU time is on the critical path.
 *
 *   npm run bench               human-readable table
 *   npm run bench -- --json     one {"name","value","unit"} object per line
 *   TIDEMARK_BENCH_ROUNDS=7     more rounds
 *   TIDEMARK_BENCH_SYNC=fdatasync   measure the WAL's fdatasync sync method instead of O_DSYNC
 *   TIDEMARK_BENCH_QUICK=1      1 round, a tenth of the groups (checks that it runs; not for figures)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { crc32c, crc32cJs, FsDirectory, PutEncoder, WriteAheadLog } from '../dist/index.js';
import { rawDurableRecordsPerSecond } from './helpers/raw-baseline.ts';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 5));
const SIZES = [100, 1024];
const GROUPS = [1, 64, 512];
const SYNC_METHOD = process.env.TIDEMARK_BENCH_SYNC === 'fdatasync' ? 'fdatasync' : 'o_dsync';
const base = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-bench-'));
let seq = 0;

function groupsFor(k: number): number {
  const groups = k === 1 ? 400 : k === 64 ? 150 : 50;
  return QUICK ? Math.ceil(groups / 10) : groups;
}

function raw(size: number, k: number): number {
  return rawDurableRecordsPerSecond(path.join(base, `raw-${seq++}`), size, k, groupsFor(k));
}

/**
 * `pipelined`: the producer builds group g+1 while group g is being written and fdatasynced
 * (at most one group in flight, as any group-commit producer runs); otherwise strictly serial:
 * append K, await sync, repeat.
 */
async function wal(size: number, k: number, pipelined: boolean): Promise<number> {
  const dirPath = path.join(base, `wal-${seq++}`);
  const dir = await FsDirectory.open(dirPath);
  const log = await WriteAheadLog.open(dir, {
    syncMethod: SYNC_METHOD,
    groupCommitBytes: Math.max(4096, k * (size + 64)),
    groupCommitDelayMs: 60_000,
  });
  const put = new PutEncoder();
  const value = Buffer.alloc(size - 4 - 8, 7); // payload = 4-byte key length + 8-byte key + value = size bytes
  const groups = groupsFor(k);
  const t0 = performance.now();
  let inFlight: Promise<void> | undefined;
  for (let g = 0; g < groups; g++) {
    for (let i = 0; i < k; i++) log.append(put.set('key00000', value));
    const durable = log.sync();
    if (!pipelined) await durable;
    else {
      if (inFlight) await inFlight;
      inFlight = durable;
    }
  }
  await inFlight;
  const s = (performance.now() - t0) / 1000;
  await log.close();
  fs.rmSync(dirPath, { recursive: true });
  return (groups * k) / s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function crcNsPerCall(size: number, fn: (b: Buffer) => number): number {
  const b = Buffer.alloc(size, 3);
  const n = Math.max(2000, Math.floor(5e7 / size));
  let x = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) x ^= fn(b);
  if (x === 0.5) console.log(x);
  return Number(process.hrtime.bigint() - t0) / n;
}

const results = new Map<string, { raw: number[]; wal: number[]; serial: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const size of SIZES) {
    for (const k of GROUPS) {
      const key = `${size === 100 ? '100B' : '1KiB'}_b${k}`;
      const r = results.get(key) ?? { raw: [], wal: [], serial: [] };
      results.set(key, r);
      if (round % 2 === 0) {
        r.raw.push(raw(size, k));
        r.wal.push(await wal(size, k, true));
        r.serial.push(await wal(size, k, false));
      } else {
        r.serial.push(await wal(size, k, false));
        r.wal.push(await wal(size, k, true));
        r.raw.push(raw(size, k));
      }
    }
  }
  if (!json) process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const lines: { name: string; value: number; unit: string }[] = [];
for (const [key, r] of results) {
  const rawMed = median(r.raw);
  const walMed = median(r.wal);
  lines.push({ name: `raw_appends_per_s_${key}`, value: Math.round(rawMed), unit: 'records/s' });
  lines.push({ name: `wal_appends_per_s_${key}`, value: Math.round(walMed), unit: 'records/s' });
  const serialMed = median(r.serial);
  lines.push({ name: `wal_serial_appends_per_s_${key}`, value: Math.round(serialMed), unit: 'records/s' });
  lines.push({ name: `append_vs_raw_${key}`, value: Number((walMed / rawMed).toFixed(3)), unit: 'ratio' });
  lines.push({
    name: `append_serial_vs_raw_${key}`,
    value: Number((serialMed / rawMed).toFixed(3)),
    unit: 'ratio',
  });
}
for (const size of [100, 1024]) {
  lines.push({
    name: `crc32c_js_ns_${size}B`,
    value: Number(crcNsPerCall(size, (b) => crc32cJs(b)).toFixed(1)),
    unit: 'ns/call',
  });
  lines.push({
    name: `crc32c_chosen_ns_${size}B`,
    value: Number(crcNsPerCall(size, (b) => crc32c(b)).toFixed(1)),
    unit: 'ns/call',
  });
}
fs.rmSync(base, { recursive: true, force: true });

if (json) for (const l of lines) console.log(JSON.stringify(l));
else {
  console.log(
    `WriteAheadLog (syncMethod ${SYNC_METHOD}) vs raw writeSync+fdatasyncSync, medians of ${ROUNDS} interleaved rounds`,
  );
  console.log('WAL = one group in flight while the next is built; serial = append K, await sync, repeat');
  console.log('config        raw rec/s     WAL rec/s    ratio   serial rec/s   ratio');
  for (const [key] of results) {
    const get = (n: string) => lines.find((l) => l.name === `${n}_${key}`)!.value;
    console.log(
      `${key.padEnd(12)} ${String(get('raw_appends_per_s')).padStart(10)} ${String(get('wal_appends_per_s')).padStart(12)}   ${get('append_vs_raw').toFixed(3)} ${String(get('wal_serial_appends_per_s')).padStart(13)}   ${get('append_serial_vs_raw').toFixed(3)}`,
    );
  }
  for (const l of lines.filter((x) => x.name.startsWith('crc')))
    console.log(`${l.name.padEnd(26)} ${l.value} ${l.unit}`);
}
