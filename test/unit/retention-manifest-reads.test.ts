// Retention walks every retained head's chain back to its base; the chains share their
// checkpoints, and reading each manifest again for every head made the retention step of a
// checkpoint grow with the square of the chain length (a fixed cost of every small delta).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileSystemCheckpointStore, planRetention } from '../../src/checkpoint/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('retention reads each manifest once, however many retained chains share it', async () => {
  const dir = tmpDir('retention-reads');
  const manager = new RecoveryManager({
    dir,
    checkpoint: { maxRetained: 100, maxChainLength: 100, maxDeltaRatio: 1000 },
  });
  const s = await manager.open();
  for (let c = 0; c < 8; c++) {
    for (let i = 0; i < 20; i++) s.store.put(`k${c}:${i}`, Buffer.from([c, i]));
    const m = await s.checkpoint();
    assert.equal(m.kind, c === 0 ? 'base' : 'delta');
  }
  await s.close();
  const store = new FileSystemCheckpointStore(await FsDirectory.openExisting(path.join(dir, 'checkpoints')));
  let reads = 0;
  const load = store.loadManifest.bind(store);
  store.loadManifest = (id) => {
    reads++;
    return load(id);
  };
  const plan = await planRetention(store, { maxRetained: 8, minRetainedBases: 1 });
  assert.equal(plan.retained.length, 8);
  assert.equal(plan.remove.length, 0);
  assert.equal(reads, 8, 'one read per checkpoint');
});
