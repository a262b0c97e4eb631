// The WAL-bytes trigger bounds what a crash replays, on both engines: each checkpoints on its own
// once `walSizeThresholdBytes` (`checkpointWalBytes`) were written since the last checkpoint, and
// stats() says how many bytes a recovery would replay now and roughly how long that would take.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const KIB = 1024;
const BOUND = 64 * KIB;
/** Writes come in batches of ~16 KiB with a pause (longer than the 10 ms tick) after each. */
const BATCH = 16;
const value = new Uint8Array(1000);
const pause = () => new Promise((r) => setTimeout(r, 25));

test('a RecoveryManager store never leaves more than the WAL-bytes bound (plus one batch) to replay after a crash', async () => {
  const dir = tmpDir('bounded-replay');
  const opened = await new RecoveryManager({
    dir,
    wal: { segmentSizeBytes: 4 * 1024 * KIB },
    checkpoint: { walSizeThresholdBytes: BOUND },
  }).open();
  let worst = 0;
  for (let b = 0; b < 64; b++) {
    for (let i = 0; i < BATCH; i++) opened.store.put(`k${(b * BATCH + i) % 300}`, value);
    await opened.store.durable();
    await pause();
    await opened.checkpoints.idle();
    worst = Math.max(worst, opened.checkpoints.stats().walBytesSinceCheckpoint);
  }
  const stats = opened.checkpoints.stats();
  assert.ok(
    stats.checkpoints >= 10,
    `1 MiB under a 64 KiB bound: automatic checkpoints (${stats.checkpoints})`,
  );
  assert.ok(worst < BOUND + 2 * BATCH * KIB, `at most the bound + a batch behind (worst ${worst} B)`);
  assert.ok(stats.replayBytesPerMs > 0);
  assert.equal(stats.estimatedReplayMs, stats.walBytesSinceCheckpoint / stats.replayBytesPerMs);
  // A crash now (the store is never closed): recovery replays what stats() said, not more.
  const r = await new RecoveryManager({ dir }).recover();
  assert.ok(
    r.stats.bytesReplayed <= stats.walBytesSinceCheckpoint + 100,
    `replayed ${r.stats.bytesReplayed} B, stats said ${stats.walBytesSinceCheckpoint} B`,
  );
  assert.ok(r.stats.bytesReplayed < BOUND + 2 * BATCH * KIB);
  await opened.close();
});

test('the changelog-aware store reports walBytesSinceCheckpoint and estimatedReplayMs, and Ring 1 keeps them under checkpointWalBytes', async () => {
  const dir = tmpDir('bounded-replay-ring1');
  const { store } = await openChangelogAwareStore({
    dir,
    checkpointWalBytes: BOUND,
    wal: { segmentSizeBytes: 4 * 1024 * KIB },
  });
  assert.equal(store.stats().walBytesSinceCheckpoint, 0);
  let worst = 0;
  for (let b = 0; b < 64; b++) {
    for (let i = 0; i < BATCH; i++) store.put(`k${(b * BATCH + i) % 300}`, value);
    await store.durable();
    await pause();
    // Past the bound Ring 1 has a checkpoint under way: what a crash would replay drops once it
    // is published (the writer here is slower than the checkpointer, as the bound assumes).
    const deadline = Date.now() + 5000;
    while (store.stats().walBytesSinceCheckpoint >= BOUND && Date.now() < deadline) await pause();
    worst = Math.max(worst, store.stats().walBytesSinceCheckpoint);
  }
  const s = store.stats();
  assert.ok(s.checkpoints >= 10, `automatic checkpoints in Ring 1 (${s.checkpoints})`);
  assert.ok(worst < BOUND, `worst ${worst} B since a checkpoint once each checkpoint is published`);
  assert.ok(Number.isFinite(s.estimatedReplayMs) && s.estimatedReplayMs >= 0);
  const r = await new RecoveryManager({ dir }).recover();
  assert.ok(
    r.stats.bytesReplayed < BOUND + 3 * BATCH * KIB,
    `a crash now replays ${r.stats.bytesReplayed} B`,
  );
  await store.close();
});
