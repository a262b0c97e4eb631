/**
 * Ring 0 / Ring 1 benchmarks (issue 4), medians over ROUNDS interleaved rounds:
 *
 * - `ring0_put_p50_ns`, `ring0_put_p99_ns`: `ChangelogAwareStore.put` (state update + changelog
 *   push) over 10^6 puts on a 100,000-key working set with 100-byte values, while Ring 1 writes
 *   and fdatasyncs continuously.
 * - `changelog_push_p50_ns`, `changelog_push_p99_ns`: `StateChangelogBuffer.pushPut` alone, same
 *   load, with a ChangelogDrainer writing a real WAL in another thread.
 *   Each call is timed with two `performance.now()` reads; `timer_overhead_p50_ns` (the same
 *   pair around nothing) is measured in the same run and subtracted from the percentiles.
 * - `event_loop_delay_p99_ms`: `monitorEventLoopDelay` while Ring 0 puts continuously (in slices
 *   that yield to the loop), Ring 1 group-commits, and checkpoints run in Ring 1.
 * - `pipeline_vs_raw_1KiB_b512`: durable records/s through the whole pipeline (1 KiB records,
 *   groups of 512) ÷ raw `writeSync` + `fdatasyncSync` of the same bytes, same run.
 * - `durable_roundtrip_p50_us_sleep` / `_spin200`: one put + commit + `durable()` with Ring 1
 *   idle before it, for the drain loop's two wake-up strategies (sleep; spin 200 µs first).
 *
 *   npm run bench:pipeline [-- --json]      TIDEMARK_BENCH_ROUNDS=5 (default 3)
 *   TIDEMARK_BENCH_QUICK=1: 1 round, a tenth of the work (checks that it runs; not for figures)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openChangelogAwareStore, RECORD_HEADER_SIZE, StateChangelogBuffer } from '../dist/index.js';
import { startTsWorker } from '../test/helpers/ts-worker.ts';
import { rawDurableRecordsPerSecond } from './helpers/raw-baseline.ts';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const PUTS = QUICK ? 100_000 : 1_000_000;
const KEYS = 100_000;
const base = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-pipe-bench-'));
let seq = 0;
const fresh = (label: string) => path.join(base, `${label}-${seq++}`);
const keys = Array.from({ length: KEYS }, (_, i) => `user:${String(i).padStart(8, '0')}`);
const value100 = new Uint8Array(100).fill(7);

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timerOverheadNs(): number {
  const samples = new Float64Array(200_000);
  for (let i = 0; i < samples.length; i++) {
    const t0 = performance.now();
    samples[i] = performance.now() - t0;
  }
  samples.sort();
  return percentile(samples, 0.5) * 1e6;
}

async function ring0Put(): Promise<{ p50: number; p99: number }> {
  const { store } = await openChangelogAwareStore({
    dir: fresh('put'),
    ring: { capacityEntries: 1 << 20, arenaBytes: 256 * 1024 * 1024 },
  });
  for (const k of keys) store.put(k, value100); // the working set exists before timing
  await store.durable();
  const samples = new Float64Array(PUTS);
  for (let i = 0; i < PUTS; i++) {
    const key = keys[(i * 7919) % KEYS]!;
    const t0 = performance.now();
    store.put(key, value100);
    samples[i] = performance.now() - t0;
    if ((i & 0x3fff) === 0 && !store.isWritable) await store.writable();
  }
  await store.durable();
  await store.close();
  samples.sort();
  return { p50: percentile(samples, 0.5) * 1e6, p99: percentile(samples, 0.99) * 1e6 };
}

async function changelogPush(): Promise<{ p50: number; p99: number }> {
  const ring = StateChangelogBuffer.create({ capacityEntries: 1 << 20, arenaBytes: 256 * 1024 * 1024 });
  const dir = fresh('push');
  fs.mkdirSync(dir);
  const worker = startTsWorker(fileURLToPath(new URL('./helpers/drainer-worker.ts', import.meta.url)), {
    shared: ring.shared,
    dir,
  });
  await new Promise((resolve) => worker.once('message', resolve));
  const samples = new Float64Array(PUTS);
  let full = 0;
  for (let i = 0; i < PUTS; i++) {
    const key = keys[(i * 7919) % KEYS]!;
    const t0 = performance.now();
    const ok = ring.pushPut(key, value100, 0);
    samples[i] = performance.now() - t0;
    if (!ok) {
      full++;
      i--;
      ring.wakeConsumer();
    } else if ((i & 0x3fff) === 0) ring.wakeConsumer();
  }
  ring.wakeConsumer();
  const done = new Promise((resolve) => worker.once('message', resolve));
  worker.postMessage('stop');
  await done;
  await worker.terminate();
  if (full > 0 && !json) process.stderr.write(`  (push found the ring full ${full} times)\n`);
  samples.sort();
  return { p50: percentile(samples, 0.5) * 1e6, p99: percentile(samples, 0.99) * 1e6 };
}

async function eventLoopDelay(): Promise<{ p99: number; checkpoints: number; groups: number }> {
  const { store } = await openChangelogAwareStore({ dir: fresh('eld'), wal: { groupCommitDelayMs: 1 } });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const until = performance.now() + (QUICK ? 500 : 3000);
  let i = 0;
  let checkpoint: Promise<unknown> | undefined;
  while (performance.now() < until) {
    for (let j = 0; j < 200; j++, i++) store.put(keys[i % KEYS]!, value100);
    store.commit({ bench: i });
    if (i > (QUICK ? 20_000 : 200_000) && !checkpoint) checkpoint = store.checkpoint();
    if (!store.isWritable) await store.writable();
    await new Promise<void>((r) => setImmediate(r));
  }
  await checkpoint;
  await store.durable();
  h.disable();
  const stats = store.stats();
  await store.close();
  return { p99: h.percentile(99) / 1e6, checkpoints: stats.checkpoints, groups: stats.walGroupsCommitted };
}

/**
 * Wake-up strategy of Ring 1's drain loop: p50 of put + commit + `durable()` for one record at a
 * time (Ring 1 idle in between), sleeping on the head word vs spinning `spinMicros` first.
 */
