import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileSystemCheckpointStore } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager, WAL_DIR_NAME } from '../../src/recovery/index.ts';
import { listSegments } from '../../src/wal/segment-files.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const asObject = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, val]) => [k, Buffer.from(val).toString('hex')]));

test('puts, deletes and commits become durable through Ring 1, and both stores recover the same state', async () => {
  const dir = tmpDir('pipe');
  const { store, recovered } = await openChangelogAwareStore({ dir, wal: { segmentSizeBytes: 16 * 1024 } });
  assert.equal(recovered.state.size, 0);
  let seq = 0;
  for (let i = 1; i <= 2000; i++) seq = store.put(`k${i % 300}`, payloadFor(i));
  assert.equal(seq, 2000, 'sequences count entries from 1');
  for (let i = 0; i < 50; i++) store.delete(`k${i}`);
  const commitSeq = store.commit({ src: 2000 }, 12345);
  assert.equal(commitSeq, 2051);
  await store.flushed(commitSeq);
  assert.ok(store.durableSequence >= commitSeq);
  const stats = store.stats();
  assert.equal(stats.walRecordsAppended, 2051);
  assert.ok(stats.walGroupsCommitted >= 1 && stats.walSyncs >= 1);
  const expected = asObject(store.entries());
  await store.close();
  assert.throws(() => store.put('late', v('x')), { code: 'TIDEMARK_CLOSED' });

  const viaRecovery = await new RecoveryManager({ dir }).recover();
  assert.deepEqual(asObject(viaRecovery.state), expected);
  assert.deepEqual(viaRecovery.sourceOffsets, { src: 2000 });
  assert.equal(viaRecovery.watermark, 12345);
  const again = await openChangelogAwareStore({ dir });
  assert.deepEqual(asObject(again.recovered.state), expected);
  assert.deepEqual(asObject(again.store.entries()), expected);
  await again.store.close();
});

test('a second open of the same directory fails with TIDEMARK_LOCKED while the first is open', async () => {
  const dir = tmpDir('pipe-lock');
  const { store } = await openChangelogAwareStore({ dir });
  await assert.rejects(openChangelogAwareStore({ dir }), { code: 'TIDEMARK_LOCKED' });
  await store.close();
  const again = await openChangelogAwareStore({ dir });
  await again.store.close();
});

test('a Ring 1 checkpoint replays the WAL onto its own copy, truncates covered segments, and recovery starts from it', async () => {
  const dir = tmpDir('pipe-ckpt');
  const { store } = await openChangelogAwareStore({
    dir,
    transactional: true,
    maxRetained: 1,
    wal: { segmentSizeBytes: 8 * 1024 },
  });
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 500; i++) store.put(`k${i}`, v(`round${round}-${i}`));
    store.commit({ src: round * 500 });
    const result = await store.checkpoint();
    // Every key changed each round: a base (a delta would not be smaller), which counts its keys.
    assert.equal(result.kind, 'base');
    assert.equal(result.keys, 500);
    assert.equal(result.epoch, round);
    assert.equal(store.epoch, round, 'Ring 1 publishes the new epoch to Ring 0');
    assert.ok(result.recordsReplayed >= 501, `replayed ${result.recordsReplayed}`);
  }
  // Uncommitted writes are never in a checkpoint and are dropped by recovery.
  store.put('k0', v('uncommitted'));
  const walDir = await FsDirectory.open(path.join(dir, WAL_DIR_NAME));
  const segments = await listSegments(walDir);
  assert.ok(segments[0]! > 1, 'segments wholly below the retained checkpoint were deleted');
  const ckptIds = await new FileSystemCheckpointStore(
    await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)),
  ).list();
  // maxRetained 1 keeps checkpoint 3; minRetainedBases (default 2) keeps base 2 as its fallback.
  assert.deepEqual(ckptIds, [2, 3]);
  await store.durable();
  await store.close();

  const r = await new RecoveryManager({ dir, transactional: true }).recover();
  assert.equal(r.stats.checkpointId, 3);
  assert.equal(r.stats.uncommittedDiscarded, 1);
  assert.equal(Buffer.from(r.state.get('k0')!).toString(), 'round3-0');
  assert.deepEqual(r.sourceOffsets, { src: 1500 });
});

