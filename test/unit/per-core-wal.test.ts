import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  FileSystemCheckpointStore,
  loadLatestCheckpoint,
  PerCoreCheckpointCoordinator,
} from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { comparePerCoreEntries } from '../../src/format/index.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { PerCoreRecoveryManager, recoverPerCore } from '../../src/recovery/index.ts';
import { CoreWalWriter, localParticipant, PerCoreWalManager } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const text = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, x]) => [k, Buffer.from(x).toString()]).sort());

test('each core writes its own log and mergeSegments orders every entry by (epoch, timestampNs, coreId, sequence)', async () => {
  let t = 1_000n;
  const clock = () => (t += 10n);
  const m = await PerCoreWalManager.open({ dir: new MemoryDirectory(), cores: 3, clock });
  m.writer(0).appendPut('a', v('1'));
  m.writer(2).appendPut('c', v('1'));
  m.writer(1).appendPut('b', v('1'));
  for (let c = 0; c < 3; c++) m.writer(c).appendEpochBarrier(1);
  m.writer(1).appendDelete('b');
  m.writer(0).appendCommit({ src: 7 }, 99);
  await m.syncAll();
  const merged = await m.mergeSegments();
  assert.equal(merged.length, 8);
  for (let i = 1; i < merged.length; i++) assert.ok(comparePerCoreEntries(merged[i - 1]!, merged[i]!) < 0);
  assert.deepEqual(
    merged.map((e) => `${e.epoch}:${e.coreId}:${e.operation.type}`),
    [
      '0:0:put',
      '0:2:put',
      '0:1:put',
      '1:0:epoch-barrier',
      '1:1:epoch-barrier',
      '1:2:epoch-barrier',
      '1:1:delete',
      '1:0:commit',
    ],
  );
  assert.deepEqual(merged.at(-1)!.operation, { type: 'commit', sourceOffsets: { src: 7 }, watermark: 99 });
  await m.close();
});

test('timestamps stay strictly increasing per writer when the wall clock steps back, across a reopen too', async () => {
  const dir = new MemoryDirectory();
  const times = [100n, 200n, 150n, 50n, 50n, 300n];
  let i = 0;
  const w = await CoreWalWriter.open(dir, 0, { clock: () => times[Math.min(i++, times.length - 1)]! });
  for (let k = 0; k < 6; k++) w.appendPut(`k${k}`, v('x'));
  await w.sync();
  await w.close();
  const again = await CoreWalWriter.open(dir, 0, { clock: () => 10n }); // the clock went far back
  again.appendPut('after', v('y'));
  await again.sync();
  await again.close();
  const m = await PerCoreWalManager.open({ dir, cores: 1 });
  const ts = (await m.mergeSegments()).map((e) => e.timestampNs);
  await m.close();
  assert.deepEqual(ts, [100n, 200n, 201n, 202n, 203n, 300n, 301n]);
});

test('epochs survive a restart: writers reopened after recovery start above every recovered epoch, and sequences never repeat', async () => {
  const walRoot = new MemoryDirectory();
  const store = new FileSystemCheckpointStore(new MemoryDirectory());
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2 });
  m.writer(0).appendPut('a', v('1'));
  m.writer(0).appendEpochBarrier(5);
  m.writer(1).appendPut('b', v('1'));
  await m.syncAll();
  await m.close();
  const { recovered, writers } = await new PerCoreRecoveryManager({ walRoot, store, cores: 2 }).open();
  assert.equal(recovered.epoch, 5);
  assert.deepEqual(
    writers.map((w) => w.epoch),
    [6, 6],
  );
  const seq = writers[0]!.appendPut('c', v('2'));
  assert.equal(seq, 3, 'core 0 had sequences 1 and 2');
  assert.throws(
    () => writers[1]!.appendEpochBarrier(6),
    (e: unknown) => isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  for (const w of writers) await w.close();
});

test('a coordinated checkpoint holds every core up to its barrier; recovery = checkpoint + each core from its position; truncation only below every retained checkpoint', async () => {
  const dir = tmpDir('per-core');
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, wal: { segmentSizeBytes: 4096 } });
  const participants = [0, 1].map((c) => localParticipant(m.writer(c)));
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants,
    transactional: true,
    maxRetained: 1,
    minRetainedBases: 1, // only the newest checkpoint: truncation follows it
  });
  const model = new Map<string, string>();
  let batch = 0;
  const lastBatch = [0, 0];
  const writeBatch = (core: number) => {
    batch++;
    lastBatch[core] = batch;
    for (let i = 0; i < 20; i++) {
      const key = `c${core}-k${(batch * 7 + i) % 60}`;
      const val = `b${batch}-${'x'.repeat(40)}`;
      m.writer(core).appendPut(key, v(val));
      model.set(key, val);
    }
    m.writer(core).appendCommit({ src: batch });
  };
  for (let r = 0; r < 40; r++) writeBatch(r % 2);
  await m.syncAll();
  const first = await coordinator.checkpoint();
  assert.equal(first.epoch, 1);
  assert.equal(first.keys, model.size);
  for (let r = 0; r < 40; r++) writeBatch(r % 2);
  await m.syncAll();
  const second = await coordinator.checkpoint();
  assert.ok(second.segmentsTruncated > 0, 'segments wholly covered by the retained checkpoint were deleted');
  for (let r = 0; r < 5; r++) writeBatch(r % 2); // after the checkpoint: only in the logs
  await m.syncAll();
  await m.close();

  const latest = await loadLatestCheckpoint(store);
  assert.equal(latest.checkpoint?.manifest.id, second.id);
  const positions = latest.checkpoint!.manifest.perCoreWalPositions;
  assert.deepEqual(Object.keys(positions).sort(), ['0', '1']);
  for (const c of ['0', '1']) assert.ok(positions[c]!.segment >= 1 && positions[c]!.offset >= 32);
  const r = await recoverPerCore({ walRoot, store, cores: 2, transactional: true });
  assert.equal(r.checkpointId, second.id);
  assert.deepEqual(text(r.state), Object.fromEntries([...model].sort()));
  assert.equal(r.epoch, 2);
  assert.equal(r.cores.get(0)!.sourceOffsets.src, lastBatch[0]);
  assert.equal(r.cores.get(1)!.sourceOffsets.src, lastBatch[1]);
  assert.ok(r.segmentStats.every((s) => s.records > 0 && s.tornBytes === 0));
  assert.ok(fs.existsSync(path.join(dir, 'wal', 'core-0')) && fs.existsSync(path.join(dir, 'wal', 'core-1')));
});

