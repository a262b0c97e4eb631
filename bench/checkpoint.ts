/**
 * Incremental against full checkpoints, same data directory, same run (issue: "delta snapshots
 * whose cost follows the changed keys"). State: KEYS keys (default 1,000,000) with 100-byte
 * values. Each round changes 1 % of the keys (puts and a few deletes), then checkpoints: ROUNDS
 * rounds as deltas on a fresh base, then ROUNDS rounds as bases (`forceBase`); medians
 * reported. Both kinds include the same work besides the state file:
 * replaying the 1 % from the WAL onto the checkpointer's copy, the manifest, the WAL marker,
 * retention and WAL truncation.
 *
 * Then recovery: a fresh base followed by 10 deltas of 1 % each, recovered read-only, against
 * recovery from one base holding the same state.
 *
 *   npm run bench -- --only checkpoint            table
 *   npm run -s bench -- --only checkpoint --json  one {"name","value","unit"} per line
 *   TIDEMARK_BENCH_KEYS=200000 TIDEMARK_BENCH_ROUNDS=3 (default 5)
 *   TIDEMARK_BENCH_QUICK=1      50,000 keys, 1 round (checks that it runs; not for figures)
 *
 * Last, Ring 1's memory against the state (`ring1_rss_vs_state_bytes`): a changelog-aware store
 * of TIDEMARK_BENCH_RSS_KEYS keys (default: KEYS; the target is stated at 10,000,000) × 100 B,
 * closed and reopened, then 1 % changed and checkpointed twice (a delta, then — chain length 1 —
 * a base merged from the files). The figure is the process RSS peak during those two checkpoints
 * (sampled every 5 ms by Ring 0, idle meanwhile) minus the RSS just before them, over the state's
 * key + value bytes: what Ring 1 adds, since Ring 0's own copy of the state is already resident.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type IncrementalCheckpointMetadata,
  openChangelogAwareStore,
  RecoveryManager,
} from '../dist/index.js';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const KEYS = Number(process.env.TIDEMARK_BENCH_KEYS ?? (QUICK ? 50_000 : 1_000_000));
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 5));
const CHANGED = Math.floor(KEYS / 100);
const root = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-bench-ckpt-'));

const results: { name: string; value: number; unit: string }[] = [];
function report(name: string, value: number, unit: string): void {
  results.push({ name, value, unit });
  if (json) console.log(JSON.stringify({ name, value, unit }));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const key = (i: number) => `key:${String(i).padStart(8, '0')}`;
function value(i: number, round: number): Buffer {
  const v = Buffer.alloc(100, round & 0xff);
  v.writeUInt32LE(i, 0);
  return v;
}
let rng = 0x9e3779b9;
const rand = (n: number) => {
  rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
  return rng % n;
};

async function main(): Promise<void> {
  const dir = path.join(root, 'data');
  const manager = new RecoveryManager({
    dir,
    maxRetained: 2,
    wal: { segmentSizeBytes: 64 * 1024 * 1024 },
    // No automatic compaction: this measures what each kind costs.
    checkpoint: { maxChainLength: 1000, maxDeltaRatio: 1000 },
  });
  let s = await manager.open();
  for (let i = 0; i < KEYS; i++) {
    s.store.put(key(i), value(i, 0));
    if (i % 50_000 === 49_999) await s.store.durable();
  }
  const first = await s.checkpoint();
  if (!json)
    console.log(`state: ${KEYS} keys × 100 B, base of ${(first.stateBytes / 2 ** 20).toFixed(1)} MiB`);

  let round = 1;
  const change = () => {
    for (let j = 0; j < CHANGED; j++) {
      const i = rand(KEYS);
      if (j % 50 === 0) s.store.delete(key(i));
      else s.store.put(key(i), value(i, round));
    }
    round++;
  };
  // Incremental regime: deltas on the base just taken. Full regime: a base every time (each
  // also pays for deleting the base before it, as a full-checkpoint regime does).
  const deltas: IncrementalCheckpointMetadata[] = [];
  const fulls: IncrementalCheckpointMetadata[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    change();
    deltas.push(await s.checkpoint());
    if (deltas.at(-1)!.kind !== 'delta') throw new Error('expected a delta');
  }
  for (let r = 0; r < ROUNDS; r++) {
    change();
    fulls.push(await s.checkpoint(undefined, { forceBase: true }));
    if (fulls.at(-1)!.kind !== 'base') throw new Error('expected a base');
  }
  const tDelta = median(deltas.map((d) => d.durationMs));
  const tFull = median(fulls.map((d) => d.durationMs));
  const bDelta = median(deltas.map((d) => d.stateBytes));
  const bFull = median(fulls.map((d) => d.stateBytes));
  report('checkpoint_delta_1pct_ms', tDelta, 'ms');
  report('checkpoint_full_ms', tFull, 'ms');
  report('checkpoint_delta_1pct_bytes', bDelta, 'bytes');
  report('checkpoint_full_bytes', bFull, 'bytes');
  report('incremental_vs_full_time_1pct', tDelta / tFull, 'ratio');
  report('incremental_vs_full_bytes_1pct', bDelta / bFull, 'ratio');

  // Recovery: a base, then 10 deltas of 1 % each, against one base of the same state.
  await s.checkpoint(undefined, { forceBase: true });
  for (let d = 0; d < 10; d++) {
    change();
    const m = await s.checkpoint();
    if (m.kind !== 'delta' || m.chainLength !== d + 1) throw new Error('expected a chain of deltas');
  }
  await s.close();
  const chainMs: number[] = [];
  const baseMs: number[] = [];
  const recover = async () => {
    const t0 = performance.now();
    const rec = await new RecoveryManager({ dir }).recover();
    const ms = performance.now() - t0;
    // Only the checkpoint's marker and the clean-shutdown record of the close follow it.
    if (rec.stats.recordsReplayed > 2) throw new Error(`replayed ${rec.stats.recordsReplayed} records`);
    return ms;
  };
  for (let r = 0; r < ROUNDS; r++) chainMs.push(await recover());
  s = await manager.open();
  const compacted = await s.checkpoint(undefined, { forceBase: true });
  await s.close();
  if (compacted.kind !== 'base') throw new Error('expected a base');
  for (let r = 0; r < ROUNDS; r++) baseMs.push(await recover());
  report('recovery_base_plus_10_deltas_ms', median(chainMs), 'ms');
  report('recovery_one_base_ms', median(baseMs), 'ms');
  report('recovery_base_plus_10_deltas_vs_one_base', median(chainMs) / median(baseMs), 'ratio');

  // WAL replay alone: KEYS puts of 100 B and no checkpoint, recovered read-only (one base's worth
  // of records applied one by one from the log).
  const replayDir = path.join(root, 'replay');
  const w = await new RecoveryManager({
    dir: replayDir,
    wal: { segmentSizeBytes: 64 * 1024 * 1024 },
    checkpoint: { walSizeThresholdBytes: 0, recoveryCheckpointRecords: 0 },
  }).open();
  for (let i = 0; i < KEYS; i++) {
    w.store.put(key(i), value(i, 0));
    if (i % 50_000 === 49_999) await w.store.durable();
  }
  await w.close();
  const replayRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const rec = await new RecoveryManager({ dir: replayDir }).recover();
    const ms = performance.now() - t0;
    if (rec.stats.recordsReplayed < KEYS) throw new Error(`replayed ${rec.stats.recordsReplayed} records`);
    replayRates.push(rec.stats.recordsReplayed / (ms / 1000));
  }
  report('wal_replay_records_per_s', Math.round(median(replayRates)), 'records/s');

  if (!json) {
    console.log(
      `\nincremental checkpoints, ${KEYS} keys × 100 B, ${CHANGED} keys (1 %) changed, medians of ${ROUNDS}`,
    );
    for (const r of results)
      console.log(
        `${r.name.padEnd(44)} ${r.value.toFixed(r.unit === 'ratio' ? 4 : 1).padStart(14)} ${r.unit}`,
      );
  }
}

async function ring1Rss(): Promise<void> {
  const n = Number(process.env.TIDEMARK_BENCH_RSS_KEYS ?? KEYS);
  const dir = path.join(root, 'ring1');
  const options = {
    dir,
    wal: { segmentSizeBytes: 64 * 1024 * 1024 },
    checkpoint: { maxChainLength: 1, recoveryCheckpointRecords: 0 },
  };
  let { store } = await openChangelogAwareStore(options);
  let stateBytes = 0;
  for (let i = 0; i < n; i++) {
    const k = key(i);
    store.put(k, value(i, 0));
    stateBytes += Buffer.byteLength(k) + 100;
    if ((i & 0x3fff) === 0 && !store.isWritable) await store.writable();
  }
  await store.durable();
  await store.checkpoint();
  await store.close();
  ({ store } = await openChangelogAwareStore(options));
  for (let j = 0; j < Math.floor(n / 100); j++) {
    const i = rand(n);
    store.put(key(i), value(i, 7));
    if ((j & 0x3fff) === 0 && !store.isWritable) await store.writable();
  }
  await store.durable();
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  const delta = await store.checkpoint();
  for (let j = 0; j < Math.floor(n / 100); j++) {
    const i = rand(n);
    store.put(key(i), value(i, 8));
    if ((j & 0x3fff) === 0 && !store.isWritable) await store.writable();
  }
  await store.durable();
  const base = await store.checkpoint();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  await store.close();
  if (delta.kind !== 'delta' || base.kind !== 'base')
    throw new Error(`expected a delta then a base, got ${delta.kind}, ${base.kind}`);
  if (!json)
    console.log(
      `ring 1: ${n} keys, state ${(stateBytes / 2 ** 20).toFixed(0)} MiB, RSS +${((peak - before) / 2 ** 20).toFixed(0)} MiB during the checkpoints after reopen: ring1_rss_vs_state_bytes ${((peak - before) / stateBytes).toFixed(4)}`,
    );
  report('ring1_rss_vs_state_bytes', (peak - before) / stateBytes, 'ratio');
}

try {
  await main();
  await ring1Rss();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
