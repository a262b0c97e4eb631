/**
 * tidemark against the databases a Node user would pick instead, doing the same work in the same
 * run: durable commits of one key/value put each, from C concurrent async clients.
 *
 * Engines (all on the same temp file system, a fresh directory per case):
 *
 * - `tidemark_simple`: `new RecoveryManager({ dir, wal }).open()`; a commit is
 *   `store.put(key, value)`, `store.commit({})`, `await store.flushed(lsn)`.
 * - `tidemark_ring`: `openChangelogAwareStore({ dir, wal })` (Ring 1 worker thread writes the WAL);
 *   a commit is `store.put`, `store.commit({})`, `await store.flushed(sequence)`.
 *   Both use `wal.groupCommitDelayMs = 0` (a group is flushed on the next turn of the event loop,
 *   the same batching the sqlite harness below does; the default 2 ms delay would make a lone
 *   committer wait 2 ms for others); override with TIDEMARK_BENCH_GROUP_DELAY_MS.
 * - `sqlite`: better-sqlite3, `journal_mode = WAL`, `synchronous = FULL` (every commit syncs the
 *   WAL file), one table `kv(key TEXT PRIMARY KEY, value BLOB)`, upsert
 *   (`INSERT … ON CONFLICT(key) DO UPDATE`). The driver is synchronous, so "concurrency" is
 *   user-land group commit, the best a Node user can do with it: a client's commit is queued and
 *   a `setImmediate` callback scheduled by the first commit of a turn applies every commit queued
 *   so far in one transaction (`db.transaction`), then resolves their promises. Those clients
 *   queue their next commits while the loop runs on, and the next batch goes in the next turn.
 *   Other defaults are SQLite's (wal_autocheckpoint 1000 pages, so checkpoints run inside the
 *   measured time, as they would in production).
 * - `lmdb`: lmdb-js `open({ path, encoding: 'binary', separateFlushed: true })` with its default
 *   durable commits (no `noSync`; `overlappingSync` on, its Linux default) and default
 *   `commitDelay` 0: `put()`s of one event-loop turn go into one transaction, committed by
 *   lmdb's write thread. With `overlappingSync` the `put()` promise resolves when the transaction
 *   is committed and visible, before it is on disk, so a client awaits `put(…).flushed` (what
 *   `separateFlushed` adds: the flush of that transaction) — durable, like the others.
 *
 * Workload per case: C clients (C = 1, 16, 256) each loop { put(key, value); commit; await
 * durable } with a new key each time (so upserts insert) and values of 100 B or 1 KiB. A case
 * runs for CASE_MS ms (default 500; TIDEMARK_BENCH_CASE_MS) or until MAX commits (20,000 × C,
 * at most 400,000; TIDEMARK_BENCH_MAX_COMMITS) whichever comes first, after a short warm-up;
 * commits/s = commits completed ÷ time until the last one was durable. Opening and closing are
 * outside the measured time. Each round runs every case once, the engines' order rotating from
 * round to round; the medians of ROUNDS rounds (default 3) are reported.
 *
 * `wal_cpu_ns_per_record_*`: process CPU time (user + system, every thread; `process.cpuUsage`)
 * per record for tidemark's WriteAheadLog appending 100 B / 1 KiB put records in groups of 512,
 * each group awaited durable before the next is appended.
 *
 *   npm run bench -- --only peers            table (and the machine: node version, CPUs)
 *   npm run -s bench -- --only peers --json  one {"name","value","unit"} per line
 *   TIDEMARK_BENCH_QUICK=1                   1 round of 150 ms cases (checks that it runs)
 *   TIDEMARK_BENCH_DIR=/mnt/nvme             where the temp directories go (default os.tmpdir())
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FsDirectory,
  openChangelogAwareStore,
  PutEncoder,
  RecoveryManager,
  type WalOptions,
  WriteAheadLog,
} from '../dist/index.js';
import { openLmdbStore, openSqlite } from './helpers/peer-engines.ts';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const ROUNDS = Number(process.env.TIDEMARK_BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const CASE_MS = Number(process.env.TIDEMARK_BENCH_CASE_MS ?? (QUICK ? 150 : 500));
const MAX_COMMITS = process.env.TIDEMARK_BENCH_MAX_COMMITS
  ? Number(process.env.TIDEMARK_BENCH_MAX_COMMITS)
  : undefined;
const GROUP_DELAY_MS = Number(process.env.TIDEMARK_BENCH_GROUP_DELAY_MS ?? 0);
const WAL_GROUPS = QUICK ? 10 : 100;
const CONCURRENCY = [1, 16, 256];
const SIZES = [
  { bytes: 100, label: '100B' },
  { bytes: 1024, label: '1KiB' },
];
const ENGINES = ['tidemark_simple', 'tidemark_ring', 'sqlite', 'lmdb'] as const;
type EngineName = (typeof ENGINES)[number];

const base = fs.mkdtempSync(path.join(process.env.TIDEMARK_BENCH_DIR ?? os.tmpdir(), 'tidemark-peers-'));
let seq = 0;
const fresh = (label: string) => path.join(base, `${label}-${seq++}`);

/** One engine, open on a fresh directory: a durable commit of one put, and close. */
interface Engine {
  commit(key: string, value: Buffer): Promise<unknown>;
  close(): Promise<void>;
}

