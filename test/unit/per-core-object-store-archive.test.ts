// Per-core WAL archiving on the real radosgw started by scripts/run-tests.mjs: every core's sealed
// segments reach `<prefix>/wal/core-<id>/` before that core is truncated.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileSystemCheckpointStore, PerCoreCheckpointCoordinator } from '../../src/checkpoint/index.ts';
import { FsDirectory, S3ObjectStorage } from '../../src/io/index.ts';
import {
  archivingParticipant,
  CoreWalArchive,
  coreArchiveStorage,
  listArchivedCores,
  listArchivedSegments,
  PerCoreWalManager,
} from '../../src/wal/index.ts';
import { testObjectStore } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);

function fill(m: PerCoreWalManager, cores: number, batches: number, from = 0): void {
  for (let b = from; b < from + batches; b++) {
    const core = b % cores;
    for (let i = 0; i < 20; i++)
      m.writer(core).appendPut(`c${core}-k${(b * 7 + i) % 50}`, v(`b${b}-${'x'.repeat(40)}`));
    m.writer(core).appendCommit({ src: b + 1 });
  }
}

const localSegments = (dir: string, core: number) =>
  fs
    .readdirSync(path.join(dir, 'wal', `core-${core}`))
    .filter((f) => f.endsWith('.log'))
    .map((f) => Number(/\d+/.exec(f)![0]))
    .sort((a, b) => a - b);

test("a core's truncation never deletes a segment that is not in that core's archive", async () => {
  const dir = tmpDir('per-core-archive-guard');
  const config = testObjectStore('per-core-archive-guard');
  const m = await PerCoreWalManager.open({
    dir: path.join(dir, 'wal'),
    cores: 1,
    wal: { segmentSizeBytes: 4096 },
  });
  const archive = await CoreWalArchive.start({ storage: config, writer: m.writer(0), archiveIntervalMs: 0 });
  fill(m, 1, 30);
  await m.syncAll();
  const before = localSegments(dir, 0);
  assert.ok(before.length >= 4, `${before.length} segments`);
  // Straight to the writer, past everything: nothing is archived yet, so nothing may go.
  assert.equal(await m.writer(0).truncateBefore(m.writer(0).syncedPosition), 0);
  assert.deepEqual(localSegments(dir, 0), before);
  // Through the archive: sealed segments are uploaded first, then deleted locally.
  const deleted = await archive.truncateBefore(m.writer(0).syncedPosition);
  assert.equal(deleted, before.length - 1);
  await archive.close();
  await m.close();
});

test('a coordinated checkpoint archives every core before truncating it, and close leaves each whole log in the archive', async () => {
  const dir = tmpDir('per-core-archive');
  const config = testObjectStore('per-core-archive');
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, wal: { segmentSizeBytes: 4096 } });
  const archives = await Promise.all(
    [0, 1].map((c) => CoreWalArchive.start({ storage: config, writer: m.writer(c), archiveIntervalMs: 0 })),
  );
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: archives.map(archivingParticipant),
    transactional: true,
    maxRetained: 1,
    minRetainedBases: 1,
  });
  fill(m, 2, 40);
  await m.syncAll();
  await coordinator.checkpoint();
  fill(m, 2, 40, 40);
  await m.syncAll();
  const second = await coordinator.checkpoint();
  assert.ok(second.segmentsTruncated > 0, 'covered segments were deleted locally');
  const storage = new S3ObjectStorage(config);
  try {
    for (const c of [0, 1]) {
      const scoped = coreArchiveStorage(storage, c);
      const archived = (await listArchivedSegments(scoped)).map((s) => s.number);
      const local = localSegments(dir, c);
      // Every segment deleted locally went through the archive first; every sealed local segment
      // is archived too; and the archive was pruned below the checkpoint like the local log.
      assert.ok(archives[c]!.stats().segmentsArchived >= second.segmentsTruncated / 2, `core ${c} archived`);
      for (const n of local.slice(0, -1)) assert.ok(archived.includes(n), `core ${c} segment ${n} archived`);
      assert.ok(
        archived.every((n) => n >= local[0]!),
        `core ${c}: archive pruned below the checkpoint`,
      );
      scoped.destroy();
    }
    await Promise.all(archives.map((a) => a.close()));
    await m.close();
    for (const c of [0, 1]) {
      const scoped = coreArchiveStorage(storage, c);
      const archived = (await listArchivedSegments(scoped)).map((s) => s.number);
      const local = localSegments(dir, c);
      // After close, the active segment was sealed and archived: all but the new empty one are there.
      for (const n of local.slice(0, -1)) assert.ok(archived.includes(n), `core ${c} segment ${n} archived`);
      assert.ok((await scoped.list('')).every((o) => o.key.startsWith('wal/')));
      scoped.destroy();
    }
    assert.deepEqual(await listArchivedCores(storage), [0, 1]);
    assert.ok((await storage.list('wal/core-0/wal/')).length > 0, 'keys are <prefix>/wal/core-<id>/…');
  } finally {
    storage.destroy();
  }
});
