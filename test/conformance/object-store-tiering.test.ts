/**
 * TieringPolicy on a real radosgw (scripts/radosgw.sh configures the storage classes): new
 * checkpoints and the WAL tail are written hot, an older chain moves to warm, archived WAL the
 * latest checkpoint covers moves to cold — each object carrying its class (HeadObject) and the tag
 * `tidemark-tier` (GetObjectTagging) — and a restore from the tiered, compressed store still
 * recovers every commit.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { ObjectStoreCheckpointStore, TIER_TAG } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { S3ObjectStorage } from '../../src/io/index.ts';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

async function placement(storage: S3ObjectStorage, key: string): Promise<[string, string | undefined]> {
  const head = await storage.head(key);
  assert.ok(head, `${key} exists`);
  return [head.storageClass ?? 'STANDARD', (await storage.tagsOf(key))[TIER_TAG]];
}

test('objects are written hot, an older chain moves warm and covered WAL archive cold; the tiered store restores', async () => {
  const root = tmpDir('tiering');
  const objectStore = testObjectStore('tiering', { tiering: true });
  const model = new Map<string, string>();
  const s = await new RecoveryManager({
    dir: path.join(root, 'writer'),
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  }).open();
  const put = (k: string, v: Buffer) => {
    s.store.put(k, v);
    model.set(k, v.toString('base64'));
  };
  for (let i = 0; i < 300; i++) put(`k${i % 100}`, payloadFor(i));
  await s.store.wal.sync();
  const first = await s.checkpoint();
  const storage = new S3ObjectStorage(objectStore);
  try {
    const objectsOf = async (id: number) =>
      (await storage.list(`checkpoints/checkpoint-${String(id).padStart(16, '0')}/`)).map((o) => o.key);
    for (const key of await objectsOf(first.id))
      assert.deepEqual(await placement(storage, key), ['STANDARD', 'hot'], key);

    for (let i = 300; i < 700; i++) put(`k${i % 100}`, payloadFor(i));
    await s.store.wal.sync();
    const second = await s.checkpoint(undefined, { forceBase: true });
    assert.equal(second.kind, 'base');
    for (const key of await objectsOf(first.id))
      assert.deepEqual(await placement(storage, key), ['INTELLIGENT_TIERING', 'warm'], key);
    for (const key of await objectsOf(second.id))
      assert.deepEqual(await placement(storage, key), ['STANDARD', 'hot'], key);
    // Segments sealed by the checkpoint are archived after it publishes: the next pass (the next
    // checkpoint's, or any process's, as here) moves the ones it covers.
    const policyRun = new ObjectStoreCheckpointStore({ ...objectStore });
    await policyRun.applyTiering();
    const last = policyRun.lastTiering;
    policyRun.close();
    assert.ok(last !== undefined && !isTidemarkError(last), `tiering ran: ${String(last)}`);
    const wal = (await storage.list('wal/')).map((o) => o.key).filter((k) => k.endsWith('.log'));
    const placed = await Promise.all(wal.map((k) => placement(storage, k)));
    assert.ok(
      placed.some(([c, t]) => c === 'GLACIER_IR' && t === 'cold'),
      `some archived segments are covered by the latest checkpoint: ${JSON.stringify(placed)}`,
    );
    // Tiers only cool down, oldest first: once a segment is hot, every later one is too.
    const firstHot = placed.findIndex(([, t]) => t === 'hot');
    if (firstHot >= 0)
      assert.ok(
        placed.slice(firstHot).every(([, t]) => t === 'hot'),
        JSON.stringify(placed),
      );
  } finally {
    storage.destroy();
  }
  for (let i = 700; i < 760; i++) put(`tail${i}`, payloadFor(i));
  await s.close();

  const fresh = path.join(root, 'fresh');
  await restoreFromObjectStore({ from: urlOf(objectStore), dir: fresh });
  const recovered = await new RecoveryManager({ dir: fresh }).recover();
  assert.deepEqual(
    new Map([...recovered.state].map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    model,
  );
});

test('an unknown storage class is TIDEMARK_INVALID_ARGUMENT before anything is written', () => {
  assert.throws(
    () =>
      new ObjectStoreCheckpointStore(testObjectStore('tiering-bad', { tiering: { cold: 'DEEP_FREEZE' } })),
    (err: unknown) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT') && /GLACIER_IR/.test(err.message),
  );
});
