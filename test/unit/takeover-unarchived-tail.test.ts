// A takeover when the previous writer archived nothing after its last checkpoint (file:// object
// store: no radosgw). The unarchived tail is the documented loss bound (RPO), not data loss; a
// real gap in what the store holds is still TIDEMARK_DATA_LOSS.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { parseObjectStoreUrl } from '../../src/io/index.ts';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

test('a takeover after a checkpoint whose later records were never archived recovers the checkpoint instead of failing TIDEMARK_DATA_LOSS', async () => {
  const root = tmpDir('takeover-unarchived');
  const objectStore = parseObjectStoreUrl(`file://${path.join(root, 'store')}`);
  const options = {
    objectStore,
    archiveIntervalMs: 0,
    transactional: true,
    wal: { segmentSizeBytes: 1 << 20 },
  };
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'a') }).open();
  for (let i = 0; i < 50; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 50 }));
  await a.checkpoint();
  for (let i = 50; i < 60; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 60 }));
  const exposure = a.archiver!.stats().unarchivedBytes;
  assert.ok(exposure > 0, 'A reports its unarchived tail');
  // A is abandoned (its machine is gone): nothing more is archived. A restore alone recovers the checkpoint.
  const restored = path.join(root, 'restored');
  await restoreFromObjectStore({ from: objectStore, dir: restored });
  assert.equal((await new RecoveryManager({ dir: restored }).recover()).state.size, 50);
  const b = await new RecoveryManager({ ...options, dir: path.join(root, 'b'), takeover: true }).open();
  assert.equal(b.recovered.state.size, 50, 'the checkpoint is recovered; the unarchived tail is the RPO');
  assert.deepEqual(b.recovered.sourceOffsets, { src: 50 });
  b.store.put('after', payloadFor(1));
  await b.store.flushed(b.store.commit({ src: 61 }));
  await b.close();
  await assert.rejects(a.close(), (e) => isTidemarkError(e, 'TIDEMARK_FENCED'));
  fs.rmSync(root, { recursive: true, force: true });
});

/** Writer A: a checkpoint, then enough after it that several sealed segments are archived. */
async function archivedPastCheckpoint(label: string) {
  const root = tmpDir(label);
  const storeDir = path.join(root, 'store');
  const objectStore = parseObjectStoreUrl(`file://${storeDir}`);
  const options = { objectStore, archiveIntervalMs: 0, transactional: true, wal: { segmentSizeBytes: 4096 } };
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'a') }).open();
  for (let i = 0; i < 40; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 40 }));
  const meta = await a.checkpoint();
  for (let i = 40; i < 200; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 200 }));
  await a.archiver!.archiveSealed();
  const ckptLsn = meta.lsn;
  const segments = a.archiver!.wal.segmentList();
  // The segment holding the first record after the checkpoint, and the one after it.
  const holding = segments.filter((s) => s.firstLsn <= ckptLsn + 1).at(-1)!.number;
  const archiveDir = path.join(storeDir, 'wal');
  const archived = fs.readdirSync(archiveDir).filter((f) => /^wal-\d+\.log$/.test(f));
  assert.ok(archived.length >= 3, `several segments archived (${archived.join(', ')})`);
  return { root, options, a, holding, archiveDir, archived };
}

const dataLoss = (e: unknown) => isTidemarkError(e, 'TIDEMARK_DATA_LOSS');

test('a takeover whose archive lacks the segment after the checkpoint while later ones exist is still TIDEMARK_DATA_LOSS', async () => {
  const { root, options, a, holding, archiveDir } = await archivedPastCheckpoint('takeover-gap');
  fs.rmSync(path.join(archiveDir, `wal-${String(holding + 1).padStart(16, '0')}.log`));
  await assert.rejects(
    new RecoveryManager({ ...options, dir: path.join(root, 'b'), takeover: true }).open(),
    dataLoss,
  );
  await a.close().catch(() => {});
  fs.rmSync(root, { recursive: true, force: true });
});

