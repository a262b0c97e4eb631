/**
 * The in-memory state backend: `SlabStore` (byte slabs + typed-array B+-tree) against a plain
 * `Map<string, Uint8Array>` (what both engines hold today) and, when installed, the npm package
 * `sorted-btree` (an ordered peer; skipped with a note when missing).
 *
 * Per engine and value size (16 B and 32 B), in a fresh child process run with `--expose-gc`:
 * KEYS keys (default 1,000,000; quick: 100,000) of 16 B (`k` + 15 digits, inserted in a shuffled
 * order), each with its own value.
 * - `state_overhead_bytes_per_key_<engine>_v<size>`: (heapUsed + arrayBuffers after − before,
 *   each after `global.gc()`) ÷ KEYS − (16 + size): what the structure costs beyond key and value.
 * - `put_ns_per_op_<engine>_v<size>`: the KEYS inserts, mean.
 * - `get_p99_ns_<engine>_v<size>`: 99th percentile of 100,000 single random gets, each timed with
 *   `process.hrtime.bigint()` (includes ~50 ns of timer cost, the same for every engine).
 * - `range_scan_keys_per_s_<engine>_v<size>`: scans of 1,000 keys from random starts (ordered
 *   engines only: a `Map` has no order).
 *
 *   npm run bench -- --only state-backend            table
 *   npm run -s bench -- --only state-backend --json  one {"name","value","unit"} per line
 *   TIDEMARK_BENCH_KEYS=10000000                     more keys
 *   TIDEMARK_BENCH_QUICK=1                           100,000 keys (checks that it runs)
 */
import { spawnSync } from 'node:child_process';
import { SlabStore } from '../dist/index.js';

const json = process.argv.includes('--json');
const QUICK = process.env.TIDEMARK_BENCH_QUICK === '1';
const KEYS = Number(process.env.TIDEMARK_BENCH_KEYS ?? (QUICK ? 100_000 : 1_000_000));
const GETS = 100_000;
const SCANS = QUICK ? 100 : 1000;
const SCAN_LENGTH = 1000;
const KEY_BYTES = 16;

type Result = { name: string; value: number; unit: string };

interface Engine {
  put(key: string, value: Uint8Array): void;
  get(key: string): Uint8Array | undefined;
  /** Keys visited by a scan of `n` keys from `start`; undefined: no ordered scans. */
  scan?: (start: string, n: number) => number;
}

async function makeEngine(name: string): Promise<Engine | string> {
  if (name === 'slab') {
    const s = new SlabStore();
    return {
      put: (k, v) => s.put(k, v),
      get: (k) => s.get(k),
      scan: (start, n) => {
        let c = 0;
        for (const _ of s.rangeScan(start, undefined, { limit: n })) c++;
        return c;
      },
    };
  }
  if (name === 'map') {
    const m = new Map<string, Uint8Array>();
    return { put: (k, v) => void m.set(k, v), get: (k) => m.get(k) };
  }
  // sorted-btree: an optional peer, not a dependency; the name is a variable so that neither
  // tsc nor the bundler require it.
  const moduleName = 'sorted-btree';
  let BTree: new () => {
    set(k: string, v: Uint8Array): void;
    get(k: string): Uint8Array | undefined;
    entries(low?: string): IterableIterator<[string, Uint8Array]>;
  };
  try {
    const mod = (await import(moduleName)) as { default: { default?: unknown } | typeof BTree };
    BTree = ((mod.default as { default?: unknown }).default ?? mod.default) as typeof BTree;
  } catch {
    return 'the npm package sorted-btree is not installed: peer skipped';
  }
  const t = new BTree();
  return {
    put: (k, v) => t.set(k, v),
    get: (k) => t.get(k),
    scan: (start, n) => {
      let c = 0;
      for (const _ of t.entries(start)) if (++c >= n) break;
      return c;
    },
  };
}

const key = (i: number) => `k${String(i).padStart(KEY_BYTES - 1, '0')}`;
let rng = 0x2545f491;
const rand = (n: number) => {
  rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0;
  return rng % n;
};

function memory(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function runCase(engineName: string, valueBytes: number): Promise<void> {
  const order = new Uint32Array(KEYS);
  for (let i = 0; i < KEYS; i++) order[i] = i;
  for (let i = KEYS - 1; i > 0; i--) {
    const j = rand(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  const probes = Array.from({ length: GETS }, () => key(rand(KEYS)));
  const starts = Array.from({ length: SCANS }, () => key(rand(KEYS)));
  const before = memory();
  const engine = await makeEngine(engineName);
  if (typeof engine === 'string') {
    console.log(JSON.stringify({ note: engine }));
    return;
  }
  const out: Result[] = [];
  const tag = `${engineName}_v${valueBytes}`;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < KEYS; i++) {
    const v = new Uint8Array(valueBytes); // every engine gets its own value, as the stores do
    v[0] = i & 0xff;
    engine.put(key(order[i]!), v);
  }
  const putNs = Number(process.hrtime.bigint() - t0) / KEYS;
  const after = memory();
  out.push({
    name: `state_overhead_bytes_per_key_${tag}`,
    value: (after - before) / KEYS - (KEY_BYTES + valueBytes),
    unit: 'B',
  });
  out.push({ name: `put_ns_per_op_${tag}`, value: putNs, unit: 'ns' });
  const times = new Float64Array(GETS);
  let found = 0;
  for (let i = 0; i < GETS; i++) {
    const t = process.hrtime.bigint();
    if (engine.get(probes[i]!) !== undefined) found++;
    times[i] = Number(process.hrtime.bigint() - t);
  }
  if (found !== GETS) throw new Error(`${engineName}: ${GETS - found} keys missing`);
  times.sort();
  out.push({ name: `get_p99_ns_${tag}`, value: times[Math.floor(GETS * 0.99)]!, unit: 'ns' });
  if (engine.scan !== undefined) {
    let visited = 0;
    const s0 = process.hrtime.bigint();
    for (const start of starts) visited += engine.scan(start, SCAN_LENGTH);
    const seconds = Number(process.hrtime.bigint() - s0) / 1e9;
    out.push({ name: `range_scan_keys_per_s_${tag}`, value: visited / seconds, unit: 'keys/s' });
  }
  for (const r of out) console.log(JSON.stringify(r));
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--case');
  if (at >= 0) {
    const [engine, size] = process.argv[at + 1]!.split(':');
    await runCase(engine!, Number(size));
    return;
  }
  const results: Result[] = [];
  for (const valueBytes of [16, 32]) {
    for (const engine of ['slab', 'map', 'sorted-btree']) {
      const r = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', process.argv[1]!, '--case', `${engine}:${valueBytes}`],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: process.env },
      );
      if (r.status !== 0)
        throw new Error(`state-backend case ${engine}:${valueBytes} failed (exit ${r.status})`);
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const parsed = JSON.parse(line) as Result | { note: string };
        if ('note' in parsed) {
          if (!json) console.log(`note: ${parsed.note}`);
          else process.stderr.write(`state-backend: ${parsed.note}\n`);
          continue;
        }
        results.push(parsed);
        if (json) console.log(JSON.stringify(parsed));
      }
    }
  }
  if (!json) {
    console.log(`state backend: ${KEYS} keys of ${KEY_BYTES} B`);
    for (const r of results) console.log(`${r.name.padEnd(44)} ${r.value.toFixed(1).padStart(14)} ${r.unit}`);
  }
}

await main();
