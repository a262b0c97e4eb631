import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

test("a put queued behind a full ring ('wait') logs the value as it was at put, not what its buffer held when the queue drained", async () => {
  const dir = tmpDir('pipe-queued-value');
  // A tiny ring fills at once, so most puts wait in Ring 0's queue and enter the ring later.
  const { store } = await openChangelogAwareStore({
    dir,
    backpressure: 'wait',
    ring: { capacityEntries: 16, arenaBytes: 4096 },
    wal: { groupCommitBytes: 1024, groupCommitDelayMs: 50 },
  });
  // One scratch buffer rewritten before every put (as a loader reusing a buffer does): what the
  // log records must be the bytes given to each put(), whenever the entry reaches the ring.
  const scratch = Buffer.alloc(32);
  const keys = 2000;
  let seq = 0;
  for (let i = 0; i < keys; i++) {
    scratch.fill(0);
    scratch.writeUInt32LE(i, 0);
    seq = store.put(`k${i}`, scratch);
  }
  scratch.fill(0xee); // the buffer's last state: no logged record may hold it
  assert.ok(store.stats().entriesQueued > 0, 'puts queued behind the full ring');
  await store.flushed(seq);
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.state.size, keys);
  let wrong = 0;
  let first: string | undefined;
  for (let i = 0; i < keys; i++) {
    const got = Buffer.from(r.state.get(`k${i}`) ?? []);
    const want = Buffer.alloc(32);
    want.writeUInt32LE(i, 0);
    if (!got.equals(want)) {
      wrong++;
      first ??= `k${i}: ${got.toString('hex')}`;
    }
  }
  assert.equal(wrong, 0, `${wrong} keys recovered with another put's bytes, first ${first}`);
});
