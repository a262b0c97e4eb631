/**
 * State at scale, in the open: writes N keys through the public API, checkpoints, overwrites 1 %
 * of them (acknowledged durable after the checkpoint, so they live only in the WAL), is killed
 * with SIGKILL, reopens in a fresh process and checks every key's value against a
 * recomputation. Prints `state_keys_max_verified` (N when every key held), the write and
 * recovery rates and the peak RSS of each process, per engine.
 *
 *   npm run bench:scale -- --keys 2000000                  table
 *   npm run -s bench:scale -- --keys 50000000 --json       one {"name","value","unit"} per line
 *   --engine simple|changelog|both (default both)   --dir D (default: a temp dir, removed after)
 *
 * Keys are 16 ASCII bytes (`i` zero-padded), values 32 bytes derived from `i` and a version, as
 * the scale target names them (16-byte keys, 32-byte values). Runs on the compiled `dist/`
 * (scripts/bench-scale.mjs builds it first). Not part of the default test suite, except a
 * 2,000,000-key run (test/crash/scale-2m.test.ts).
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openChangelogAwareStore, RecoveryManager } from '../dist/index.js';

type Engine = 'simple' | 'changelog';

interface WriterReport {
  kind: 'written';
  writeMs: number;
  checkpointMs: number;
  tailKeys: number;
  peakRssBytes: number;
}
interface VerifierReport {
  kind: 'verified';
  openMs: number;
  verified: number;
  mismatched: number;
  firstMismatch?: string;
  peakRssBytes: number;
}

const KEY_BYTES = 16;
const VALUE_BYTES = 32;
/** Every 100th key is overwritten after the checkpoint: 1 % of the state replayed from the WAL. */
const TAIL_STRIDE = 100;
const COMMIT_EVERY = 10_000;
const DURABLE_EVERY = 200_000;

const keyOf = (i: number): string => String(i).padStart(KEY_BYTES, '0');

/** The value of key `i` at `version`: 32 bytes a recomputation reproduces. */
function expectedValue(i: number, version: number, into: Buffer = Buffer.allocUnsafe(VALUE_BYTES)): Buffer {
  let x = (Math.imul(i, 0x9e3779b1) ^ Math.imul(version + 1, 0x85ebca6b)) >>> 0;
  into.writeUInt32LE(i >>> 0, 0);
  into.writeUInt32LE(version, 4);
  for (let o = 8; o < VALUE_BYTES; o += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    into.writeUInt32LE(x >>> 0, o);
  }
  return into;
}

const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** The operations both engines share, so one loop drives either. */
interface Target {
  put(key: string, value: Uint8Array): void;
  commit(offset: number): number;
  flushed(position: number): Promise<void>;
  checkpoint(): Promise<unknown>;
  get(key: string): Uint8Array | undefined;
  close(): Promise<void>;
}

async function open(engine: Engine, dir: string): Promise<Target> {
  if (engine === 'changelog') {
    const { store } = await openChangelogAwareStore({
      dir,
      transactional: true,
      backpressure: 'wait',
    });
    return {
      put: (k, v) => {
        store.put(k, v);
      },
      commit: (offset) => store.commit({ scale: offset }),
      flushed: (seq) => store.flushed(seq),
      checkpoint: () => store.checkpoint(),
      get: (k) => store.get(k),
      close: () => store.close(),
    };
  }
  const opened = await new RecoveryManager({ dir, transactional: true }).open();
  return {
    put: (k, v) => {
      opened.store.put(k, v);
    },
    commit: (offset) => opened.store.commit({ scale: offset }),
    flushed: (lsn) => opened.store.flushed(lsn),
    checkpoint: () => opened.checkpoint(),
    get: (k) => opened.store.get(k),
    close: () => opened.close(),
  };
}

/** Child: write N keys, checkpoint, overwrite 1 %, report, then wait to be killed. */
async function write(engine: Engine, dir: string, keys: number): Promise<void> {
  const store = await open(engine, dir);
  const scratch = Buffer.allocUnsafe(VALUE_BYTES);
  const t0 = performance.now();
  let position = 0;
  for (let i = 0; i < keys; i++) {
    // The stores copy the value (the Ring 0 arena or the WAL buffer), so one scratch is safe.
    store.put(keyOf(i), expectedValue(i, 0, scratch));
    if ((i + 1) % COMMIT_EVERY === 0 || i === keys - 1) position = store.commit(i + 1);
    if ((i + 1) % DURABLE_EVERY === 0) await store.flushed(position);
  }
  await store.flushed(position);
  const writeMs = performance.now() - t0;
  const t1 = performance.now();
  await store.checkpoint();
  const checkpointMs = performance.now() - t1;
  let tailKeys = 0;
  for (let i = 0; i < keys; i += TAIL_STRIDE) {
    store.put(keyOf(i), expectedValue(i, 1, scratch));
    tailKeys++;
    if (tailKeys % COMMIT_EVERY === 0) position = store.commit(keys + tailKeys);
  }
  position = store.commit(keys + tailKeys);
  await store.flushed(position);
  const report: WriterReport = { kind: 'written', writeMs, checkpointMs, tailKeys, peakRssBytes: peakRss() };
  process.send!(report);
  // Acknowledged and durable: the parent kills this process now (SIGKILL), nothing is closed.
  setInterval(() => {}, 1000);
}

