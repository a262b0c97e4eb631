/**
 * A small checkpoint on an object store costs two PUTs: one data object (its files packed by the
 * CheckpointBatcher) and the manifest, its commit point. There is no `latest` pointer object to
 * overwrite: the newest checkpoint is found by listing, so a pointer left stale by a crash (or
 * by an earlier version) can never name an older checkpoint than the newest manifest.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadLatestCheckpoint, ObjectStoreCheckpointStore } from '../../src/checkpoint/index.ts';
import { parseObjectStoreUrl } from '../../src/io/object-store-config.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Every object file under `dir`, with its modification time (ns). */
function objects(dir: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, file), fs.statSync(file, { bigint: true }).mtimeNs);
  }
  return out;
}

test('a checkpoint of 1,000 changed keys over 8 operators writes two objects: one data object and the manifest', async () => {
  const root = tmpDir('small-ckpt-puts');
  const storeDir = path.join(root, 'store');
  const url = pathToFileURL(storeDir).href;
  const s = await new RecoveryManager({
    dir: path.join(root, 'data'),
    objectStore: url,
    archiveIntervalMs: 0,
  }).open();
  for (let i = 0; i < 20_000; i++) s.store.put(`op${i % 8}/key-${i}`, Buffer.alloc(32, i % 251));
  await s.checkpoint(); // the base
  for (let i = 0; i < 1000; i++)
    s.store.put(`op${(i * 13) % 8}/key-${i * 13}`, Buffer.alloc(32, (i + 7) % 251));
  const operators: Record<string, Uint8Array> = {};
  for (let o = 0; o < 8; o++) operators[`op${o}`] = Buffer.alloc(4096, o);

  const before = objects(path.join(storeDir, 'checkpoints'));
  const putsBefore = s.checkpoints.stats().objectPuts;
  const delta = await s.checkpoint({ operators });
  const after = objects(path.join(storeDir, 'checkpoints'));
  assert.equal(s.checkpoints.stats().objectPuts - putsBefore, 2, 'stats() counts the two PUTs');
  await s.close();

  assert.equal(delta.kind, 'delta');
  const created = [...after.keys()].filter((k) => !before.has(k));
  const rewritten = [...before.keys()].filter((k) => after.has(k) && after.get(k) !== before.get(k));
  assert.equal(created.length, 2, `objects created: ${created.join(', ')}`);
  assert.ok(created.some((k) => k.endsWith('manifest.json')));
  assert.deepEqual(rewritten, [], 'no object is overwritten (no pointer)');
  assert.equal(after.has('latest'), false);

  const store = new ObjectStoreCheckpointStore(parseObjectStoreUrl(url));
  try {
    assert.equal(await store.readLatestPointer(), delta.id);
    const latest = await loadLatestCheckpoint(store);
    assert.equal(latest.checkpoint?.manifest.id, delta.id);
    assert.equal(latest.pointer, 'ok');
    assert.equal(latest.checkpoint?.state.size, 20_000);
  } finally {
    store.close();
  }
});

test('the store counts a small checkpoint as one data PUT and one manifest PUT', async () => {
  const root = tmpDir('small-ckpt-stats');
  const store = new ObjectStoreCheckpointStore(parseObjectStoreUrl(pathToFileURL(root).href));
  try {
    const { baseManifestDraft, baseStateFile } = await import('../helpers/checkpoint-drafts.ts');
    const entries = Array.from({ length: 1000 }, (_, i) => [`op${i % 8}/k${i}`, `v${i}`] as const);
    await store.save({
      manifest: baseManifestDraft(1),
      files: [
        { role: 'base', chunks: [baseStateFile(entries)] },
        { role: 'operators', chunks: [Buffer.alloc(8 * 1024, 3)] },
      ],
    });
    const stats = store.stats();
    assert.equal(stats.puts, 1, 'both files in one data object');
    assert.equal(stats.manifestPuts, 1);
    assert.equal(stats.filesBatched, 2);
  } finally {
    store.close();
  }
});

test('a latest pointer left by an earlier version never hides a newer checkpoint', async () => {
  const root = tmpDir('legacy-pointer');
  const store = new ObjectStoreCheckpointStore(parseObjectStoreUrl(pathToFileURL(root).href));
  try {
    const { baseManifestDraft, baseStateFile } = await import('../helpers/checkpoint-drafts.ts');
    for (const id of [1, 2])
      await store.save({
        manifest: baseManifestDraft(id),
        files: [{ role: 'base', chunks: [baseStateFile([['a', `${id}`]])] }],
      });
    await store.storage.put('checkpoints/latest', Buffer.from('checkpoint-0000000000000001\n'));
    assert.equal(await store.readLatestPointer(), 2);
    assert.equal(await store.nextId(), 3);
    const latest = await loadLatestCheckpoint(store);
    assert.equal(Buffer.from(latest.checkpoint!.state.get('a')!).toString(), '2');
  } finally {
    store.close();
  }
});

test("the pipeline store counts its checkpoints' PUTs in stats(): two for a small delta", async () => {
  const root = tmpDir('small-ckpt-ring');
  const { openChangelogAwareStore } = await import('../../src/pipeline/index.ts');
  const { store } = await openChangelogAwareStore({
    dir: path.join(root, 'data'),
    objectStore: pathToFileURL(path.join(root, 'store')).href,
    archiveIntervalMs: 0,
  });
  try {
    for (let i = 0; i < 5000; i++) store.put(`op${i % 8}/key-${i}`, Buffer.alloc(32, 1));
    await store.checkpoint();
    const base = store.stats().checkpointObjectPuts;
    assert.ok(base >= 2, `the base: ${base} PUTs`);
    for (let i = 0; i < 1000; i++) store.put(`op${i % 8}/key-${i * 3}`, Buffer.alloc(32, 2));
    const delta = await store.checkpoint();
    assert.equal(delta.kind, 'delta');
    assert.equal(store.stats().checkpointObjectPuts - base, 2);
  } finally {
    await store.close();
  }
});
