// Writer of the power-cut test, run from the compiled package (fast start): opens the data
// directory (recovering it), then writes committed batches until it is stopped — batch b puts
// `v<b>` under keys k<b % 500>-0..9 — printing "ack <b>" once batch b is durable, and
// checkpointing every 150 batches. The file system is shut down under it (then SIGKILL).
import { openChangelogAwareStore, RecoveryManager } from '../../dist/index.js';

const [dir, engine] = process.argv.slice(2);
const say = (line) => process.stdout.write(`${line}\n`);
let opened;
if (engine === 'simple') {
  const s = await new RecoveryManager({ dir, transactional: true }).open();
  opened = { store: s.store, recovered: s.recovered, checkpoint: () => s.checkpoint() };
} else {
  const s = await openChangelogAwareStore({ dir, transactional: true });
  opened = { store: s.store, recovered: s.recovered, checkpoint: () => s.store.checkpoint() };
}
const { store } = opened;
say(`ready ${opened.recovered.sourceOffsets.src ?? 0}`);
for (let b = (opened.recovered.sourceOffsets.src ?? 0) + 1; ; b++) {
  const value = Buffer.from(`v${b}`);
  for (let i = 0; i < 10; i++) store.put(`k${b % 500}-${i}`, value);
  await store.flushed(store.commit({ src: b }));
  say(`ack ${b}`);
  if (b % 150 === 0) opened.checkpoint().catch(() => {});
}