/** Child: reopen (recovery), then check every key against its recomputation. */
async function verify(engine: Engine, dir: string, keys: number): Promise<void> {
  const t0 = performance.now();
  const store = await open(engine, dir);
  const openMs = performance.now() - t0;
  const expected = Buffer.allocUnsafe(VALUE_BYTES);
  let verified = 0;
  let mismatched = 0;
  let firstMismatch: string | undefined;
  for (let i = 0; i < keys; i++) {
    const got = store.get(keyOf(i));
    expectedValue(i, i % TAIL_STRIDE === 0 ? 1 : 0, expected);
    if (got !== undefined && expected.equals(got)) verified++;
    else {
      mismatched++;
      firstMismatch ??= `${keyOf(i)}: ${got === undefined ? 'missing' : Buffer.from(got).toString('hex')}`;
    }
  }
  const peakRssBytes = peakRss();
  await store.close();
  const report: VerifierReport = { kind: 'verified', openMs, verified, mismatched, peakRssBytes };
  if (firstMismatch !== undefined) report.firstMismatch = firstMismatch;
  process.send!(report);
}

function child<T>(args: string[], onReport?: (child: ReturnType<typeof fork>, r: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), args, {
      execArgv: ['--import', 'tsx', '--max-old-space-size=16384'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: T | undefined;
    c.on('message', (m) => {
      report = m as T;
      onReport?.(c, report);
    });
    c.on('error', reject);
    c.on('exit', (code, signal) => {
      if (report !== undefined) resolve(report);
      else reject(new Error(`bench:scale child ${args.join(' ')} exited ${code ?? signal} without a report`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '2000000' },
      engine: { type: 'string', default: 'both' },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  });
  const keys = Number(values.keys);
  if (!Number.isSafeInteger(keys) || keys < 1 || keys > 2 ** 31) {
    throw new Error(`--keys must be an integer in [1, 2^31], got ${values.keys}`);
  }
  const engines: Engine[] = values.engine === 'both' ? ['simple', 'changelog'] : [values.engine as Engine];
  for (const e of engines) {
    if (e !== 'simple' && e !== 'changelog') throw new Error(`--engine must be simple, changelog or both`);
  }
  if (values.child !== undefined) {
    const [role, engine, dir] = values.child.split(':') as ['write' | 'verify', Engine, string];
    if (role === 'write') await write(engine, dir, keys);
    else await verify(engine, dir, keys);
    return;
  }
  const root = values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-scale-'));
  const lines: { name: string; value: number; unit: string }[] = [];
  const out = (name: string, value: number, unit: string) => {
    lines.push({ name, value, unit });
    if (values.json) console.log(JSON.stringify({ name, value, unit }));
  };
  let minVerified = Number.POSITIVE_INFINITY;
  try {
    for (const engine of engines) {
      const dir = path.join(root, engine);
      fs.rmSync(dir, { recursive: true, force: true });
      const common = ['--keys', String(keys)];
      const w = await child<WriterReport>([...common, '--child', `write:${engine}:${dir}`], (c) => {
        c.kill('SIGKILL');
      });
      const v = await child<VerifierReport>([...common, '--child', `verify:${engine}:${dir}`]);
      if (v.mismatched > 0) {
        console.error(
          `bench:scale ${engine}: ${v.mismatched} keys wrong after recovery, first ${v.firstMismatch}`,
        );
      }
      const heldAll = v.verified === keys;
      const held = heldAll ? keys : 0;
      minVerified = Math.min(minVerified, held);
      out(`state_keys_max_verified_${engine}`, held, 'keys');
      out(`scale_write_keys_per_s_${engine}`, Math.round(keys / (w.writeMs / 1000)), 'keys/s');
      out(`scale_checkpoint_ms_${engine}`, Math.round(w.checkpointMs), 'ms');
      out(`scale_recovery_ms_${engine}`, Math.round(v.openMs), 'ms');
      out(`scale_recovery_keys_per_s_${engine}`, Math.round(keys / (v.openMs / 1000)), 'keys/s');
      out(`scale_peak_rss_writer_mib_${engine}`, Math.round(w.peakRssBytes / 2 ** 20), 'MiB');
      out(`scale_peak_rss_recovery_mib_${engine}`, Math.round(v.peakRssBytes / 2 ** 20), 'MiB');
    }
    out('state_keys_max_verified', minVerified, 'keys');
  } finally {
    if (values.dir === undefined) fs.rmSync(root, { recursive: true, force: true });
  }
  if (!values.json) {
    console.log(`bench:scale, ${keys.toLocaleString('en-US')} keys (16 B keys, 32 B values)`);
    for (const l of lines) console.log(`  ${l.name.padEnd(40)} ${String(l.value).padStart(14)} ${l.unit}`);
  }
  if (minVerified !== keys) process.exitCode = 1;
}

await main();
