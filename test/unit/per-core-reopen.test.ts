import assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  FileSystemCheckpointStore,
  PER_CORE_CHECKPOINT_CHANNEL,
  PerCoreCheckpointCoordinator,
} from '../../src/checkpoint/index.ts';
import { isTidemarkError, TidemarkError } from '../../src/errors.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { recoverPerCore } from '../../src/recovery/index.ts';
import {
  type CoreWalWriter,
  localParticipant,
  PerCoreWalManager,
  PerCoreWalReader,
  CoreWalWriter as Writer,
} from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const str = (x: Uint8Array | undefined) => (x === undefined ? undefined : Buffer.from(x).toString());

/** A clock shared by every writer of a test: strictly increasing, across reopens too. */
function steppingClock(): () => bigint {
  let t = 1_000_000n;
  return () => (t += 1_000n);
}

test('a core reopened after its final segment was sealed keeps its epoch and timestamp, so a later write of a key is the one recovery returns', async () => {
  const walRoot = new MemoryDirectory();
  const store = new FileSystemCheckpointStore(new MemoryDirectory());
  const clock = steppingClock();
  const w = await Writer.open(walRoot, 0, { clock });
  w.appendEpochBarrier(3);
  w.appendPut('k', v('old'));
  await w.sync();
  assert.equal(await w.wal.sealActiveSegment(), true);
  await w.close();

  // The wall clock went far back meanwhile: timestamps must still go up.
  const again = await Writer.open(walRoot, 0, { clock: () => 5n });
  assert.equal(again.epoch, 3, 'the epoch comes from the newest entry, not from the empty final segment');
  again.appendPut('k', v('new'));
  await again.sync();
  await again.close();

  const { entries } = await PerCoreWalReader.read(walRoot, 0);
  const last = entries.at(-1)!;
  assert.equal(last.epoch, 3);
  assert.ok(last.timestampNs > entries.at(-2)!.timestampNs, 'timestamps keep increasing across the reopen');
  const r = await recoverPerCore({ walRoot, store, cores: 1 });
  assert.equal(str(r.state.get('k')), 'new');
});

test('truncating a core to a position past every durable entry keeps the segment holding the newest one, so the reopened core keeps its epoch', async () => {
  const walRoot = new MemoryDirectory();
  const w = await Writer.open(walRoot, 0);
  w.appendEpochBarrier(7);
  w.appendPut('k', v('x'));
  await w.sync();
  await w.wal.sealActiveSegment();
  assert.equal(await w.truncateBefore({ segment: 0, offset: 0, lsn: w.wal.lastLsn + 1 }), 0);
  await w.close();
  const again = await Writer.open(walRoot, 0);
  assert.equal(again.epoch, 7);
  await again.close();
});

test('after a checkpoint whose truncation leaves a core only an empty segment, the reopened core keeps the checkpoint epoch and its new write of a key wins over an older one of another core', async () => {
  const dir = tmpDir('per-core-reopen');
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const clock = steppingClock();
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, clock, wal: { segmentSizeBytes: 4096 } });
  for (let c = 0; c < 2; c++) {
    m.writer(c).appendEpochBarrier(3);
    for (let i = 0; i < 40; i++) m.writer(c).appendPut(`c${c}-${i}`, v('y'.repeat(60)));
  }
  await m.syncAll();
  // A rotation right after each barrier: the position the checkpoint records starts a segment,
  // so truncation may delete every segment before it.
  const sealingAfterBarrier = (w: CoreWalWriter) => ({
    ...localParticipant(w),
    barrier: async (epoch: number) => {
      const p = await w.barrier(epoch);
      await w.wal.sealActiveSegment();
      return p;
    },
  });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: [0, 1].map((c) => sealingAfterBarrier(m.writer(c))),
    maxRetained: 1,
  });
  const cp = await coordinator.checkpoint(4);
  assert.ok(cp.segmentsTruncated >= 2);
  m.writer(1).appendPut('k', v('old'));
  await m.syncAll();
  await m.close();

  // Reopened without being told an epoch (a tool, or a core thread restarted on its own).
  const again = await PerCoreWalManager.open({ dir: walRoot, cores: 2, clock });
  assert.deepEqual([again.writer(0).epoch, again.writer(1).epoch], [4, 4]);
  again.writer(0).appendPut('k', v('new'));
  await again.syncAll();
  await again.close();
  const r = await recoverPerCore({ walRoot, store, cores: 2 });
  assert.equal(r.checkpointId, cp.id);
  assert.equal(str(r.state.get('k')), 'new');
});

