// Child of the fencing zombie test, run from the compiled package (fast starts): opens the
// simple store on a fresh directory with `takeover: true` on the object store given as JSON in
// argv[3] (archiving the active segment every 100 ms, a checkpoint every 100 writes), prints `open <keys recovered>`, then writes
// `<label>-<n>` (n = 0, 1, …), printing `ack <key>` once each is durable. Commands on stdin:
// `resumed` (the test resumed it after a SIGSTOP: later keys are `<label>-z-<n>`, which a fenced
// writer must never get into the history) and `close` (close cleanly, print `closed`, exit 0).
// When the store reports TIDEMARK_FENCED it prints `fenced` and exits 3.
import * as readline from 'node:readline';
import { RecoveryManager } from '../../dist/index.js';

const [dir, objectStoreJson, label] = process.argv.slice(2);
const objectStore = JSON.parse(objectStoreJson);
let prefix = `${label}-`;
let closing = false;
const isFenced = (err) => err?.code === 'TIDEMARK_FENCED' || err?.cause?.code === 'TIDEMARK_FENCED';
const fencedExit = () => {
  process.stdout.write('fenced\n');
  process.exit(3);
};

const opened = await new RecoveryManager({
  dir,
  objectStore,
  takeover: true,
  archiveIntervalMs: 100,
  maxRetained: 2,
  wal: { segmentSizeBytes: 64 * 1024 },
}).open();
process.stdout.write(`open ${opened.recovered.state.size}\n`);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'resumed') prefix = `${label}-z-`;
  if (line === 'close') closing = true;
});

for (let n = 0; !closing; n++) {
  const key = `${prefix}${n}`;
  try {
    await opened.store.flushed(opened.store.put(key, Buffer.from(key)));
  } catch (err) {
    if (isFenced(err)) fencedExit();
    throw err;
  }
  process.stdout.write(`ack ${key}\n`);
  if (n % 100 === 99) {
    try {
      await opened.checkpoint();
    } catch (err) {
      if (isFenced(err)) fencedExit();
      throw err;
    }
  }
  const lastError = opened.archiver?.stats().lastError;
  if (lastError && isFenced(lastError)) fencedExit();
  await new Promise((r) => setTimeout(r, 2));
}
try {
  await opened.close();
} catch (err) {
  if (isFenced(err)) fencedExit();
  throw err;
}
process.stdout.write('closed\n');
process.exit(0);
