// The per-core engine as one writer of an object-store prefix (file:// store, no radosgw): it
// claims a writer epoch on open, names it in what it publishes, is fenced after a takeover, and
// restore follows only the valid history.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileSystemCheckpointStore } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { FsDirectory, parseObjectStoreUrl } from '../../src/io/index.ts';
import { epochOfMetadata, listEpochs } from '../../src/io/writer-epoch.ts';
import {
  openPerCoreOnObjectStore,
  recoverPerCore,
  restorePerCoreFromObjectStore,
} from '../../src/recovery/index.ts';
import { coreArchiveStorage } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const text = (m: { entries(): Iterable<[string, Uint8Array]> }) =>
  Object.fromEntries([...m.entries()].map(([k, x]) => [k, Buffer.from(x).toString()]).sort());
const fenced = (e: unknown) => isTidemarkError(e, 'TIDEMARK_FENCED');

async function restoredState(storeUrl: string, dir: string, cores: number, transactional = true) {
  await restorePerCoreFromObjectStore({ from: storeUrl, dir, cores });
  return recoverPerCore({
    walRoot: await FsDirectory.open(path.join(dir, 'wal')),
    store: new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints'))),
    cores,
    transactional,
  });
}

test('a paused per-core writer whose prefix was taken over is fenced: its checkpoints, archive uploads and appends reject TIDEMARK_FENCED, and a restore holds only the new owner', async () => {
  const root = tmpDir('per-core-fencing');
  const storeUrl = `file://${path.join(root, 'store')}`;
  // Not transactional: a batch the archive cuts mid-way would otherwise be resurrected by the new
  // owner's next commit on that core (per-core logs have no abort record; not what this tests).
  const options = {
    objectStore: storeUrl,
    cores: 2,
    transactional: false,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  };
  const a = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a') });
  assert.equal(a.fence.epoch, 1);
  const write = (w: (typeof a.writers)[number], prefix: string, n: number, src: number) => {
    for (let i = 0; i < n; i++) w.appendPut(`${prefix}${i}`, v(`${prefix}-${i}-${'x'.repeat(40)}`));
    w.appendCommit({ src });
  };
  for (const c of [0, 1]) write(a.writers[c]!, `a${c}-`, 60, 1);
  await Promise.all(a.writers.map((w) => w.sync()));
  const ckpt = await a.coordinator.checkpoint();
  assert.equal((await a.store.loadManifest(ckpt.id)).writerEpoch, 1, 'the manifest names its epoch');
  for (let batch = 0; batch < 15; batch++)
    for (const c of [0, 1]) write(a.writers[c]!, `a${c}-late${batch}-`, 10, 2 + batch);
  await Promise.all(a.writers.map((w) => w.sync()));
  await Promise.all(a.archives.map((x) => x.archiver.archiveSealed()));
  const core0 = coreArchiveStorage(parseObjectStoreUrl(storeUrl), 0);
  const listed = (await core0.list('wal/')).filter((o) => /wal-\d+\.log$/.test(o.key));
  assert.ok(listed.length > 0);
  assert.equal(
    epochOfMetadata((await core0.head(listed[0]!.key))!.metadata),
    1,
    'archived segments name their epoch',
  );

  // A new machine takes over: it recovers what A published, fencing A.
  const b = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'b'), takeover: true });
  assert.equal(b.fence.epoch, 2);
  assert.deepEqual(await listEpochs(core0), [], 'epochs live at the prefix, not per core');
  const expected = text(b.recovered.state);
  assert.ok(expected['a0-0'] && expected['a1-59'], 'the checkpoint is recovered');
  assert.ok(expected['a0-late0-0'] && expected['a1-late0-0'], 'and the archived WAL after it');
  for (const c of [0, 1]) {
    write(b.writers[c]!, `b${c}-`, 40, 3);
    for (let i = 0; i < 40; i++) expected[`b${c}-${i}`] = `b${c}--${i}-${'x'.repeat(40)}`;
  }
  await Promise.all(b.writers.map((w) => w.sync()));

  // The zombie wakes up: every publish is refused, for good, and its logs stop acknowledging.
  for (const c of [0, 1]) write(a.writers[c]!, `zombie${c}-`, 80, 99);
  await assert.rejects(a.coordinator.checkpoint(), fenced);
  await assert.rejects(a.archives[0]!.archiver.archiveSealed(), fenced);
  await assert.rejects(a.archives[1]!.archiver.archiveSealed(), fenced);
  assert.throws(() => a.writers[0]!.appendPut('after', v('fenced')), fenced);
  await assert.rejects(a.writers[1]!.sync(), fenced);
  await assert.rejects(a.close(), fenced);
  // Its directory may hold entries the new owner never saw: reopening it is refused, and a
  // takeover needs a fresh directory.
  await assert.rejects(openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a') }), fenced);
  await assert.rejects(
    openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a'), takeover: true }),
    (e) => isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT'),
  );

  await b.coordinator.checkpoint();
  await b.close();
  const restored = await restoredState(storeUrl, path.join(root, 'restored'), 2, false);
  const got = text(restored.state);
  assert.deepEqual(got, expected);
  core0.destroy();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a per-core segment a zombie archived after the takeover (its check passed before it) is never restored, and the new owner archives its own segment of that number beside it', async () => {
  const root = tmpDir('per-core-zombie-window');
  const storeUrl = `file://${path.join(root, 'store')}`;
  const options = {
    objectStore: storeUrl,
    cores: 1,
    transactional: true,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  };
  const a = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a') });
  const w = a.writers[0]!;
  for (let i = 0; i < 60; i++) w.appendPut(`a${i}`, v(`a${i}-${'y'.repeat(40)}`));
  w.appendCommit({ src: 1 });
  await w.sync();
  await a.coordinator.checkpoint();
  await a.archives[0]!.archiver.archiveSealed();
  for (let i = 0; i < 200; i++) w.appendPut(`zombie${i}`, v(`z${i}-${'y'.repeat(40)}`));
  w.appendCommit({ src: 2 });
  await w.sync();

  const b = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'b'), takeover: true });
  const expected = text(b.recovered.state);
  assert.ok(!('zombie0' in expected));
  // The window: A's check ran before B's claim, its upload lands after it (its sealed segments, epoch 1).
  const core = coreArchiveStorage(parseObjectStoreUrl(storeUrl), 0);
  const archivedNumbers = new Set((await core.list('wal/')).map((o) => o.key));
  const walDir = path.join(root, 'a', 'wal', 'core-0');
  const local = fs
    .readdirSync(walDir)
    .filter((f) => /^wal-\d+\.log$/.test(f))
    .sort();
  let uploaded = 0;
  for (const f of local.slice(0, -1)) {
    if (archivedNumbers.has(`wal/${f}`)) continue;
    await core.put(`wal/${f}`, fs.readFileSync(path.join(walDir, f)), {
      createOnly: true,
      metadata: { 'tidemark-epoch': '1' },
    });
    uploaded++;
  }
  assert.ok(uploaded > 0, 'the zombie uploaded segments after the takeover');
  for (let i = 0; i < 80; i++) b.writers[0]!.appendPut(`b${i}`, v(`b${i}-${'y'.repeat(40)}`));
  b.writers[0]!.appendCommit({ src: 3 });
  for (let i = 0; i < 80; i++) expected[`b${i}`] = `b${i}-${'y'.repeat(40)}`;
  await b.writers[0]!.sync();
  // Restored before B archives anything: the zombie's segments are beyond B's cutoff, invisible.
  const before = await restoredState(storeUrl, path.join(root, 'r1'), 1);
  assert.ok(!Object.keys(text(before.state)).some((k) => k.startsWith('zombie')));
  await b.close(); // archives B's segments: beside the zombie's where the numbers collide
  assert.ok(
    (await core.list('wal/')).some((o) => /~e0+2$/.test(o.key)),
    'an epoch key beside a zombie segment',
  );
  const final = text((await restoredState(storeUrl, path.join(root, 'r2'), 1)).state);
  assert.deepEqual(final, expected);
  await a.close().catch(() => {});
  core.destroy();
  fs.rmSync(root, { recursive: true, force: true });
});