test('Ring 1 checkpoints on its own by interval and by WAL size', async () => {
  const dir = tmpDir('pipe-periodic');
  const { store } = await openChangelogAwareStore({ dir, checkpointWalBytes: 64 * 1024 });
  const big = new Uint8Array(1000);
  for (let i = 0; i < 200; i++) store.put(`k${i}`, big);
  await store.durable();
  const deadline = Date.now() + 10_000;
  while (store.stats().checkpoints < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(store.stats().checkpoints >= 1, 'a WAL past checkpointWalBytes triggers a checkpoint');
  await store.close();

  const dir2 = tmpDir('pipe-interval');
  const s2 = (await openChangelogAwareStore({ dir: dir2, checkpointIntervalMs: 50 })).store;
  s2.put('a', v('1'));
  await s2.durable();
  const deadline2 = Date.now() + 10_000;
  while (s2.stats().checkpoints < 1 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 20));
  assert.ok(s2.stats().checkpoints >= 1, 'checkpointIntervalMs triggers a checkpoint');
  await s2.close();
  assert.equal((await new RecoveryManager({ dir: dir2 }).recover()).stats.checkpointId, 1);
});

/** Pushes until the ring refuses, for a ring that Ring 1 cannot drain fast enough. */
const tinyRing = {
  ring: { capacityEntries: 16, arenaBytes: 4096 },
  wal: { groupCommitBytes: 1024, groupCommitDelayMs: 50 },
};

test("backpressure 'throw' refuses a push into a full ring with TIDEMARK_BACKPRESSURE and changes nothing", async () => {
  const dir = tmpDir('pipe-throw');
  const { store } = await openChangelogAwareStore({ dir, backpressure: 'throw', ...tinyRing });
  const accepted = new Map<string, string>();
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    try {
      store.put(`k${i}`, v(`value-${i}`));
      accepted.set(`k${i}`, Buffer.from(`value-${i}`).toString('hex'));
    } catch (err) {
      assert.ok(isTidemarkError(err, 'TIDEMARK_BACKPRESSURE'), String(err));
      assert.equal(store.get(`k${i}`), undefined, 'a refused put is not applied');
      refused++;
      await store.writable();
    }
  }
  assert.ok(refused > 0, 'the tiny ring filled at least once');
  assert.equal(store.stats().backpressureThrows, refused);
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.deepEqual(asObject(r.state), Object.fromEntries(accepted));
});

test("backpressure 'wait' queues behind a full ring, keeps order, and loses nothing", async () => {
  const dir = tmpDir('pipe-wait');
  const { store } = await openChangelogAwareStore({ dir, backpressure: 'wait', ...tinyRing });
  let seq = 0;
  for (let i = 0; i < 3000; i++) {
    seq = store.put(`k${i % 100}`, v(`value-${i}`));
    if (i % 500 === 499 && !store.isWritable) await store.writable();
  }
  assert.equal(store.stats().backpressureThrows, 0);
  assert.ok(store.stats().entriesQueued > 0, 'entries queued behind the full ring');
  await store.flushed(seq);
  const expected = asObject(store.entries());
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.deepEqual(asObject(r.state), expected);
  assert.equal(Buffer.from(r.state.get('k99')!).toString(), 'value-2999');
});

test("a full queue in 'wait' mode is bounded by maxQueuedBytes", async () => {
  const dir = tmpDir('pipe-wait-cap');
  const { store } = await openChangelogAwareStore({
    dir,
    backpressure: 'wait',
    maxQueuedBytes: 2048,
    ...tinyRing,
  });
  let refused = 0;
  for (let i = 0; i < 3000 && refused === 0; i++) {
    try {
      store.put(`k${i}`, new Uint8Array(100));
    } catch (err) {
      assert.ok(isTidemarkError(err, 'TIDEMARK_BACKPRESSURE'));
      refused++;
    }
  }
  assert.equal(refused, 1);
  await store.writable();
  await store.close();
});

test('flushed() of a sequence never pushed is TIDEMARK_INVALID_ARGUMENT', async () => {
  const dir = tmpDir('pipe-arg');
  const { store } = await openChangelogAwareStore({ dir });
  await assert.rejects(store.flushed(5), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  await store.close();
});

test('an unclosed store does not keep the process alive, and what it awaited is durable', () => {
  const dir = tmpDir('pipe-unclosed');
  const child = fileURLToPath(new URL('../helpers/unclosed-store-child.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, dir], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, `child exited by itself (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  assert.match(r.stdout, /durable 100/);
  assert.ok(fs.existsSync(path.join(dir, WAL_DIR_NAME)));
});
