// Child of the crash-loop test, run from the compiled package (a fast start matters at 100+
// restarts): opens the changelog-aware store in `dir` (recovering it), prints
// `open <src> <recordsReplayed> <checkpointId used> <recovery checkpoint id>` (ids 0 when none),
// then writes keys k<src+1>, k<src+2>, … in random-sized transactions that each commit `src` =
// their last key number, printing `ack <src>` once the commit is durable. It stops writing once
// it has pushed `maxRecords` WAL records this run and then idles until it is killed, so one run
// adds a bounded number of records to the WAL. Ring 1 checkpoints on its own every 250 ms.
import { openChangelogAwareStore } from '../../dist/index.js';

const [dir, seedText, recoveryCheckpointRecords, maxRecords] = process.argv.slice(2);
let seed = Number(seedText) >>> 0;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
/** The value of key k<n> (the test checks it with the same formula). */
const valueFor = (n) => Buffer.from(`v${n}:${'x'.repeat(n % 97)}`);
const keepAlive = setInterval(() => {}, 1000); // live until SIGKILL
process.stdout.write('start\n');
const { store, recovered, recoveryCheckpoint } = await openChangelogAwareStore({
  dir,
  transactional: true,
  maxRetained: 2,
  checkpointIntervalMs: 250,
  checkpoint: { recoveryCheckpointRecords: Number(recoveryCheckpointRecords) },
  wal: { segmentSizeBytes: 256 * 1024, groupCommitDelayMs: 1 },
});
const replayed = recovered.stats.recordsReplayed;
let next = (recovered.sourceOffsets.src ?? 0) + 1;
process.stdout.write(
  `open ${next - 1} ${replayed} ${recovered.stats.checkpointId ?? 0} ${recoveryCheckpoint?.id ?? 0}\n`,
);
let pushed = 0;
while (pushed < Number(maxRecords)) {
  const n = 1 + Math.floor(rand() * 60);
  for (let i = 0; i < n; i++, next++) store.put(`k${next}`, valueFor(next));
  const seq = store.commit({ src: next - 1 });
  pushed += n + 1;
  if (!store.isWritable) await store.writable();
  await store.flushed(seq);
  process.stdout.write(`ack ${next - 1}\n`);
}
void keepAlive;
