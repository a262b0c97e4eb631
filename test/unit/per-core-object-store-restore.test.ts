// Per-core recovery from the object store alone (real radosgw, started by scripts/run-tests.mjs):
// checkpoint chain + every core's archived segments restored onto a fresh directory.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  FileSystemCheckpointStore,
  ObjectStoreCheckpointStore,
  PerCoreCheckpointCoordinator,
} from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { FsDirectory } from '../../src/io/index.ts';
import {
  detectObjectStoreCores,
  PerCoreRecoveryManager,
  recoverPerCore,
  restorePerCoreFromObjectStore,
} from '../../src/recovery/index.ts';
import { archivingParticipant, CoreWalArchive, PerCoreWalManager } from '../../src/wal/index.ts';
import { testObjectStore } from '../helpers/s3.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const text = (m: { entries(): Iterable<[string, Uint8Array]> }) =>
  Object.fromEntries([...m.entries()].map(([k, x]) => [k, Buffer.from(x).toString()]).sort());

async function recoverDir(dir: string, cores: number) {
  return recoverPerCore({
    walRoot: await FsDirectory.open(path.join(dir, 'wal')),
    store: new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints'))),
    cores,
    transactional: true,
  });
}

test('a per-core data directory restored from the object store alone (checkpoint chain + every core archive) recovers the same state, and opens for writing', async () => {
  const dir = tmpDir('per-core-restore');
  const config = testObjectStore('per-core-restore');
  const store = new ObjectStoreCheckpointStore(config);
  const walRoot = await FsDirectory.open(path.join(dir, 'old', 'wal'));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 3, wal: { segmentSizeBytes: 4096 } });
  const archives = await Promise.all(
    [0, 1, 2].map((c) =>
      CoreWalArchive.start({ storage: config, writer: m.writer(c), archiveIntervalMs: 0 }),
    ),
  );
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: archives.map(archivingParticipant),
    transactional: true,
  });
  const model = new Map<string, string>();
  let row = 0;
  const batch = (n: number) => {
    for (let b = 0; b < n; b++) {
      row++;
      for (const c of [0, 1, 2]) {
        for (let i = 0; i < 10; i++) {
          const key = `c${c}-k${(row * 3 + i) % 70}`;
          m.writer(c).appendPut(key, v(`r${row}-${'z'.repeat(30)}`));
          model.set(key, `r${row}-${'z'.repeat(30)}`);
        }
        if (row % 5 === 0) {
          m.writer(c).appendDelete(`c${c}-k${row % 70}`);
          model.delete(`c${c}-k${row % 70}`);
        }
        m.writer(c).appendCommit({ src: row });
      }
    }
  };
  batch(30);
  await m.syncAll();
  assert.equal((await coordinator.checkpoint()).kind, 'base');
  batch(10);
  await m.syncAll();
  assert.equal((await coordinator.checkpoint()).kind, 'delta');
  batch(7); // after the last checkpoint: only in the logs (and the archive, once closed)
  await m.syncAll();
  await Promise.all(archives.map((a) => a.close()));
  await m.close();
  assert.equal(await detectObjectStoreCores(store), 3);

  const fresh = path.join(dir, 'fresh');
  const restored = await restorePerCoreFromObjectStore({ from: config, dir: fresh });
  assert.equal(restored.cores, 3);
  assert.equal(restored.chain.length, 2, 'base + delta');
  for (const c of ['0', '1', '2']) assert.ok(restored.segments[c]!.length > 0, `core ${c} segments`);
  assert.ok(!fs.existsSync(path.join(fresh, 'wal', 'RESTORING')));
  const r = await recoverDir(fresh, 3);
  assert.equal(r.checkpointId, restored.checkpointId);
  assert.deepEqual(text(r.state), Object.fromEntries([...model].sort()));
  for (const c of [0, 1, 2]) assert.equal(r.cores.get(c)!.sourceOffsets.src, row);

  // The restored directory is an ordinary one: writers open above every recovered epoch.
  const opened = await new PerCoreRecoveryManager({
    walRoot: await FsDirectory.open(path.join(fresh, 'wal')),
    store: new FileSystemCheckpointStore(await FsDirectory.open(path.join(fresh, 'checkpoints'))),
    cores: 3,
    transactional: true,
  }).open();
  opened.writers[1]!.appendPut('c1-new', v('after restore'));
  opened.writers[1]!.appendCommit({ src: row + 1 });
  await opened.writers[1]!.sync();
  for (const w of opened.writers) await w.close();
  assert.equal(text((await recoverDir(fresh, 3)).state)['c1-new'], 'after restore');

  // A non-empty directory, or fewer cores than the store holds, is refused before anything is copied.
  await assert.rejects(restorePerCoreFromObjectStore({ from: config, dir: fresh }), (e) =>
    isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  await assert.rejects(
    restorePerCoreFromObjectStore({ from: config, dir: path.join(dir, 'two'), cores: 2 }),
    (e) => isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT') && /holds 3 cores/.test(e.message),
  );
  store.close();
});

test('a per-core restore killed midway is refused by recovery with TIDEMARK_DATA_LOSS, and restoring again discards the partial copy', async () => {
  const dir = tmpDir('per-core-restore-interrupted');
  const config = testObjectStore('per-core-restore-interrupted');
  const m = await PerCoreWalManager.open({
    dir: path.join(dir, 'old', 'wal'),
    cores: 2,
    wal: { segmentSizeBytes: 4096 },
  });
  const archives = await Promise.all(
    [0, 1].map((c) => CoreWalArchive.start({ storage: config, writer: m.writer(c), archiveIntervalMs: 0 })),
  );
  for (let i = 0; i < 300; i++) m.writer(i % 2).appendPut(`k${i}`, v(`v${i}-${'q'.repeat(30)}`));
  for (const c of [0, 1]) m.writer(c).appendCommit({ src: 1 });
  await m.syncAll();
  await Promise.all(archives.map((a) => a.close()));
  await m.close();

  const fresh = path.join(dir, 'fresh');
  await restorePerCoreFromObjectStore({ from: config, dir: fresh });
  const whole = text((await recoverDir(fresh, 2)).state);
  assert.equal(Object.keys(whole).length, 300);
  // What a kill midway leaves: the marker, and only some of the segments.
  fs.writeFileSync(path.join(fresh, 'wal', 'RESTORING'), 'interrupted\n');
  const core1 = path.join(fresh, 'wal', 'core-1');
  for (const f of fs.readdirSync(core1).slice(1)) fs.rmSync(path.join(core1, f));
  await assert.rejects(
    recoverDir(fresh, 2),
    (e) => isTidemarkError(e, 'TIDEMARK_DATA_LOSS') && /RESTORING/.test(e.message),
  );
  const again = await restorePerCoreFromObjectStore({ from: config, dir: fresh });
  assert.equal(again.cores, 2);
  assert.deepEqual(text((await recoverDir(fresh, 2)).state), whole);
});
