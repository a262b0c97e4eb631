// Thread-per-core durability: N worker threads, each with its own `CoreWalWriter` (its own log,
// `wal/core-<id>/`, no cross-thread locking on the write path) under one data directory, a
// coordinated checkpoint taken with `PerCoreCheckpointCoordinator` while the cores keep writing,
// then `recoverPerCore`, which loads the checkpoint and replays every core's log merged by epoch.
//
// The main thread takes the data directory's lock and holds it while the cores write: the cores
// open their writers with `lock: false`. Each core is a checkpoint participant through a small
// message protocol (barrier, checkpoint marker, truncation), answered between the core's batches.
//
// Run (after `npm run build`):
//   node examples/per-core-workers.mjs [DATA_DIR] [--cores N]   # default: a fresh temp dir, 2 cores
// It prints a summary and exits 0 when the recovered state equals what the cores wrote.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  CHECKPOINT_DIR_NAME,
  CoreWalWriter,
  FileSystemCheckpointStore,
  FsDirectory,
  PerCoreCheckpointCoordinator,
  recoverPerCore,
  WAL_DIR_NAME,
} from 'tidemark';

const BATCHES = 40;
const BATCH = 50;
const SOURCE = 'input';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What core `coreId` writes for record `i`: key and value. */
const record = (coreId, i) => [`core${coreId}:key${i % 500}`, `v${i}`];

/** A core: its own writer; writes its batches and answers the coordinator between them. */
async function core() {
  const { walRoot, coreId, epoch } = workerData;
  // The main thread holds the data directory's lock for every core.
  const writer = await CoreWalWriter.open(await FsDirectory.open(walRoot), coreId, { lock: false, epoch });
  const answer = (requestId, p) =>
    p.then(
      (value) => parentPort.postMessage({ requestId, value }),
      (err) => parentPort.postMessage({ requestId, error: String(err?.message ?? err) }),
    );
  parentPort.on('message', async (m) => {
    if (m.type === 'barrier') answer(m.requestId, writer.barrier(m.epoch));
    else if (m.type === 'mark') answer(m.requestId, writer.markCheckpoint(m.options));
    else if (m.type === 'truncate') answer(m.requestId, writer.truncateBefore(m.position));
    else if (m.type === 'write') {
      for (let b = 0; b < BATCHES; b++) {
        for (let j = 0; j < BATCH; j++) {
          const [k, v] = record(coreId, b * BATCH + j);
          writer.appendPut(k, encoder.encode(v));
        }
        // The batch and its input offset, one transaction; awaiting it lets barriers interleave.
        await writer.flushed(writer.appendCommit({ [SOURCE]: (b + 1) * BATCH }));
      }
      parentPort.postMessage({ type: 'written' });
    } else if (m.type === 'close') {
      await writer.close();
      parentPort.close();
    }
  });
  parentPort.postMessage({ type: 'ready' });
}

/** A core as the coordinator sees it: a proxy that forwards each step to the core's thread. */
function participant(coreId, worker) {
  let next = 1;
  const pending = new Map();
  worker.on('message', (m) => {
    const p = pending.get(m.requestId);
    if (!p) return;
    pending.delete(m.requestId);
    if (m.error !== undefined) p.reject(new Error(`core ${coreId}: ${m.error}`));
    else p.resolve(m.value);
  });
  const request = (msg) =>
    new Promise((resolve, reject) => {
      const requestId = next++;
      pending.set(requestId, { resolve, reject });
      worker.postMessage({ ...msg, requestId });
    });
  return {
    coreId,
    barrier: (epoch) => request({ type: 'barrier', epoch }),
    markCheckpoint: (options) => request({ type: 'mark', options }),
    truncateBefore: (position) => request({ type: 'truncate', position }),
  };
}

const once = (worker, type) =>
  new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.type !== type) return;
      worker.off('message', onMessage);
      resolve(m);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });

async function main() {
  const argv = process.argv.slice(2);
  const c = argv.indexOf('--cores');
  const cores = c >= 0 ? Number(argv[c + 1]) : 2;
  const given = argv[0] && !argv[0].startsWith('--') ? argv[0] : undefined;
  const dir = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-example-cores-'));
  fs.rmSync(dir, { recursive: true, force: true });

  const root = await FsDirectory.open(dir);
  const lock = await root.lock(); // one lock for the whole data directory, held here
  const walRoot = await root.subdirectory(WAL_DIR_NAME);
  const store = new FileSystemCheckpointStore(await root.subdirectory(CHECKPOINT_DIR_NAME));
  const before = await recoverPerCore({ walRoot, store, cores, transactional: true });
  const epoch = before.epoch + 1; // writers resume above anything recovered

  const self = new URL(import.meta.url);
  const workers = Array.from(
    { length: cores },
    (_, coreId) => new Worker(self, { workerData: { walRoot: walRoot.path, coreId, epoch } }),
  );
  await Promise.all(workers.map((w) => once(w, 'ready')));
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: workers.map((w, coreId) => participant(coreId, w)),
    transactional: true,
    epoch,
  });

  // The cores write while a checkpoint is taken: the coordinator never pauses them.
  const written = Promise.all(workers.map((w) => once(w, 'written')));
  for (const w of workers) w.postMessage({ type: 'write' });
  const first = await coordinator.checkpoint();
  await written;
  const second = await coordinator.checkpoint(); // after every write: covers the whole state
  for (const w of workers) w.postMessage({ type: 'close' });
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  await lock.release();

  const recovered = await recoverPerCore({ walRoot, store, cores, transactional: true });
  const expected = new Map();
  for (let coreId = 0; coreId < cores; coreId++)
    for (let i = 0; i < BATCHES * BATCH; i++) {
      const [k, v] = record(coreId, i);
      expected.set(k, v);
    }
  let mismatches = recovered.state.size === expected.size ? 0 : 1;
  for (const [k, v] of expected) {
    const got = recovered.state.get(k);
    if (got === undefined || decoder.decode(got) !== v) mismatches++;
  }
  for (let coreId = 0; coreId < cores; coreId++)
    if (recovered.cores.get(coreId)?.sourceOffsets[SOURCE] !== BATCHES * BATCH) mismatches++;

  console.log(
    `${cores} cores wrote ${cores * BATCHES * BATCH} puts in ${cores * BATCHES} commits; ` +
      `checkpoints ${first.id} (${first.keys} keys, taken while writing) and ${second.id} (${second.keys} keys)`,
  );
  console.log(
    `recovered from checkpoint ${recovered.checkpointId}: ${recovered.state.size} keys, epoch ${recovered.epoch}, ` +
      `${mismatches} mismatches`,
  );
  if (!given) fs.rmSync(dir, { recursive: true, force: true });
  if (mismatches > 0) process.exit(1);
  console.log('per-core: recovered state equals what the cores wrote');
}

if (isMainThread) await main();
else await core();
