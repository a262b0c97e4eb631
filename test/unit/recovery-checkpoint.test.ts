// The checkpoint openChangelogAwareStore() writes of the recovered state after a long replay
// (`checkpoint.recoveryCheckpointRecords`): a delta of just the replayed keys, so the next open
// replays only what was written since.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const asObject = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, val]) => [k, Buffer.from(val).toString('hex')]));

test('a replay past recoveryCheckpointRecords is checkpointed on open as a delta of the replayed keys, and the next open replays none of it', async () => {
  const dir = tmpDir('recovery-ckpt');
  const first = await openChangelogAwareStore({ dir, transactional: true });
  for (let i = 0; i < 500; i++) first.store.put(`k${i}`, payloadFor(i));
  first.store.commit({ src: 500 });
  const base = await first.store.checkpoint();
  assert.equal(base.kind, 'base');
  for (let i = 0; i < 40; i++) first.store.put(`k${i}`, payloadFor(1000 + i));
  first.store.delete('k499');
  first.store.commit({ src: 541 });
  const expected = asObject(first.store.entries());
  await first.store.close();

  const second = await openChangelogAwareStore({
    dir,
    transactional: true,
    checkpoint: { recoveryCheckpointRecords: 30 },
  });
  const replayed = second.recovered.stats.recordsReplayed;
  assert.ok(replayed >= 42, `the 40 puts, the delete and the commit were replayed (${replayed})`);
  const c = second.recoveryCheckpoint;
  assert.ok(c, 'a checkpoint was written on open');
  assert.equal(c.kind, 'delta', 'a delta on the checkpoint recovery started from');
  assert.equal(c.parentId, base.id);
  assert.equal(c.keysWritten, 41, 'just the 40 changed keys and one tombstone');
  assert.equal(c.tombstones, 1);
  // The manager holds only the changes: a delta leaves its key count to the chain's load.
  assert.equal(c.keys, -1);
  assert.equal(c.recordsReplayed, 0, 'no second replay: the recovered state was checkpointed');
  assert.equal(second.recovered.changedSinceCheckpoint, undefined, 'the change set is not kept');
  assert.deepEqual(asObject(second.store.entries()), expected);
  assert.ok(second.store.epoch >= c.epoch, 'the store writes in the epoch of that checkpoint or later');
  await second.store.close();

  const r = await new RecoveryManager({ dir, transactional: true }).recover();
  assert.equal(r.stats.checkpointId, c.id, 'recovery starts from the checkpoint written on open');
  assert.ok(
    r.stats.recordsReplayed <= 3,
    `only its marker and the clean-shutdown records of the two closes (Ring 0's after the checkpoint on open, Ring 1's) are left to replay (${r.stats.recordsReplayed})`,
  );
  assert.deepEqual(asObject(r.state), expected);
  assert.deepEqual(r.sourceOffsets, { src: 541 });
});

test('a replay shorter than recoveryCheckpointRecords, or with it at 0, writes no checkpoint on open', async () => {
  const dir = tmpDir('recovery-ckpt-below');
  const first = await openChangelogAwareStore({ dir });
  for (let i = 0; i < 20; i++) first.store.put(`k${i}`, payloadFor(i));
  await first.store.close();
  const below = await openChangelogAwareStore({ dir, checkpoint: { recoveryCheckpointRecords: 22 } });
  // 20 puts and the clean-shutdown record the close wrote: every WAL record read counts.
  assert.equal(below.recovered.stats.recordsReplayed, 21);
  assert.equal(below.recoveryCheckpoint, undefined);
  await below.store.close();
  const off = await openChangelogAwareStore({ dir, checkpoint: { recoveryCheckpointRecords: 0 } });
  assert.equal(off.recoveryCheckpoint, undefined);
  await off.store.close();
  const at = await openChangelogAwareStore({ dir, checkpoint: { recoveryCheckpointRecords: 20 } });
  assert.equal(at.recoveryCheckpoint?.kind, 'base', 'the first checkpoint is a base');
  assert.equal(at.recoveryCheckpoint?.keys, 20);
  await at.store.close();
  await assert.rejects(openChangelogAwareStore({ dir, checkpoint: { recoveryCheckpointRecords: -1 } }), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
});

test('an uncommitted tail stays out of the checkpoint written on open and is never revived', async () => {
  const dir = tmpDir('recovery-ckpt-tx');
  const first = await openChangelogAwareStore({ dir, transactional: true });
  for (let i = 0; i < 50; i++) first.store.put(`k${i}`, payloadFor(i));
  first.store.commit({ src: 50 });
  for (let i = 0; i < 10; i++) first.store.put(`pending${i}`, payloadFor(i)); // never committed
  await first.store.close();

  const second = await openChangelogAwareStore({
    dir,
    transactional: true,
    checkpoint: { recoveryCheckpointRecords: 10 },
  });
  assert.equal(second.recovered.stats.uncommittedDiscarded, 10);
  const c = second.recoveryCheckpoint;
  assert.ok(c);
  assert.equal(c.keys, 50, 'only committed keys are in the checkpoint');
  assert.equal(c.lsn, 51, 'it covers the last Commit, not the uncommitted records after it');
  second.store.put('after', payloadFor(99));
  second.store.commit({ src: 51 });
  await second.store.close();

  const r = await new RecoveryManager({ dir, transactional: true }).recover();
  assert.equal(r.state.size, 51);
  assert.ok(!r.state.has('pending0'), 'the uncommitted puts stay discarded (fenced by an Abort)');
  assert.ok(r.state.has('after'));
  assert.deepEqual(r.sourceOffsets, { src: 51 });
});
