// Child of test/crash/checkpoint-kill-points.test.ts. Runs rounds `from`..`to` of the workload on
// the data directory, each followed by `ack <round>` (once durable) and a checkpoint, and SIGKILLs
// itself at step `killStep` of its `killCheckpoint`-th checkpoint (0-based; -1 = never).
import diagnosticsChannel from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import { CHECKPOINT_CHANNEL_NAME, type CheckpointStepMessage } from '../../src/checkpoint/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { roundOps } from './checkpoint-workload.ts';

const [dir, fromArg, toArg, killStep, killCheckpointArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const killCheckpoint = Number(killCheckpointArg);
let begun = 0;
let current = -1;
diagnosticsChannel.subscribe(CHECKPOINT_CHANNEL_NAME, (msg) => {
  const m = msg as CheckpointStepMessage;
  if (m.step === 'begin') current = begun++;
  if (m.step === killStep && current === killCheckpoint) process.kill(process.pid, 'SIGKILL');
});

const s = await new RecoveryManager({
  dir,
  maxRetained: 2,
  wal: { segmentSizeBytes: 8192 },
  checkpoint: { maxChainLength: 2 },
}).open();
for (let r = Number(fromArg); r <= Number(toArg); r++) {
  for (const op of roundOps(r)) {
    if ('put' in op) s.store.put(op.put, Buffer.from(op.value));
    else s.store.delete(op.del);
  }
  s.store.commit({ workload: r + 1 });
  await s.store.durable();
  fs.writeSync(1, `ack ${r}\n`);
  const meta = await s.checkpoint();
  fs.writeSync(1, `checkpoint ${meta.id} ${meta.kind}\n`);
}
await s.close();