test('a takeover whose archive starts past the checkpoint (the segment holding its next record is gone) is still TIDEMARK_DATA_LOSS', async () => {
  const { root, options, a, holding, archiveDir, archived } = await archivedPastCheckpoint('takeover-late');
  for (const f of archived) if (Number(/\d+/.exec(f)![0]) <= holding) fs.rmSync(path.join(archiveDir, f));
  await assert.rejects(
    new RecoveryManager({ ...options, dir: path.join(root, 'b'), takeover: true }).open(),
    dataLoss,
  );
  await a.close().catch(() => {});
  fs.rmSync(root, { recursive: true, force: true });
});

test('the pipeline store taking over after an unarchived tail recovers the checkpoint too (it fetched the archive, then refused with TIDEMARK_DATA_LOSS)', async () => {
  const root = tmpDir('takeover-unarchived-ring');
  const objectStore = `file://${path.join(root, 'store')}`;
  const a = await new RecoveryManager({
    objectStore,
    archiveIntervalMs: 0,
    transactional: true,
    dir: path.join(root, 'a'),
  }).open();
  for (let i = 0; i < 50; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 50 }));
  await a.checkpoint();
  for (let i = 50; i < 60; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 60 }));
  assert.ok(a.archiver!.stats().unarchivedBytes > 0);
  const { openChangelogAwareStore } = await import('../../src/pipeline/index.ts');
  const b = await openChangelogAwareStore({
    dir: path.join(root, 'b'),
    objectStore,
    transactional: true,
    takeover: true,
  });
  assert.equal(b.recovered.state.size, 50, 'the checkpoint is recovered; the unarchived tail is the RPO');
  assert.deepEqual(b.recovered.sourceOffsets, { src: 50 });
  b.store.put('after', payloadFor(1));
  await b.store.flushed(b.store.commit({ src: 61 }));
  await b.store.close();
  await assert.rejects(a.close(), (e) => isTidemarkError(e, 'TIDEMARK_FENCED'));
  const restored = path.join(root, 'restored');
  await restoreFromObjectStore({ from: objectStore, dir: restored });
  const r = await new RecoveryManager({ dir: restored, transactional: true }).recover();
  assert.equal(r.state.size, 51, "B's write after the takeover is in the archive");
  fs.rmSync(root, { recursive: true, force: true });
});

test('two takeovers in a row, the first continuing past an unarchived tail, recover every commit the last owner made durable and archived', async () => {
  const root = tmpDir('takeover-twice');
  const storeDir = path.join(root, 'store');
  const objectStore = parseObjectStoreUrl(`file://${storeDir}`);
  const options = {
    objectStore,
    archiveIntervalMs: 0,
    transactional: true,
    maxRetained: 10,
    wal: { segmentSizeBytes: 4096 },
  };
  // A: sealed segments in the archive, then a checkpoint whose segment was never archived.
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'a') }).open();
  for (let i = 0; i < 200; i++) a.store.put(`k${i % 150}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 200 }));
  await a.archiver!.archiveSealed();
  const archivedByA = a.archiver!.stats().archivedBeforeLsn;
  for (let i = 200; i < 230; i++) a.store.put(`k${i % 150}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 230 }));
  const ckpt = await a.checkpoint();
  assert.ok(
    ckpt.lsn >= archivedByA,
    `the checkpoint (LSN ${ckpt.lsn}) is past the archive (before LSN ${archivedByA})`,
  );
  // B takes over: its log continues right after the checkpoint, above the archive's last LSN.
  const b = await new RecoveryManager({ ...options, dir: path.join(root, 'b'), takeover: true }).open();
  assert.deepEqual(b.recovered.sourceOffsets, { src: 230 });
  for (let i = 230; i < 400; i++) b.store.put(`k${i % 150}`, payloadFor(i));
  await b.store.flushed(b.store.commit({ src: 400 }));
  await b.archiver!.archiveSealed();
  await b.checkpoint();
  for (let i = 400; i < 420; i++) b.store.put(`k${i % 150}`, payloadFor(i));
  await b.store.flushed(b.store.commit({ src: 420 }));
  await b.close(); // archives its whole log
  // C takes over from B.
  const c = await new RecoveryManager({ ...options, dir: path.join(root, 'c'), takeover: true }).open();
  assert.deepEqual(c.recovered.sourceOffsets, { src: 420 });
  await c.close();
  await a.close().catch(() => {});
  fs.rmSync(root, { recursive: true, force: true });
});
