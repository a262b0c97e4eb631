/**
 * A flipped byte in any object of an object store is caught: restoring on a fresh machine either
 * refuses with a typed error or — when the damage is in something it can do without (an older
 * checkpoint, a hint) — restores exactly the state an undamaged store gives. Never garbage.
 *
 * Each object is replaced through a plain client (valid Content-MD5 and ETag for the new bytes:
 * bit rot before upload, or a bad actor), so only tidemark's own checks (codec frames' CRC32C,
 * manifests' checksums, claims' checks) stand between the damage and the restored state. On the
 * real radosgw started by scripts/run-tests.mjs.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { S3ObjectStorage } from '../../src/io/index.ts';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { testObjectStore } from '../helpers/s3.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const asHex = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort());

test('a flipped byte in any stored object (manifests, data objects, archived segments, claims, hints) is refused or restored around, never restored as garbage', async () => {
  const root = tmpDir('object-store-flip');
  const objectStore = testObjectStore('flip');
  const s = await new RecoveryManager({
    dir: path.join(root, 'writer'),
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 16 * 1024 },
  }).open();
  for (let i = 0; i < 300; i++) s.store.put(`k${i % 97}`, payloadFor(i));
  await s.store.wal.sync();
  await s.checkpoint();
  for (let i = 300; i < 500; i++) s.store.put(`k${i % 131}`, payloadFor(i));
  await s.store.wal.sync();
  await s.checkpoint();
  for (let i = 500; i < 700; i++) s.store.put(`k${i % 61}`, payloadFor(i));
  await s.store.wal.sync();
  await s.close();

  let restores = 0;
  const restoredState = async (): Promise<Record<string, string>> => {
    const dir = path.join(root, `restore-${restores++}`);
    await restoreFromObjectStore({ from: objectStore, dir });
    return asHex((await new RecoveryManager({ dir }).recover()).state);
  };
  const expected = await restoredState();
  assert.ok(Object.keys(expected).length >= 97, 'the undamaged store restores the checkpointed keys');

  const raw = new S3ObjectStorage({ ...objectStore });
  const outcomes: string[] = [];
  try {
    const keys = (await raw.list('')).map((o) => o.key).sort();
    const kinds = new Set(keys.map((k) => k.split('/')[0]));
    assert.ok(kinds.has('checkpoints') && kinds.has('wal') && kinds.has('writers'), [...kinds].join(','));
    for (const [n, key] of keys.entries()) {
      const original = await raw.get(key, 64 * 1024 * 1024);
      // The object's own metadata (an archived segment's epoch and first LSN) is kept; the
      // client recomputes its transport checksum for the new bytes.
      const info = await raw.head(key);
      const metadata = Object.fromEntries(
        Object.entries(info?.metadata ?? {}).filter(([k]) => !/^tidemark-(crc32c|size|upload)$/.test(k)),
      );
      // One byte in the header (the first 40 bytes, a different one per object) and one in the
      // body, at a position that moves from object to object.
      const header = n % Math.min(original.length, 40);
      const body = Math.floor((original.length * ((n * 7919) % 1000)) / 1000);
      for (const at of new Set([header, body])) {
        const damaged = Buffer.from(original);
        damaged[at]! ^= 0x20;
        await raw.put(key, damaged, { metadata });
        try {
          const got = await restoredState();
          assert.deepEqual(got, expected, `${key} byte ${at} flipped: restored a different state`);
          outcomes.push(`${key}@${at}: restored around`);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          assert.ok(isTidemarkError(err), `${key} byte ${at} flipped: ${String(err)}`);
          assert.ok(
            ['TIDEMARK_CORRUPTION', 'TIDEMARK_DATA_LOSS', 'TIDEMARK_UNSUPPORTED_VERSION'].includes(err.code),
            `${key} byte ${at} flipped: ${err.code} ${err.message}`,
          );
          outcomes.push(`${key}@${at}: ${err.code}`);
        } finally {
          await raw.put(key, original, { metadata });
        }
      }
    }
    // The newest checkpoint's own objects cannot be restored around without noticing: at least
    // one flip of the run is refused, so the checks are not vacuous.
    assert.ok(
      outcomes.some((o) => o.endsWith('TIDEMARK_CORRUPTION') || o.endsWith('TIDEMARK_DATA_LOSS')),
      outcomes.join('\n'),
    );
    console.log(`# ${keys.length} objects, ${outcomes.length} flips:\n# ${outcomes.join('\n# ')}`);
  } finally {
    raw.destroy();
  }
  assert.deepEqual(await restoredState(), expected, 'every object put back: the store restores again');
});