test('a per-core takeover after a checkpoint whose later entries were never archived recovers the checkpoint (the RPO) instead of failing TIDEMARK_DATA_LOSS', async () => {
  const root = tmpDir('per-core-unarchived');
  const storeUrl = `file://${path.join(root, 'store')}`;
  const options = {
    objectStore: storeUrl,
    cores: 2,
    transactional: true,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 1 << 20 },
  };
  const a = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a') });
  for (const c of [0, 1]) {
    for (let i = 0; i < 30; i++) a.writers[c]!.appendPut(`c${c}-${i}`, v(`v${i}`));
    a.writers[c]!.appendCommit({ src: 30 });
  }
  await Promise.all(a.writers.map((w) => w.sync()));
  await a.coordinator.checkpoint();
  for (const c of [0, 1]) {
    for (let i = 30; i < 40; i++) a.writers[c]!.appendPut(`c${c}-${i}`, v(`v${i}`));
    a.writers[c]!.appendCommit({ src: 40 });
  }
  await Promise.all(a.writers.map((w) => w.sync()));
  assert.ok(
    a.archives.every((x) => x.stats().unarchivedBytes > 0),
    'A reports its unarchived tail',
  );
  // A's machine is gone. A restore alone (no writer) recovers the checkpoint too.
  const restored = await restoredState(storeUrl, path.join(root, 'restored'), 2);
  assert.equal(restored.state.size, 60);
  const b = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'b'), takeover: true });
  assert.equal(b.recovered.state.size, 60, 'the checkpoint; the unarchived tail is the documented loss');
  for (const c of [0, 1]) assert.equal(b.recovered.cores.get(c)!.sourceOffsets.src, 30);
  b.writers[1]!.appendPut('after', v('takeover'));
  b.writers[1]!.appendCommit({ src: 41 });
  await b.writers[1]!.sync();
  await b.coordinator.checkpoint();
  await b.close();
  const again = await restoredState(storeUrl, path.join(root, 'again'), 2);
  assert.equal(text(again.state).after, 'takeover');
  assert.equal(again.state.size, 61);
  await a.close().catch(() => {});
  fs.rmSync(root, { recursive: true, force: true });
});

