// Child process of the pipeline SIGKILL test: writes keys k1, k2, … (payload derived from the
// number) through the Ring 0 / Ring 1 pipeline in random-sized transactions, each committing
// `src` = its last key number; prints `ack N` once the durable watermark passed that commit.
// Checkpoints now and then (Ring 1), so kills land in checkpoints as well.
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { payloadFor } from './tmp.ts';

const [dir, seedText] = process.argv.slice(2);
let seed = Number(seedText) >>> 0;
const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const { store, recovered } = await openChangelogAwareStore({
  dir: dir!,
  transactional: true,
  maxRetained: 2,
  wal: { segmentSizeBytes: 32 * 1024, groupCommitDelayMs: 1 },
  ring: { capacityEntries: 256, arenaBytes: 64 * 1024 },
});
let next = (recovered.sourceOffsets.src ?? 0) + 1;
process.stdout.write(`open ${next - 1}\n`);
let batches = 0;
for (;;) {
  const n = 1 + Math.floor(rand() * 60);
  for (let i = 0; i < n; i++, next++) store.put(`k${next}`, payloadFor(next));
  const seq = store.commit({ src: next - 1 });
  if (++batches % 15 === 0) store.checkpoint().catch(() => {});
  if (!store.isWritable) await store.writable();
  await store.flushed(seq);
  process.stdout.write(`ack ${next - 1}\n`);
}
