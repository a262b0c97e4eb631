// Bugs the API fuzzer (test/property/api-fuzz.property.test.ts) found, each minimized to the
// calls that show it.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('a commit naming a source "__proto__" is refused at the call instead of acknowledged and then lost by recovery', async () => {
  const base = tmpDir('fuzz-proto-source');
  // Object.fromEntries (like JSON.parse) makes `__proto__` an own property, so it reaches the WAL.
  const offsets = Object.fromEntries([['__proto__', 5]]) as Record<string, number>;

  const simpleDir = path.join(base, 'simple');
  const simple = await new RecoveryManager({ dir: simpleDir }).open();
  simple.store.commit({ src: 1 });
  const lsn = simple.store.wal.lastLsn;
  assert.throws(() => simple.store.commit(offsets, 0), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  assert.equal(simple.store.wal.lastLsn, lsn, 'nothing was logged for the refused commit');
  assert.deepEqual({ ...simple.store.sourceOffsets }, { src: 1 });
  await simple.close();
  const r = await new RecoveryManager({ dir: simpleDir }).recover();
  assert.deepEqual({ ...r.sourceOffsets }, { src: 1 }, 'recovery gives the offsets the store reported');

  const { store } = await openChangelogAwareStore({ dir: path.join(base, 'ring') });
  const seq = store.lastSequenceNumber;
  assert.throws(() => store.commit(offsets, 0), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  assert.equal(store.lastSequenceNumber, seq, 'no sequence handed out for the refused commit');
  await store.close();
});

test('checkpoint(null), checkpoint(5) and checkpoint([]) on the simple store are refused instead of silently clearing the carried extras', async () => {
  const dir = tmpDir('fuzz-checkpoint-extras');
  const opened = await new RecoveryManager({ dir }).open();
  opened.store.put('a', Buffer.from('1'));
  const first = await opened.checkpoint({ sinkEpochs: { sink: 3 } });
  for (const bad of [null, 5, [], 'x']) {
    await assert.rejects(opened.checkpoint(bad as never), { code: 'TIDEMARK_INVALID_ARGUMENT' }, String(bad));
  }
  await assert.rejects(opened.checkpoint(undefined, 7 as never), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  const next = await opened.checkpoint();
  assert.ok(next.id > first.id);
  await opened.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.deepEqual(r.checkpoint?.sinkEpochs, { sink: 3 }, 'the extras carried forward were not cleared');
});

test('checkpoint extras the manifest reader would refuse (a string operator state, a negative sink epoch, a NaN watermark) are refused at the call, not published or failed as TIDEMARK_BUG', async () => {
  const dir = tmpDir('fuzz-checkpoint-extras-content');
  const opened = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  opened.store.put('a', Buffer.from('1'));
  const bad = [
    { operators: { window: 'not bytes' } },
    { sinkEpochs: { sink: -1 } },
    { sourceWatermarks: { src: Number.NaN } },
    { connectors: { src: 5 } },
  ];
  for (const extras of bad) {
    await assert.rejects(
      opened.checkpoint(extras as never),
      { code: 'TIDEMARK_INVALID_ARGUMENT' },
      JSON.stringify(extras),
    );
  }
  await opened.checkpoint({ operators: { window: Buffer.from('ok') }, sinkEpochs: { sink: 2 } });
  await opened.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.deepEqual(r.stats.checkpointsSkipped, [], 'no published checkpoint fails validation');
  assert.deepEqual([...r.state.keys()], ['a']);
});

test('a put made on the simple store while close() awaits its final sync is refused with TIDEMARK_CLOSED, not accepted and then written to a closed file', async () => {
  const dir = tmpDir('fuzz-put-during-close');
  const opened = await new RecoveryManager({ dir }).open();
  opened.store.put('before', Buffer.from('1'));
  const closing = opened.close();
  await new Promise((r) => setImmediate(r));
  assert.throws(() => opened.store.put('during', Buffer.from('2')), { code: 'TIDEMARK_CLOSED' });
  await closing;
  assert.throws(() => opened.store.put('after', Buffer.from('3')), { code: 'TIDEMARK_CLOSED' });
  const r = await new RecoveryManager({ dir }).recover();
  assert.deepEqual([...r.state.keys()], ['before']);
});
