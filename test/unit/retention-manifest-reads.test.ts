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

test('a publisher whose retention step re-read every retained manifest at each checkpoint now reads only what it has not seen, and forgets what was deleted', async (t) => {
  const dir = tmpDir('retention-cache');
  let reads = 0;
  const proto = FileSystemCheckpointStore.prototype;
  const load = proto.loadManifest;
  proto.loadManifest = function (id) {
    reads++;
    return load.call(this, id);
  };
  t.after(() => {
    proto.loadManifest = load;
  });
  const manager = new RecoveryManager({
    dir,
    checkpoint: { maxRetained: 3, maxChainLength: 4, maxDeltaRatio: 1000 },
  });
  const s = await manager.open();
  const kinds: string[] = [];
  for (let c = 0; c < 12; c++) {
    for (let i = 0; i < 20; i++) s.store.put(`k${c}:${i}`, Buffer.from([c, i]));
    const before = reads;
    const m = await s.checkpoint();
    kinds.push(m.kind);
    assert.equal(reads - before, 0, `checkpoint ${c + 1} (${m.kind}) read ${reads - before} manifests`);
  }
  assert.ok(kinds.filter((k) => k === 'base').length >= 2, 'bases were written and old chains deleted');
  await s.close();
  // What retention kept is what a fresh plan keeps.
  const fresh = new FileSystemCheckpointStore(await FsDirectory.openExisting(path.join(dir, 'checkpoints')));
  const plan = await planRetention(fresh, { maxRetained: 3 });
  assert.equal(plan.remove.length, 0);
});
