// An aborted restore from the object store, on the real radosgw started by scripts/run-tests.mjs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const files = (dir: string, sub: string) =>
  fs.existsSync(path.join(dir, sub)) ? fs.readdirSync(path.join(dir, sub)) : [];

test('a restore aborted midway removes what it copied and releases the lock; the next restore recovers everything', async () => {
  const objectStore = testObjectStore('abort-restore');
  const root = tmpDir('abort-restore');
  const writer = path.join(root, 'writer');
  const expected = new Map<string, string>();
  const s = await new RecoveryManager({
    dir: writer,
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  }).open();
  for (let i = 0; i < 400; i++) {
    s.store.put(`k${i}`, new TextEncoder().encode(`v${i}`));
    expected.set(`k${i}`, `v${i}`);
    if (i === 100) await s.checkpoint();
  }
  await s.store.durable();
  await s.close(); // archives the whole log

  const target = path.join(root, 'restored');
  const controller = new AbortController();
  let copied = 0;
  await assert.rejects(
    restoreFromObjectStore({
      from: urlOf(objectStore),
      dir: target,
      signal: controller.signal,
      onProgress: () => {
        if (++copied === 2) controller.abort(new Error('maintenance window over'));
      },
    }),
    (err: Error & { code?: string; cause?: unknown }) =>
      err.code === 'TIDEMARK_ABORTED' && err.cause === controller.signal.reason,
  );
  assert.equal(copied, 2, 'stopped at the next object');
  assert.deepEqual(
    files(target, 'wal').filter((f) => f !== 'LOCK'),
    [],
    'no segment and no RESTORING marker left',
  );
  assert.deepEqual(
    files(target, 'checkpoints').filter((f) => f.startsWith('checkpoint-')),
    [],
  );

  const again = await restoreFromObjectStore({ from: urlOf(objectStore), dir: target }); // lock free
  assert.ok(again.segments.length > 1);
  const r = await new RecoveryManager({ dir: target }).recover();
  assert.equal(r.state.size, expected.size);
  for (const [k, v] of expected) assert.equal(new TextDecoder().decode(r.state.get(k)), v);
});