test('the coordinator makes a checkpoint marker durable in every core before it truncates any core', async () => {
  const dir = tmpDir('per-core-marker');
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, wal: { segmentSizeBytes: 4096 } });
  // What every core's durable log holds the first time any core is asked to truncate.
  let atFirstTruncation: { checkpointId: number; coveredSequence: number }[][] | undefined;
  const markersNow = async () => {
    const out: { checkpointId: number; coveredSequence: number }[][] = [];
    for (let c = 0; c < 2; c++) {
      const { entries } = await PerCoreWalReader.read(walRoot, c, {
        untilSequence: m.writer(c).wal.durableLsn,
      });
      out.push(
        entries.flatMap((e) =>
          e.operation.type === 'checkpoint'
            ? [{ checkpointId: e.operation.checkpointId, coveredSequence: e.operation.coveredSequence }]
            : [],
        ),
      );
    }
    return out;
  };
  const participants = [0, 1].map((c) => {
    const p = localParticipant(m.writer(c));
    return {
      ...p,
      truncateBefore: async (position: Parameters<typeof p.truncateBefore>[0]) => {
        atFirstTruncation ??= await markersNow();
        return p.truncateBefore(position);
      },
    };
  });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants,
    maxRetained: 1,
  });
  for (let c = 0; c < 2; c++)
    for (let i = 0; i < 60; i++) m.writer(c).appendPut(`c${c}-${i}`, v('z'.repeat(50)));
  await m.syncAll();
  const steps: string[] = [];
  const onStep = (msg: unknown) => steps.push((msg as { step: string }).step);
  diagnostics.subscribe(PER_CORE_CHECKPOINT_CHANNEL, onStep);
  let cp: Awaited<ReturnType<typeof coordinator.checkpoint>>;
  try {
    cp = await coordinator.checkpoint();
  } finally {
    diagnostics.unsubscribe(PER_CORE_CHECKPOINT_CHANNEL, onStep);
  }
  assert.deepEqual(steps, [
    'begin',
    'barriers-durable',
    'replayed',
    'published',
    'markers-durable',
    'pruned',
    'truncated',
  ]);
  assert.deepEqual(
    atFirstTruncation,
    [0, 1].map((c) => [{ checkpointId: cp.id, coveredSequence: cp.positions[c]!.lsn - 1 }]),
    'before any truncation, each core holds a durable marker covering it up to its checkpoint position',
  );
  // After truncation the marker is still there: it is never below the checkpoint's position.
  for (let c = 0; c < 2; c++) {
    const { entries } = await PerCoreWalReader.read(walRoot, c, { from: cp.positions[c] });
    assert.ok(entries.some((e) => e.operation.type === 'checkpoint' && e.operation.checkpointId === cp.id));
  }
  await m.close();
});

test('a core whose checkpoint marker cannot be made durable leaves every core untruncated, though the checkpoint stays published', async () => {
  const walRoot = new MemoryDirectory();
  const store = new FileSystemCheckpointStore(new MemoryDirectory());
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, wal: { segmentSizeBytes: 4096 } });
  let truncations = 0;
  const participants = [0, 1].map((c) => {
    const p = localParticipant(m.writer(c));
    return {
      ...p,
      markCheckpoint: async (options: Parameters<typeof p.markCheckpoint>[0]) => {
        if (c === 1) throw new TidemarkError('TIDEMARK_IO', 'core 1: marker write failed');
        return p.markCheckpoint(options);
      },
      truncateBefore: async (position: Parameters<typeof p.truncateBefore>[0]) => {
        truncations++;
        return p.truncateBefore(position);
      },
    };
  });
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants,
    maxRetained: 1,
  });
  for (let c = 0; c < 2; c++)
    for (let i = 0; i < 60; i++) m.writer(c).appendPut(`c${c}-${i}`, v('z'.repeat(50)));
  await m.syncAll();
  const segmentsBefore = [0, 1].map((c) => m.writer(c).wal.segmentList().length);
  await assert.rejects(coordinator.checkpoint(), (e: unknown) => isTidemarkError(e, 'TIDEMARK_IO'));
  assert.equal(truncations, 0);
  assert.deepEqual(
    [0, 1].map((c) => m.writer(c).wal.segmentList().length),
    segmentsBefore,
  );
  assert.equal((await store.list()).length, 1, 'the checkpoint itself was published');
  await m.close();
});
