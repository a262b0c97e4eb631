// A consumer that resumes exactly once from committed source offsets, on the simple store
// (`RecoveryManager`, transactional).
//
// The source is a deterministic generated stream of events (a stand-in for a Kafka partition or a
// file of lines: anything that can be re-read from an offset). The consumer folds each event into
// per-key totals and, every BATCH events, commits the source offset *in the same commit* as the
// state it produced. After a crash, recovery applies only committed batches, and the consumer
// resumes reading at the recovered offset: every event is folded exactly once, with no duplicates
// (the offset moved with the state) and no gaps (the state never got ahead of the offset).
//
// Run (after `npm run build`):
//   node examples/exactly-once-consumer.mjs [DATA_DIR]
// runs the consumer as child processes: the first two are SIGKILLed mid-batch (with folded but
// uncommitted events in memory), the third runs to the end; then it compares the recovered state
// with a crash-free fold of the same events and exits 0 when they are equal.
//   node examples/exactly-once-consumer.mjs DATA_DIR --consume [--kill-at N]
// runs one consumer (SIGKILLing itself just before folding event N).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecoveryManager } from 'tidemark';

const EVENTS = 5_000;
const BATCH = 64;
const SOURCE = 'events';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The source: event `i` of a deterministic stream. */
function eventAt(i) {
  return { key: `sensor-${(i * 7919) % 13}`, value: (i * 31) % 101 };
}

/** Folds one event into `state` (any Map-like get/put): per-key sum and count. */
function fold(state, { key, value }) {
  const prev = state.get(key);
  const t = prev === undefined ? { sum: 0, count: 0 } : JSON.parse(decoder.decode(prev));
  state.put(key, encoder.encode(JSON.stringify({ sum: t.sum + value, count: t.count + 1 })));
}

async function consume(dir, killAt) {
  const { store, recovered, close } = await new RecoveryManager({ dir, transactional: true }).open();
  let offset = recovered.sourceOffsets[SOURCE] ?? 0; // the next event to read
  console.log(`consumer: resuming at event ${offset}`);
  while (offset < EVENTS) {
    const end = Math.min(EVENTS, offset + BATCH);
    for (let i = offset; i < end; i++) {
      if (i === killAt) process.kill(process.pid, 'SIGKILL'); // a crash mid-batch
      fold(store, eventAt(i));
    }
    const lsn = store.commit({ [SOURCE]: end }); // the state and the offset, one record
    await store.flushed(lsn);
    offset = end;
  }
  await close();
  console.log(`consumer: done at event ${offset}`);
}

async function run(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  const self = fileURLToPath(import.meta.url);
  for (const killAt of [Math.floor(EVENTS / 3) + 5, Math.floor((2 * EVENTS) / 3) + 17, undefined]) {
    const args = [self, dir, '--consume', ...(killAt === undefined ? [] : ['--kill-at', String(killAt)])];
    const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
    const expected = killAt === undefined ? 'exit 0' : 'SIGKILL';
    const got = r.signal ?? `exit ${r.status}`;
    console.log(`run killAt=${killAt ?? 'none'}: ${got}`);
    if (got !== expected) throw new Error(`consumer ended with ${got}, expected ${expected}`);
  }
  // The crash-free fold, in memory.
  const reference = new Map();
  const refState = { get: (k) => reference.get(k), put: (k, v) => reference.set(k, v) };
  for (let i = 0; i < EVENTS; i++) fold(refState, eventAt(i));
  // What survived the crashes, read back by recovery (read-only).
  const r = await new RecoveryManager({ dir, transactional: true }).recover();
  let mismatches = 0;
  for (const [k, v] of reference) {
    const got = r.state.get(k);
    if (got === undefined || decoder.decode(got) !== decoder.decode(v)) {
      mismatches++;
      console.log(`mismatch ${k}: expected ${decoder.decode(v)}, got ${got && decoder.decode(got)}`);
    }
  }
  if (r.state.size !== reference.size) mismatches++;
  const offset = r.sourceOffsets[SOURCE];
  console.log(`recovered offset ${offset}/${EVENTS}, ${r.state.size} keys, ${mismatches} mismatches`);
  if (mismatches > 0 || offset !== EVENTS) process.exit(1);
  console.log('exactly once: recovered state equals the crash-free fold');
}

const argv = process.argv.slice(2);
const dir = argv[0] && !argv[0].startsWith('--') ? argv[0] : path.join(os.tmpdir(), 'tidemark-example-eo');
if (argv.includes('--consume')) {
  const k = argv.indexOf('--kill-at');
  await consume(dir, k >= 0 ? Number(argv[k + 1]) : undefined);
} else {
  await run(dir);
}
