// `walSizeThresholdBytes` (`checkpointWalBytes`) counts the WAL bytes appended since the last
// checkpoint — including those written before a restart — not the WAL's size on disk, which never
// drops below the active segment (so a threshold under a segment used to checkpoint at every tick).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const value = new Uint8Array(1000);
const KIB = 1024;

/** Waits until `done()` holds (10 s at most). */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

test('a WAL-bytes threshold smaller than a segment is not due again right after the checkpoint it triggered', async () => {
  const dir = tmpDir('wal-bytes-due');
  const opened = await new RecoveryManager({
    dir,
    wal: { segmentSizeBytes: 4 * 1024 * KIB },
    checkpoint: { walSizeThresholdBytes: 64 * KIB },
  }).open();
  const { store, checkpoints } = opened;
  for (let i = 0; i < 70; i++) store.put(`k${i}`, value);
  await store.durable();
  // 70 KiB appended: due, and the store checkpoints on its own.
  await until(() => checkpoints.stats().checkpoints === 1);
  await checkpoints.idle();
  assert.equal(checkpoints.stats().checkpoints, 1, '70 KiB appended: one automatic checkpoint');
  assert.ok(checkpoints.walSize() >= 64 * KIB, 'the active segment still holds those bytes');
  assert.ok(!checkpoints.isDue(), 'nothing appended since the checkpoint: not due');
  for (let i = 0; i < 10; i++) store.put(`m${i}`, value);
  await store.durable();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(!checkpoints.isDue(), '10 KiB since the checkpoint: not due');
  assert.equal(checkpoints.stats().checkpoints, 1, 'and no second checkpoint');
  assert.ok(checkpoints.walBytesSinceCheckpoint() >= 10 * value.length);
  assert.ok(checkpoints.walBytesSinceCheckpoint() < 12 * KIB);
  await opened.close();

  // Bytes written before a restart still count.
  const reopened = await new RecoveryManager({
    dir,
    wal: { segmentSizeBytes: 4 * 1024 * KIB },
    checkpoint: { walSizeThresholdBytes: 64 * KIB },
  }).open();
  assert.ok(reopened.checkpoints.walBytesSinceCheckpoint() >= 10 * value.length, 'the replayed bytes count');
  assert.ok(!reopened.checkpoints.isDue());
  for (let i = 0; i < 55; i++) reopened.store.put(`n${i}`, value);
  await reopened.store.durable();
  await until(() => reopened.checkpoints.stats().checkpoints === 1);
  assert.equal(
    reopened.checkpoints.stats().checkpoints,
    1,
    '10 KiB before the restart + 55 KiB after: due, checkpointed',
  );
  await reopened.close();
});

test('Ring 1 does not checkpoint at every tick once the WAL on disk is past checkpointWalBytes', async () => {
  const dir = tmpDir('wal-bytes-ring1');
  const { store } = await openChangelogAwareStore({
    dir,
    checkpointWalBytes: 128 * KIB,
    wal: { segmentSizeBytes: 4 * 1024 * KIB },
  });
  for (let i = 0; i < 140; i++) store.put(`k${i}`, value);
  await store.durable();
  const deadline = Date.now() + 10_000;
  while (store.stats().checkpoints < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.stats().checkpoints, 1, '140 KiB: one checkpoint');
  // ~20 KiB more over 1 s: Ring 1 looks every 100 ms, and the WAL on disk stays over 128 KiB.
  for (let t = 0; t < 10; t++) {
    for (let i = 0; i < 2; i++) store.put(`m${t}-${i}`, value);
    await store.durable();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(store.stats().walSizeBytes >= 128 * KIB);
  assert.equal(store.stats().checkpoints, 1, 'no checkpoint for 20 KiB under a 128 KiB threshold');
  await store.close();
});