test('a per-core takeover whose core archive lacks a segment between the checkpoint and later archived ones is still TIDEMARK_DATA_LOSS', async () => {
  const root = tmpDir('per-core-archive-gap');
  const storeDir = path.join(root, 'store');
  const options = {
    objectStore: `file://${storeDir}`,
    cores: 1,
    transactional: true,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  };
  const a = await openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'a') });
  const w = a.writers[0]!;
  for (let i = 0; i < 30; i++) w.appendPut(`k${i}`, v(`v${i}-${'q'.repeat(40)}`));
  w.appendCommit({ src: 1 });
  await w.sync();
  const ckpt = await a.coordinator.checkpoint();
  for (let i = 30; i < 200; i++) w.appendPut(`k${i}`, v(`v${i}-${'q'.repeat(40)}`));
  w.appendCommit({ src: 2 });
  await w.sync();
  await a.archives[0]!.archiver.archiveSealed();
  const archiveDir = path.join(storeDir, 'wal', 'core-0', 'wal');
  const names = fs
    .readdirSync(archiveDir)
    .filter((f) => /^wal-\d+\.log$/.test(f))
    .sort();
  const holding = ckpt.positions['0']!.segment;
  const after = names.filter((f) => Number(/\d+/.exec(f)![0]) > holding);
  assert.ok(after.length >= 2, `segments archived after the checkpoint's (${names.join(', ')})`);
  fs.rmSync(path.join(archiveDir, after[0]!));
  await assert.rejects(
    openPerCoreOnObjectStore({ ...options, dir: path.join(root, 'b'), takeover: true }),
    (e) => isTidemarkError(e, 'TIDEMARK_DATA_LOSS'),
  );
  await a.close().catch(() => {});
  fs.rmSync(root, { recursive: true, force: true });
});
