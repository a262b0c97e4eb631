/**
 * Commit latency of tidemark's two stores with their default WAL options (group commit as
 * shipped: leader/follower, `groupCommitDelayMs` default): C concurrent async clients each loop
 * { put(key, 200 B value); commit; await flushed(position) }, C = 1, 16, 256.
 *
 * - `simple`: `new RecoveryManager({ dir }).open()` (the caller's thread appends to the WAL).
 * - `ring`: `openChangelogAwareStore({ dir })` (Ring 1 worker thread writes the WAL).
 *
 * A case runs N commits in all (default 2,000 × C, at most 100,000; TIDEMARK_BENCH_COMMITS) or
 * for CASE_MS ms (default 1,000; TIDEMARK_BENCH_CASE_MS), whichever ends first, after a short
 * warm-up; opening and closing are outside the measured time. Prints, per case:
 *
 *   commit_latency_commits_per_s_c<C>_<store>   commits/s
 *   commit_latency_mean_us_c<C>_<store>          mean time from put to durable, µs
 *   commit_latency_commits_per_group_c<C>_<store>  commits per WAL group (batching)
 *
 * and the distribution of the same latencies, for both stores and for the peers (sqlite, lmdb:
 * bench/helpers/peer-engines.ts, the setup of the peers benchmark) driven the same way:
 *
 *   commit_latency_histogram_c<C>_<engine>  {"value": samples, "unit": "histogram",
 *                                             "buckets": [{"le_us", "count"}, …]}
 *
 * with <engine> simple, ring, sqlite, lmdb; buckets are log-spaced, 8 per decade, from the first
 * non-empty one to the last, counts not cumulative (bench/helpers/latency-histogram.ts).
 * `npm run bench -- --html FILE` charts them.
 *
 * (The peers benchmark uses `commits_per_s_*`; these names do not collide with it.)
 *
 *   npm run bench -- --only commit-latency            table
 *   npm run -s bench -- --only commit-latency --json  one {"name","value","unit"} per line
 *   TIDEMARK_BENCH_QUICK=1                            small cases (checks that it runs)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openChangelogAwareStore, RecoveryManager } from '../dist/index.js';
import { type HistogramLine, LatencyHistogram } from './helpers/latency-histogram.ts';
import { openLmdbStore, openSqlite } from './helpers/peer-engines.ts';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const CASE_MS = Number(process.env.TIDEMARK_BENCH_CASE_MS ?? (QUICK ? 150 : 1000));
const COMMITS = process.env.TIDEMARK_BENCH_COMMITS ? Number(process.env.TIDEMARK_BENCH_COMMITS) : undefined;
const CONCURRENCY = [1, 16, 256];
const VALUE = Buffer.alloc(200, 0x5a);

const base = fs.mkdtempSync(
  path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-commit-latency-'),
);
let dirSeq = 0;

/** One store, as the benchmark drives it. */
interface Engine {
  commit(key: string): Promise<void>;
  groups(): number;
  close(): Promise<void>;
}

async function openSimple(): Promise<Engine> {
  const opened = await new RecoveryManager({ dir: path.join(base, `simple-${dirSeq++}`) }).open();
  const { store } = opened;
  let offset = 0;
  return {
    commit(key) {
      store.put(key, VALUE);
      return store.flushed(store.commit({ bench: ++offset }));
    },
    groups: () => store.wal.stats().groupsCommitted,
    close: () => opened.close(),
  };
}

async function openRing(): Promise<Engine> {
  const { store } = await openChangelogAwareStore({ dir: path.join(base, `ring-${dirSeq++}`) });
  let offset = 0;
  return {
    commit(key) {
      store.put(key, VALUE);
      return store.flushed(store.commit({ bench: ++offset }));
    },
    groups: () => store.stats().walGroupsCommitted,
    close: () => store.close(),
  };
}