const NO_OFFSETS = {};
const wal: WalOptions = { groupCommitDelayMs: GROUP_DELAY_MS };

async function openTidemarkSimple(dir: string): Promise<Engine> {
  const opened = await new RecoveryManager({ dir, wal }).open();
  const { store } = opened;
  return {
    commit(key, value) {
      store.put(key, value);
      return store.flushed(store.commit(NO_OFFSETS));
    },
    close: () => opened.close(),
  };
}

async function openTidemarkRing(dir: string): Promise<Engine> {
  const { store } = await openChangelogAwareStore({ dir, wal });
  return {
    commit(key, value) {
      store.put(key, value);
      return store.flushed(store.commit(NO_OFFSETS));
    },
    close: () => store.close(),
  };
}

const openers: Record<EngineName, (dir: string) => Promise<Engine>> = {
  tidemark_simple: openTidemarkSimple,
  tidemark_ring: openTidemarkRing,
  sqlite: openSqlite,
  lmdb: openLmdbStore,
};

/** `clients` loops of commit-and-await until `until` (ms, performance.now()) or `max` commits. */
async function drive(engine: Engine, value: Buffer, clients: number, max: number, until: number) {
  let started = 0;
  let done = 0;
  const client = async (c: number) => {
    while (started < max && performance.now() < until) {
      started++;
      await engine.commit(`c${c}:${String(started).padStart(10, '0')}`, value);
      done++;
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return done;
}

/** Commits/s of one engine, one value size, one concurrency, on a fresh directory. */
async function runCase(name: EngineName, bytes: number, clients: number): Promise<number> {
  const dir = fresh(name);
  const engine = await openers[name](dir);
  const value = Buffer.alloc(bytes, 0x5a);
  try {
    // Warm-up: files created, code paths compiled, threads started.
    await drive(engine, value, clients, clients * 4, performance.now() + 1000);
    const max = MAX_COMMITS ?? Math.min(20_000 * clients, 400_000);
    const t0 = performance.now();
    const commits = await drive(engine, value, clients, max, t0 + CASE_MS);
    return commits / ((performance.now() - t0) / 1000);
  } finally {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU ns (user + system, whole process) per durable WAL record, groups of 512 awaited in turn. */
async function walCpuNsPerRecord(bytes: number): Promise<number> {
  const dirPath = fresh('wal-cpu');
  const log = await WriteAheadLog.open(await FsDirectory.open(dirPath), {
    groupCommitBytes: 512 * (bytes + 64),
    groupCommitDelayMs: 60_000,
  });
  const put = new PutEncoder();
  const value = Buffer.alloc(bytes - 4 - 8, 7); // payload = 4-byte key length + 8-byte key + value
  const group = async () => {
    for (let i = 0; i < 512; i++) log.append(put.set('key00000', value));
    await log.sync();
  };
  try {
    for (let g = 0; g < 2; g++) await group();
    const before = process.cpuUsage();
    for (let g = 0; g < WAL_GROUPS; g++) await group();
    const used = process.cpuUsage(before);
    return ((used.user + used.system) * 1000) / (WAL_GROUPS * 512);
  } finally {
    await log.close();
    fs.rmSync(dirPath, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const samples = new Map<string, number[]>();
const sample = (name: string, value: number) => {
  const list = samples.get(name) ?? [];
  list.push(value);
  samples.set(name, list);
};

const began = performance.now();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const { bytes, label } of SIZES)
      sample(`wal_cpu_ns_per_record_${label}`, await walCpuNsPerRecord(bytes));
    for (const { bytes, label } of SIZES) {
      for (const c of CONCURRENCY) {
        for (let i = 0; i < ENGINES.length; i++) {
          const name = ENGINES[(i + round) % ENGINES.length]!;
          sample(`commits_per_s_c${c}_${name}_${label}`, await runCase(name, bytes, c));
        }
      }
    }
    if (!json) process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}

const lines: { name: string; value: number; unit: string }[] = [];
const med = (name: string) => median(samples.get(name)!);
for (const { label } of SIZES) {
  for (const c of CONCURRENCY) {
    for (const name of ENGINES) {
      const key = `commits_per_s_c${c}_${name}_${label}`;
      lines.push({ name: key, value: Math.round(med(key)), unit: 'commits/s' });
    }
  }
}
for (const { label } of SIZES) {
  for (const c of CONCURRENCY) {
    const rate = (name: EngineName) => med(`commits_per_s_c${c}_${name}_${label}`);
    const ours = Math.max(rate('tidemark_simple'), rate('tidemark_ring'));
    const peer = Math.max(rate('sqlite'), rate('lmdb'));
    lines.push({
      name: `tidemark_vs_best_peer_c${c}_${label}`,
      value: Number((ours / peer).toFixed(3)),
      unit: 'ratio',
    });
  }
}
for (const { label } of SIZES) {
  const key = `wal_cpu_ns_per_record_${label}`;
  lines.push({ name: key, value: Math.round(med(key)), unit: 'ns' });
}

if (json) for (const l of lines) console.log(JSON.stringify(l));
else {
  const cpu = os.cpus();
  console.log(
    `machine: node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model ?? 'unknown'}), ${os.platform()} ${os.arch()}, temp dir ${path.dirname(base)}`,
  );
  console.log(
    `durable commits/s, one put per commit, ${CASE_MS} ms per case, medians of ${ROUNDS} rounds (${((performance.now() - began) / 1000).toFixed(0)} s)`,
  );
  console.log(`${'case'.padEnd(10)}${ENGINES.map((e) => e.padStart(17)).join('')}   tidemark/best peer`);
  for (const { label } of SIZES) {
    for (const c of CONCURRENCY) {
      const get = (n: string) => lines.find((l) => l.name === n)!.value;
      const cells = ENGINES.map((e) => String(get(`commits_per_s_c${c}_${e}_${label}`)).padStart(17));
      const ratio = get(`tidemark_vs_best_peer_c${c}_${label}`).toFixed(3).padStart(21);
      console.log(`${`c${c} ${label}`.padEnd(10)}${cells.join('')}${ratio}`);
    }
  }
  for (const { label } of SIZES) {
    const key = `wal_cpu_ns_per_record_${label}`;
    console.log(`${key.padEnd(30)} ${lines.find((l) => l.name === key)!.value} ns (WAL, groups of 512)`);
  }
}
