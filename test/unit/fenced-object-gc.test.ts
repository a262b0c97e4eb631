// Objects a fenced writer published after a takeover are invisible for good; the new owner's
// checkpoint deletes them (file:// object store: no radosgw), and nothing visible.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ObjectStoreCheckpointStore } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { createObjectStorage } from '../../src/io/file-object-storage.ts';
import { parseObjectStoreUrl } from '../../src/io/index.ts';
import { WriterFence } from '../../src/io/writer-epoch.ts';
import {
  openPerCoreOnObjectStore,
  RecoveryManager,
  restoreFromObjectStore,
} from '../../src/recovery/index.ts';
import { coreArchiveStorage } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const fenced = (e: unknown) => isTidemarkError(e, 'TIDEMARK_FENCED');
const segmentKey = (n: number) => `wal/wal-${String(n).padStart(16, '0')}.log`;

/** Lets the fence's next check pass, as if it ran before the takeover (the writer paused after it). */
function pausedAfterCheck(fence: WriterFence): void {
  const real = fence.check.bind(fence);
  let passed = false;
  fence.check = async (what) => {
    if (passed) return real(what);
    passed = true;
  };
}

test("the new owner's checkpoint deletes the checkpoint and archived segment a zombie published after the takeover, and nothing visible", async () => {
  const root = tmpDir('fenced-gc');
  const objectStore = parseObjectStoreUrl(`file://${path.join(root, 'store')}`);
  const options = { objectStore, archiveIntervalMs: 0, wal: { segmentSizeBytes: 4096 } };
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'a') }).open();
  for (let i = 0; i < 100; i++) a.store.put(`a${i}`, payloadFor(i));
  await a.checkpoint();
  await a.archiver!.archiveAll();
  const b = await new RecoveryManager({ ...options, dir: path.join(root, 'b'), takeover: true }).open();
  const storage = createObjectStorage(objectStore);
  const raw = new ObjectStoreCheckpointStore(storage);

  // The zombie: its manifest lands (its check passed before the takeover), and so does a segment.
  pausedAfterCheck(WriterFence.of(a.archiver!.storage)!);
  a.store.put('zombie', payloadFor(1));
  await assert.rejects(a.checkpoint(), fenced);
  const zombieCheckpoint = (await raw.list()).at(-1)!;
  assert.equal((await raw.loadManifest(zombieCheckpoint)).writerEpoch, 1);
  await storage.put(segmentKey(900), Buffer.from('a zombie segment'), {
    createOnly: true,
    metadata: { 'tidemark-epoch': '1' },
  });
  await a.close().catch(() => {});

  for (let i = 0; i < 100; i++) b.store.put(`b${i}`, payloadFor(i));
  await b.store.flushed(b.store.commit({}));
  await b.checkpoint();
  const ids = await raw.list();
  assert.ok(!ids.includes(zombieCheckpoint), `the zombie's checkpoint ${zombieCheckpoint} is gone (${ids})`);
  const keys = (await storage.list('wal/')).map((o) => o.key);
  assert.ok(!keys.includes(segmentKey(900)), "the zombie's segment is gone");
  assert.ok(
    keys.some((k) => /wal-\d+\.log$/.test(k)),
    'the visible archive stays',
  );
  await b.close();

  const restored = path.join(root, 'restored');
  await restoreFromObjectStore({ from: objectStore, dir: restored });
  const r = await new RecoveryManager({ dir: restored }).recover();
  assert.equal(r.state.has('zombie'), false);
  assert.ok(r.state.has('a99') && r.state.has('b99'));
  storage.destroy();
  fs.rmSync(root, { recursive: true, force: true });
});

test("the per-core owner's checkpoint deletes a core segment a zombie archived after the takeover, and keeps its own beside it", async () => {
  const root = tmpDir('fenced-gc-per-core');
  const storeUrl = `file://${path.join(root, 'store')}`;
  const options = { objectStore: storeUrl, cores: 1, archiveIntervalMs: 0, wal: { segmentSizeBytes: 4096 } };
  const a = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a') });
  for (let i = 0; i < 60; i++) a.writers[0]!.appendPut(`a${i}`, payloadFor(i));
  await a.writers[0]!.sync();
  await a.coordinator.checkpoint();
  await a.archives[0]!.archiver.archiveSealed();
  const b = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'b'), takeover: true });
  const core = coreArchiveStorage(parseObjectStoreUrl(storeUrl), 0);
  await core.put(segmentKey(900), Buffer.from('a zombie segment'), {
    createOnly: true,
    metadata: { 'tidemark-epoch': '1' },
  });
  for (let i = 0; i < 150; i++) b.writers[0]!.appendPut(`b${i}`, payloadFor(i));
  await b.writers[0]!.sync();
  await b.archives[0]!.archiver.archiveSealed();
  const before = (await core.list('wal/')).map((o) => o.key);
  assert.ok(before.includes(segmentKey(900)));
  await b.coordinator.checkpoint();
  const after = (await core.list('wal/')).map((o) => o.key);
  assert.ok(!after.includes(segmentKey(900)), "the zombie's core segment is gone");
  for (const k of before.filter((k) => k !== segmentKey(900) && /wal-\d+\.log/.test(k)))
    assert.ok(
      after.includes(k) || Number(/wal-(\d+)/.exec(k)![1]) < 900,
      `${k}: only retention may remove it`,
    );
  await b.close();
  await a.close().catch(() => {});
  core.destroy();
  fs.rmSync(root, { recursive: true, force: true });
});
