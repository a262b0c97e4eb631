// SIGKILL at every step of a per-core coordinated checkpoint (the "checkpoint committed" markers
// included): the old or the new checkpoint is valid, nothing acknowledged is lost on any core,
// a marker exists exactly from its step on, a core reopens at the checkpoint's epoch or above,
// and the system carries on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  FileSystemCheckpointStore,
  loadLatestCheckpoint,
  PER_CORE_CHECKPOINT_STEPS,
  PerCoreCheckpointCoordinator,
  validateCheckpointChain,
} from '../../src/checkpoint/index.ts';
import { perCoreProgressOf } from '../../src/checkpoint/per-core-checkpoint-coordinator.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { PerCoreRecoveryManager } from '../../src/recovery/index.ts';
import { CoreWalWriter, localParticipant, PerCoreWalReader } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/per-core-kill-child.ts', import.meta.url));

/** The state core `core` holds after its batches 1..n (see the child). */
function expected(core: number, n: number): Map<string, string> {
  const m = new Map<string, string>();
  for (let b = 1; b <= n; b++) for (let i = 0; i < 10; i++) m.set(`c${core}-k${(b * 7 + i) % 40}`, `b${b}`);
  return m;
}

for (const step of PER_CORE_CHECKPOINT_STEPS) {
  test(`SIGKILL at coordinator step "${step}": the old or the new checkpoint is valid and every acknowledged batch survives on every core`, async () => {
    const dir = tmpDir(`per-core-kill-${step}`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, dir, step], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.signal, 'SIGKILL', `the child was killed at ${step}: ${r.stdout.slice(-200)} ${r.stderr}`);
    assert.ok(r.stdout.includes('checkpoint-1'));
    const acked = [0, 0];
    for (const line of r.stdout.split('\n')) {
      const m = /^ack (\d) (\d+)$/.exec(line);
      if (m) acked[Number(m[1])] = Math.max(acked[Number(m[1])]!, Number(m[2]));
    }
    assert.ok(acked[0]! >= 60 && acked[1]! >= 60);

    const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
    const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
    const ids = await store.list();
    assert.ok(ids.length >= 1);
    for (const id of ids)
      assert.equal((await validateCheckpointChain(store, id)).valid, true, `checkpoint ${id} valid`);
    const published =
      PER_CORE_CHECKPOINT_STEPS.indexOf(step) >= PER_CORE_CHECKPOINT_STEPS.indexOf('published');
    assert.equal(
      Math.max(...ids),
      published ? 2 : 1,
      'the new checkpoint exactly when its manifest was committed',
    );

    // The "checkpoint committed" marker: durable in every core's log from its step on, and
    // never written before the checkpoint is published.
    const marked =
      PER_CORE_CHECKPOINT_STEPS.indexOf(step) >= PER_CORE_CHECKPOINT_STEPS.indexOf('markers-durable');
    const latest = (await loadLatestCheckpoint(store)).checkpoint!.manifest;
    const latestEpoch = latest.epoch;
    const { positions } = perCoreProgressOf(latest);
    for (const core of [0, 1]) {
      const { entries } = await PerCoreWalReader.read(walRoot, core, { from: positions.get(core) });
      const markers = entries.flatMap((e) =>
        e.operation.type === 'checkpoint' ? [e.operation.checkpointId] : [],
      );
      if (marked) assert.ok(markers.includes(2), `core ${core} holds the marker of checkpoint 2`);
      if (!published)
        assert.ok(!markers.includes(2), `core ${core}: no marker before the checkpoint is published`);
      // A core reopened on its own (no epoch given) resumes at least at the latest checkpoint's
      // epoch, whatever truncation deleted.
      const w = await CoreWalWriter.open(walRoot, core);
      assert.ok(
        w.epoch >= latestEpoch,
        `core ${core} reopens at epoch ${w.epoch}, checkpoint has ${latestEpoch}`,
      );
      await w.close();
    }

    const { recovered, writers } = await new PerCoreRecoveryManager({
      walRoot,
      store,
      cores: 2,
      transactional: true,
    }).open();
    for (const core of [0, 1]) {
      const n = recovered.cores.get(core)!.sourceOffsets.src!;
      assert.ok(n >= acked[core]!, `core ${core}: recovered ${n}, acknowledged ${acked[core]}`);
      for (const [k, val] of expected(core, n))
        assert.equal(Buffer.from(recovered.state.get(k)!).toString(), val);
    }
    // And it carries on: a new epoch, a new checkpoint.
    const coordinator = await PerCoreCheckpointCoordinator.open({
      store,
      walRoot,
      participants: writers.map(localParticipant),
      transactional: true,
      epoch: recovered.epoch + 1,
    });
    const next = await coordinator.checkpoint();
    assert.ok(next.epoch > recovered.epoch);
    for (const w of writers) await w.close();
  });
}
