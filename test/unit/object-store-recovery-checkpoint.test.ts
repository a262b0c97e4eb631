// With WAL archiving, the checkpoint written on open (after a long replay) goes to the object
// store, archives sealed segments before its truncation, and leaves an archive that restores
// everything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { S3ObjectStorage } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager, restoreFromObjectStore, WAL_DIR_NAME } from '../../src/recovery/index.ts';
import { listArchivedSegments, parseSegmentFileName } from '../../src/wal/index.ts';
import { testObjectStore } from '../helpers/s3.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/archive-unclosed-child.ts', import.meta.url));
const localSegments = (dir: string) =>
  fs
    .readdirSync(path.join(dir, WAL_DIR_NAME))
    .map((f) => parseSegmentFileName(f))
    .filter((n): n is number => n !== undefined);

test('with WAL archiving, the checkpoint written on open goes to the object store and the archive still restores every commit', async () => {
  const objectStore = testObjectStore('recovery-checkpoint');
  const dir = path.join(tmpDir('os-recovery-ckpt'), 'data');
  const count = 3000;
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', CHILD, dir, JSON.stringify(objectStore), String(count)],
    { encoding: 'utf8' },
  );
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /durable/);
  const storage = new S3ObjectStorage(objectStore);
  try {
    const before = localSegments(dir);
    const archivedBefore = new Set((await listArchivedSegments(storage)).map((s) => s.number));
    const unarchived = before.filter((n) => !archivedBefore.has(n));
    assert.ok(unarchived.length > 2, `sealed segments were left unarchived (${unarchived.length})`);

    const { store, recovered, recoveryCheckpoint } = await openChangelogAwareStore({
      dir,
      objectStore,
      archiveIntervalMs: 0,
      transactional: true,
      wal: { segmentSizeBytes: 8192 },
      checkpoint: { recoveryCheckpointRecords: 100 },
    });
    assert.ok(recoveryCheckpoint, 'a checkpoint was written on open');
    assert.equal(recoveryCheckpoint.kind, 'delta');
    assert.equal(recoveryCheckpoint.parentId, recovered.stats.checkpointId);
    assert.equal(fs.existsSync(path.join(dir, 'checkpoints', 'latest')), false, 'no local checkpoint');
    // Ring 1 archives on no timer (archiveIntervalMs 0): only that checkpoint uploaded since.
    const archived = new Set((await listArchivedSegments(storage)).map((s) => s.number));
    const local = localSegments(dir);
    for (const n of local.slice(0, -1)) assert.ok(archived.has(n), `sealed segment ${n} was archived`);
    await store.close();

    const fresh = path.join(tmpDir('os-recovery-ckpt-restored'), 'data');
    await restoreFromObjectStore({ from: objectStore, dir: fresh });
    const r = await new RecoveryManager({ dir: fresh, transactional: true }).recover();
    assert.equal(r.state.size, count);
    assert.deepEqual(r.sourceOffsets, { src: count });
    for (const i of [0, 1234, count - 1]) assert.ok(Buffer.from(r.state.get(`k${i}`)!).equals(payloadFor(i)));
  } finally {
    storage.destroy();
  }
});