async function durableRoundTripUs(spinMicros: number): Promise<number> {
  const { store } = await openChangelogAwareStore({ dir: fresh('wake'), drainer: { spinMicros } });
  const samples = new Float64Array(QUICK ? 50 : 300);
  for (let i = 0; i < samples.length; i++) {
    await new Promise((r) => setTimeout(r, 1)); // let Ring 1 go idle
    const t0 = performance.now();
    store.put(keys[i]!, value100);
    store.commit({ bench: i });
    await store.durable();
    samples[i] = performance.now() - t0;
  }
  await store.close();
  samples.sort();
  return percentile(samples, 0.5) * 1000;
}

const RECORD_BYTES = 1024;
const GROUP = 512;
const GROUPS = QUICK ? 10 : 60;

function rawBaseline(): number {
  return rawDurableRecordsPerSecond(fresh('raw'), RECORD_BYTES, GROUP, GROUPS);
}

async function pipelineThroughput(): Promise<number> {
  // Put payload = 4-byte key length + 8-byte key + value = 1 KiB; a group holds 512 frames.
  const value = new Uint8Array(RECORD_BYTES - 4 - 8).fill(7);
  const { store } = await openChangelogAwareStore({
    dir: fresh('tput'),
    wal: { groupCommitBytes: GROUP * (RECORD_BYTES + RECORD_HEADER_SIZE), groupCommitDelayMs: 2 },
    ring: { capacityEntries: 1 << 16, arenaBytes: 64 * 1024 * 1024 },
  });
  const total = GROUP * GROUPS;
  const t0 = performance.now();
  let last = 0;
  for (let i = 0; i < total; i++) {
    last = store.put('key00000', value);
    if ((i & 1023) === 1023 && !store.isWritable) await store.writable();
  }
  await store.flushed(last);
  const s = (performance.now() - t0) / 1000;
  await store.close();
  return total / s;
}

const r = {
  putP50: [] as number[],
  putP99: [] as number[],
  pushP50: [] as number[],
  pushP99: [] as number[],
  timer: [] as number[],
  eld: [] as number[],
  raw: [] as number[],
  pipe: [] as number[],
  ratio: [] as number[],
  wakeSleep: [] as number[],
  wakeSpin: [] as number[],
};
let checkpointsSeen = 0;
for (let round = 0; round < ROUNDS; round++) {
  const timer = timerOverheadNs();
  r.timer.push(timer);
  const put = await ring0Put();
  r.putP50.push(put.p50 - timer);
  r.putP99.push(put.p99 - timer);
  const push = await changelogPush();
  r.pushP50.push(push.p50 - timer);
  r.pushP99.push(push.p99 - timer);
  const eld = await eventLoopDelay();
  r.eld.push(eld.p99);
  checkpointsSeen += eld.checkpoints;
  const first = round % 2 === 0;
  const raw1 = first ? rawBaseline() : 0;
  const pipe = await pipelineThroughput();
  const raw2 = first ? 0 : rawBaseline();
  const raw = raw1 || raw2;
  r.raw.push(raw);
  r.pipe.push(pipe);
  r.ratio.push(pipe / raw);
  r.wakeSleep.push(await durableRoundTripUs(0));
  r.wakeSpin.push(await durableRoundTripUs(200));
  if (!json) process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}
fs.rmSync(base, { recursive: true, force: true });

const lines = [
  { name: 'ring0_put_p50_ns', value: Math.round(median(r.putP50)), unit: 'ns' },
  { name: 'ring0_put_p99_ns', value: Math.round(median(r.putP99)), unit: 'ns' },
  { name: 'changelog_push_p50_ns', value: Math.round(median(r.pushP50)), unit: 'ns' },
  { name: 'changelog_push_p99_ns', value: Math.round(median(r.pushP99)), unit: 'ns' },
  { name: 'timer_overhead_p50_ns', value: Math.round(median(r.timer)), unit: 'ns' },
  { name: 'event_loop_delay_p99_ms', value: Number(median(r.eld).toFixed(3)), unit: 'ms' },
  { name: 'raw_records_per_s_1KiB_b512', value: Math.round(median(r.raw)), unit: 'records/s' },
  { name: 'pipeline_records_per_s_1KiB_b512', value: Math.round(median(r.pipe)), unit: 'records/s' },
  { name: 'pipeline_vs_raw_1KiB_b512', value: Number(median(r.ratio).toFixed(3)), unit: 'ratio' },
  { name: 'durable_roundtrip_p50_us_sleep', value: Math.round(median(r.wakeSleep)), unit: 'us' },
  { name: 'durable_roundtrip_p50_us_spin200', value: Math.round(median(r.wakeSpin)), unit: 'us' },
];
if (json) for (const l of lines) console.log(JSON.stringify(l));
else {
  console.log(
    `Ring 0 / Ring 1 pipeline, medians of ${ROUNDS} rounds (checkpoints during the event-loop runs: ${checkpointsSeen})`,
  );
  for (const l of lines) console.log(`${l.name.padEnd(34)} ${String(l.value).padStart(12)} ${l.unit}`);
}
