// Child of the per-core zombie test, run from the compiled package (fast starts): opens the
// per-core engine (2 cores) on a fresh directory with `takeover: true` on the object store given
// as JSON in argv[3] (archiving every 100 ms, a checkpoint every 100 writes), prints
// `open <keys recovered>`, then writes `<label>-<n>` (n = 0, 1, …) on core n % 2, printing
// `ack <key>` once each is durable. Commands on stdin: `resumed` (the test resumed it after a
// SIGSTOP: later keys are `<label>-z-<n>`, which a fenced writer must never get into the history)
// and `close` (close cleanly, print `closed`, exit 0). When anything reports TIDEMARK_FENCED it
// prints `fenced` and exits 3.
import * as readline from 'node:readline';
import { openPerCoreOnObjectStore } from '../../dist/index.js';

const [dir, objectStoreJson, label] = process.argv.slice(2);
const objectStore = JSON.parse(objectStoreJson);
let prefix = `${label}-`;
let closing = false;
const isFenced = (err) => err?.code === 'TIDEMARK_FENCED' || err?.cause?.code === 'TIDEMARK_FENCED';
const fencedExit = () => {
  process.stdout.write('fenced\n');
  process.exit(3);
};
const orFenced = async (p) => {
  try {
    return await p;
  } catch (err) {
    if (isFenced(err)) fencedExit();
    throw err;
  }
};

const opened = await openPerCoreOnObjectStore({
  dir,
  objectStore,
  cores: 2,
  takeover: true,
  archiveIntervalMs: 100,
  checkpoint: { maxRetained: 2 },
  wal: { segmentSizeBytes: 64 * 1024 },
});
process.stdout.write(`open ${opened.recovered.state.size}\n`);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'resumed') prefix = `${label}-z-`;
  if (line === 'close') closing = true;
});

for (let n = 0; !closing; n++) {
  const key = `${prefix}${n}`;
  const writer = opened.writers[n % 2];
  await orFenced(
    (async () => {
      const seq = writer.appendPut(key, Buffer.from(key));
      await writer.flushed(seq);
    })(),
  );
  process.stdout.write(`ack ${key}\n`);
  if (n % 100 === 99) await orFenced(opened.coordinator.checkpoint());
  for (const a of opened.archives) if (isFenced(a.stats().lastError)) fencedExit();
  await new Promise((r) => setTimeout(r, 2));
}
await orFenced(opened.close());
process.stdout.write('closed\n');
process.exit(0);