/** A peer (sqlite, lmdb) as an Engine; only its latency histogram is reported (no WAL groups). */
async function openPeer(label: 'sqlite' | 'lmdb'): Promise<Engine> {
  const engine = await (label === 'sqlite' ? openSqlite : openLmdbStore)(
    path.join(base, `${label}-${dirSeq++}`),
  );
  return {
    commit: async (key) => {
      await engine.commit(key, VALUE);
    },
    groups: () => 0,
    close: () => engine.close(),
  };
}

interface Result {
  commitsPerS: number;
  meanUs: number;
  commitsPerGroup: number;
  histogram: LatencyHistogram;
}

async function runCase(engine: Engine, concurrency: number): Promise<Result> {
  const limit = COMMITS ?? Math.min(2000 * concurrency, 100_000);
  let key = 0;
  // Warm-up: a few rounds so the first group's allocations and the worker's start are not measured.
  await Promise.all(Array.from({ length: concurrency }, () => engine.commit(`w${key++}`)));
  const groups0 = engine.groups();
  let done = 0;
  let latencyNs = 0n;
  const histogram = new LatencyHistogram();
  const t0 = performance.now();
  const deadline = t0 + CASE_MS;
  let last = t0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (done < limit && performance.now() < deadline) {
        const s = process.hrtime.bigint();
        await engine.commit(`k${key++}`);
        const ns = process.hrtime.bigint() - s;
        latencyNs += ns;
        histogram.record(Number(ns));
        done++;
        last = performance.now();
      }
    }),
  );
  const seconds = (last - t0) / 1000;
  const groups = Math.max(1, engine.groups() - groups0);
  return {
    commitsPerS: done / seconds,
    meanUs: Number(latencyNs / BigInt(Math.max(1, done))) / 1000,
    commitsPerGroup: done / groups,
    histogram,
  };
}

const rows: { name: string; value: number; unit: string }[] = [];
const histograms: { line: HistogramLine; histogram: LatencyHistogram }[] = [];
const histogramOf = (c: number, label: string, histogram: LatencyHistogram) =>
  histograms.push({ line: histogram.toLine(`commit_latency_histogram_c${c}_${label}`), histogram });
try {
  for (const [label, open] of [
    ['simple', openSimple],
    ['ring', openRing],
  ] as const) {
    for (const c of CONCURRENCY) {
      const engine = await open();
      try {
        const r = await runCase(engine, c);
        rows.push(
          {
            name: `commit_latency_commits_per_s_c${c}_${label}`,
            value: Math.round(r.commitsPerS),
            unit: 'commits/s',
          },
          { name: `commit_latency_mean_us_c${c}_${label}`, value: Math.round(r.meanUs), unit: 'us' },
          {
            name: `commit_latency_commits_per_group_c${c}_${label}`,
            value: Math.round(r.commitsPerGroup * 10) / 10,
            unit: 'commits/group',
          },
        );
        histogramOf(c, label, r.histogram);
      } finally {
        await engine.close();
      }
    }
  }
  for (const label of ['sqlite', 'lmdb'] as const) {
    for (const c of CONCURRENCY) {
      const engine = await openPeer(label);
      try {
        histogramOf(c, label, (await runCase(engine, c)).histogram);
      } finally {
        await engine.close();
      }
    }
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}

if (json) for (const row of [...rows, ...histograms.map((h) => h.line)]) console.log(JSON.stringify(row));
else {
  console.log(
    `commit latency: put 200 B + commit + await flushed, default WAL options (node ${process.version})`,
  );
  for (const row of rows)
    console.log(`  ${row.name.padEnd(48)} ${String(row.value).padStart(10)} ${row.unit}`);
  for (const { line, histogram } of histograms) {
    const q = (x: number) => histogram.quantileUpperBoundUs(x) ?? '>100 s';
    console.log(
      `  ${line.name.padEnd(48)} ${String(line.value).padStart(10)} commits, p50 ≤ ${q(0.5)} µs, p99 ≤ ${q(0.99)} µs`,
    );
  }
}
