// Child of the per-core kill-point test: two cores write committed batches (printing "ack <core>
// <batch>" once durable), a first coordinated checkpoint completes, more batches, then a second
// checkpoint SIGKILLs this process at coordinator step argv[3].

import * as diagnostics from 'node:diagnostics_channel';
import * as path from 'node:path';
import {
  FileSystemCheckpointStore,
  PER_CORE_CHECKPOINT_CHANNEL,
  PerCoreCheckpointCoordinator,
} from '../../src/checkpoint/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { PerCoreRecoveryManager } from '../../src/recovery/index.ts';
import { localParticipant } from '../../src/wal/index.ts';

const [dir, killStep] = process.argv.slice(2) as [string, string];
const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
const { recovered, writers } = await new PerCoreRecoveryManager({
  walRoot,
  store,
  cores: 2,
  transactional: true,
}).open({
  wal: { segmentSizeBytes: 4096 },
});
const coordinator = await PerCoreCheckpointCoordinator.open({
  store,
  walRoot,
  participants: writers.map(localParticipant),
  transactional: true,
  maxRetained: 1,
  epoch: recovered.epoch + 1,
});
const next = writers.map((w) => (recovered.cores.get(w.coreId)?.sourceOffsets.src ?? 0) + 1);
async function batches(n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    for (const w of writers) {
      const b = next[w.coreId]!++;
      for (let i = 0; i < 10; i++) w.appendPut(`c${w.coreId}-k${(b * 7 + i) % 40}`, Buffer.from(`b${b}`));
      w.appendCommit({ src: b });
    }
    await Promise.all(writers.map((w) => w.sync()));
    for (const w of writers) process.stdout.write(`ack ${w.coreId} ${next[w.coreId]! - 1}\n`);
  }
}
await batches(30);
await coordinator.checkpoint();
process.stdout.write('checkpoint-1\n');
await batches(30);
let armed = true;
diagnostics.subscribe(PER_CORE_CHECKPOINT_CHANNEL, (m) => {
  if (armed && (m as { step: string }).step === killStep) {
    armed = false;
    process.kill(process.pid, 'SIGKILL');
  }
});
await coordinator.checkpoint();
process.stdout.write('not-killed\n');