test('a core that does not answer the barrier in time: the checkpoint is abandoned with TIDEMARK_TIMEOUT; nothing is published or truncated', async () => {
  const walRoot = new MemoryDirectory();
  const store = new FileSystemCheckpointStore(new MemoryDirectory());
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2 });
  m.writer(0).appendPut('a', v('1'));
  m.writer(1).appendPut('b', v('1'));
  await m.syncAll();
  const stuck = {
    coreId: 1,
    barrier: () => new Promise<never>(() => {}),
    markCheckpoint: async () => {
      throw new Error('must not be called');
    },
    truncateBefore: async () => {
      throw new Error('must not be called');
    },
  };
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: [localParticipant(m.writer(0)), stuck],
    barrierTimeoutMs: 100,
  });
  await assert.rejects(
    coordinator.checkpoint(),
    (e: unknown) => isTidemarkError(e, 'TIDEMARK_TIMEOUT') && /core 1/.test((e as Error).message),
  );
  assert.deepEqual(await store.list(), []);
  await m.close();
});

test("one core's segment damaged: by default a typed error names the core, file and offset; point-in-time cuts every core at the last epoch all hold intact, and open() cuts the logs", async () => {
  const dir = tmpDir('per-core-damage');
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, wal: { segmentSizeBytes: 4096 } });
  // 30 puts per epoch (batches pack records tighter than frames did): segment 2 stays a sealed one.
  for (let epoch = 1; epoch <= 6; epoch++) {
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < 30; i++) m.writer(c).appendPut(`c${c}-e${epoch}-${i}`, v('y'.repeat(30)));
      m.writer(c).appendCommit({ src: epoch });
      m.writer(c).appendEpochBarrier(epoch + 1);
    }
  }
  await m.syncAll();
  await m.close();
  // Damage core 1 in its second segment (early epochs); core 0 goes further intact.
  const victim = path.join(dir, 'wal', 'core-1', 'wal-0000000000000002.log');
  const bytes = fs.readFileSync(victim);
  bytes[600]! ^= 0x08;
  fs.writeFileSync(victim, bytes);

  await assert.rejects(recoverPerCore({ walRoot, store, cores: 2, transactional: true }), (e: unknown) => {
    assert.ok(isTidemarkError(e, 'TIDEMARK_CORRUPTION'), String(e));
    assert.match(e.message, /^core 1: /);
    assert.equal(e.path, victim);
    assert.ok(e.offset! <= 600);
    return true;
  });

  const pit = await recoverPerCore({ walRoot, store, cores: 2, transactional: true, mode: 'point-in-time' });
  assert.ok(pit.cut, 'a cut was made');
  const cutEpoch = pit.cut.epoch;
  assert.ok(cutEpoch >= 1 && cutEpoch < 6, `cut at epoch ${cutEpoch}`);
  assert.ok(pit.cut.droppedByCore['0']! > 0, 'core 0 loses its entries past the cut too');
  for (const key of pit.state.keys())
    assert.ok(Number(/-e(\d+)-/.exec(key)![1]) <= cutEpoch, `${key} is past the cut`);
  for (let c = 0; c < 2; c++)
    for (let e = 1; e <= cutEpoch; e++)
      assert.ok(pit.state.has(`c${c}-e${e}-14`), `core ${c} epoch ${e} kept`);
  assert.equal(pit.cores.get(0)!.sourceOffsets.src, cutEpoch);

  const { recovered, writers } = await new PerCoreRecoveryManager({
    walRoot,
    store,
    cores: 2,
    transactional: true,
    mode: 'point-in-time',
  }).open();
  assert.deepEqual(text(recovered.state), text(pit.state));
  for (const w of writers) {
    w.appendPut(`after-${w.coreId}`, v('z'));
    w.appendCommit({ src: 100 });
    await w.sync();
    await w.close();
  }
  const after = await recoverPerCore({ walRoot, store, cores: 2, transactional: true });
  assert.equal(after.state.size, pit.state.size + 2, 'the cut logs are whole again and carry on');
});
