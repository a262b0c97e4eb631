// WAL archiving, recovery on a fresh machine, and racing writers — on the real radosgw started
// by scripts/run-tests.mjs.
import assert from 'node:assert/strict';
import * as diagnostics from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { loadCheckpoint, ObjectStoreCheckpointStore } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { PutEncoder } from '../../src/format/index.ts';
import { MemoryDirectory, S3ObjectStorage } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager, restoreFromObjectStore, WAL_DIR_NAME } from '../../src/recovery/index.ts';
import {
  archivedSegmentKey,
  listArchivedSegments,
  WAL_ARCHIVE_CHANNEL,
  WriteAheadLog,
} from '../../src/wal/index.ts';
import { baseDraft } from '../helpers/checkpoint-drafts.ts';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('object-store-archive');
const asText = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort());
const localSegments = (dir: string) =>
  fs.readdirSync(path.join(dir, WAL_DIR_NAME)).filter((f) => f.endsWith('.log'));

test('truncatePrefix stops at the first segment the truncation guard refuses', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir, { lock: false, segmentSizeBytes: 4096 });
  const put = new PutEncoder();
  for (let lsn = 1; lsn <= 300; lsn++) wal.append(put.set(`k${lsn}`, payloadFor(lsn)));
  await wal.sync();
  const before = wal.segmentList().map((s) => s.number);
  assert.ok(before.length >= 5, `${before.length} segments`);
  wal.setTruncationGuard((n) => n < before[2]!);
  assert.equal(await wal.truncatePrefix(wal.lastLsn), 2);
  assert.deepEqual(
    wal.segmentList().map((s) => s.number),
    before.slice(2),
  );
  wal.setTruncationGuard(undefined);
  assert.equal(await wal.truncatePrefix(wal.lastLsn), before.length - 3);
  await wal.close();
});

test('sealed segments are archived in order, the WAL is truncated only behind the archive, and a restore on an empty machine recovers the same state', async () => {
  const objectStore = testObjectStore('archive');
  const dir = path.join(root, 'writer');
  const model = new Map<string, Uint8Array>();
  const s = await new RecoveryManager({
    dir,
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
    checkpoint: { maxDeltaRatio: 4 },
  }).open();
  assert.ok(s.archiver, 'archiving is on by default with an object store');
  const archivedEvents: number[] = [];
  const onArchive = (m: unknown) => {
    const msg = m as { event: string; segment: number };
    if (msg.event === 'archived') archivedEvents.push(msg.segment);
  };
  diagnostics.subscribe(WAL_ARCHIVE_CHANNEL, onArchive);
  after(() => diagnostics.unsubscribe(WAL_ARCHIVE_CHANNEL, onArchive));
  const put = (k: string, v: Buffer) => {
    s.store.put(k, v);
    model.set(k, v);
  };
  for (let i = 0; i < 300; i++) put(`k${i % 120}`, payloadFor(i));
  await s.store.wal.sync();
  const segmentsBefore = s.store.wal.segmentList().map((x) => x.number);
  const first = await s.checkpoint();
  const segmentsAfter = s.store.wal.segmentList().map((x) => x.number);
  assert.ok(segmentsAfter.length < segmentsBefore.length, 'the checkpoint truncated the WAL');
  assert.equal(first.kind, 'base');
  const archived = s.archiver.stats();
  assert.ok(archived.segmentsArchived >= 5, `${archived.segmentsArchived} segments archived`);
  for (let i = 0; i < 150; i++) put(`extra${i}`, payloadFor(20_000 + i)); // new sealed segments above the checkpoint
  await s.store.wal.sync();
  await s.archiver.archiveSealed();
  const storage = new S3ObjectStorage(objectStore);
  const numbers = (await listArchivedSegments(storage)).map((r) => r.number);
  storage.destroy();
  const sealed = s.store.wal
    .segmentList()
    .slice(0, -1)
    .map((x) => x.number);
  assert.ok(sealed.length >= 3, `${sealed.length} sealed segments`);
  assert.deepEqual(
    numbers,
    sealed,
    'the archive holds exactly the sealed local segments: no gaps, pruned below the checkpoint like the disk',
  );
  assert.ok(numbers[0]! > 1, 'segments below the checkpoint left the archive');
  for (const gone of segmentsBefore.filter((n) => !segmentsAfter.includes(n)))
    assert.ok(archivedEvents.includes(gone), `segment ${gone} left the disk only after it was archived`);
  for (const seg of s.store.wal.segmentList().slice(0, -1))
    assert.ok(s.archiver.isArchived(seg.number), `local sealed segment ${seg.number} is archived`);
  for (let i = 0; i < 30; i++) put(`k${(i * 7) % 150}`, payloadFor(1000 + i));
  const second = await s.checkpoint();
  assert.equal(second.kind, 'delta');
  for (let i = 0; i < 50; i++) put(`tail${i}`, payloadFor(5000 + i)); // only in the WAL
  await s.store.wal.sync();
  await s.close(); // seals the active segment and archives it

  const fresh = path.join(root, 'fresh-machine');
  const restored = await restoreFromObjectStore({ from: urlOf(objectStore), dir: fresh });
  assert.equal(restored.checkpointId, second.id);
  assert.deepEqual(restored.chain, [first.id, second.id]);
  assert.ok(restored.segments.length > 0);
  const recovered = await new RecoveryManager({ dir: fresh }).recover();
  assert.deepEqual(asText(recovered.state), asText(model));
  assert.equal(recovered.stats.checkpointId, second.id);

  // The restored directory carries on with the same object store, then restores again.
  const again = await new RecoveryManager({ dir: fresh, objectStore, archiveIntervalMs: 0 }).open();
  assert.deepEqual(asText(again.recovered.state), asText(model));
  const restoredLocal = new Set(localSegments(fresh));
  for (let i = 0; i < 40; i++) {
    again.store.put(`second-life${i}`, payloadFor(9000 + i));
    model.set(`second-life${i}`, payloadFor(9000 + i));
  }
  await again.close();
  assert.ok(
    localSegments(fresh).some((f) => !restoredLocal.has(f)),
    'appends after a restore go to a new segment, never to an archived one',
  );
  const third = path.join(root, 'third-machine');
  await restoreFromObjectStore({ from: urlOf(objectStore), dir: third });
  assert.deepEqual(asText((await new RecoveryManager({ dir: third }).recover()).state), asText(model));
});

test('the Ring 0 / Ring 1 pipeline checkpoints to the object store and archives its WAL', async () => {
  const objectStore = testObjectStore('pipeline');
  const dir = path.join(root, 'pipeline');
  const { store } = await openChangelogAwareStore({
    dir,
    objectStore: urlOf(objectStore),
    transactional: true,
    wal: { segmentSizeBytes: 8192 },
  });
  const model = new Map<string, Uint8Array>();
  for (let batch = 0; batch < 20; batch++) {
    for (let i = 0; i < 30; i++) {
      const k = `key${(batch * 31 + i) % 200}`;
      store.put(k, payloadFor(batch * 100 + i));
      model.set(k, payloadFor(batch * 100 + i));
    }
    store.commit({ src: batch + 1 });
    if (batch % 7 === 6) await store.checkpoint();
  }
  await store.durable();
  await store.close();
  assert.equal(fs.existsSync(path.join(dir, 'checkpoints', 'latest')), false, 'no local checkpoints');

  const fresh = path.join(root, 'pipeline-restored');
  await restoreFromObjectStore({ from: objectStore, dir: fresh });
  const r = await new RecoveryManager({ dir: fresh, transactional: true }).recover();
  assert.deepEqual(asText(r.state), asText(model));
  assert.deepEqual(r.sourceOffsets, { src: 20 });
});

test('two writers racing for one checkpoint id: exactly one commits, and the loser damages nothing', async () => {
  const config = testObjectStore('race');
  const a = new ObjectStoreCheckpointStore(config);
  const b = new ObjectStoreCheckpointStore(config);
  const draft = (value: string) => baseDraft(1, [['k', value]]);
  for (let round = 0; round < 3; round++) {
    const results = await Promise.allSettled([a.save(draft(`a${round}`)), b.save(draft(`b${round}`))]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, `round ${round}: exactly one writer commits`);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(
      isTidemarkError(lost.reason) &&
        (lost.reason.code === 'TIDEMARK_CONFLICT' || lost.reason.code === 'TIDEMARK_INVALID_ARGUMENT'),
      String(lost.reason),
    );
    const winner = won[0] === results[0] ? `a${round}` : `b${round}`;
    const loaded = await loadCheckpoint(a, 1);
    assert.equal(Buffer.from(loaded.state.get('k')!).toString(), winner);
    await a.cleanupOrphans();
    assert.equal(Buffer.from((await loadCheckpoint(b, 1)).state.get('k')!).toString(), winner);
    await a.remove([1]);
    await a.cleanupOrphans();
  }
  a.close();
  b.close();
});

test('restore refuses a directory that holds data, and an archive with a missing segment is data loss', async () => {
  const objectStore = testObjectStore('restore-refusals');
  const dir = path.join(root, 'refusals');
  const s = await new RecoveryManager({
    dir,
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  }).open();
  for (let i = 0; i < 300; i++) s.store.put(`k${i}`, payloadFor(i));
  await s.close();
  await assert.rejects(restoreFromObjectStore({ from: objectStore, dir }), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'), String(err));
    return true;
  });
  const storage = new S3ObjectStorage(objectStore);
  const segments = await listArchivedSegments(storage);
  assert.ok(segments.length >= 4);
  await storage.delete([archivedSegmentKey(segments[2]!.number)]);
  storage.destroy();
  await assert.rejects(
    restoreFromObjectStore({ from: objectStore, dir: path.join(root, 'gap') }),
    (err: unknown) => {
      assert.ok(isTidemarkError(err, 'TIDEMARK_DATA_LOSS'), String(err));
      assert.match(err.message, new RegExp(`no segment ${segments[2]!.number}`));
      return true;
    },
  );
});

test('a new machine takes over by opening an empty directory: open() fetches the archived WAL; read-only recover() refuses to drop it', async () => {
  const objectStore = testObjectStore('takeover');
  const model = new Map<string, Uint8Array>();
  const first = await new RecoveryManager({
    dir: path.join(root, 'takeover-a'),
    objectStore,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  }).open();
  for (let i = 0; i < 200; i++) {
    first.store.put(`k${i % 90}`, payloadFor(i));
    model.set(`k${i % 90}`, payloadFor(i));
  }
  await first.checkpoint();
  for (let i = 0; i < 120; i++) {
    first.store.put(`late${i}`, payloadFor(700 + i)); // after the checkpoint: only in the WAL
    model.set(`late${i}`, payloadFor(700 + i));
  }
  await first.close();

  const empty = path.join(root, 'takeover-b');
  await assert.rejects(new RecoveryManager({ dir: empty, objectStore }).recover(), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_DATA_LOSS'), String(err));
    assert.match(err.message, /archives \d+ segment/);
    return true;
  });
  const second = await new RecoveryManager({ dir: empty, objectStore, archiveIntervalMs: 0 }).open();
  assert.ok(second.recovered.stats.segmentsFetched > 0);
  assert.deepEqual(asText(second.recovered.state), asText(model));
  second.store.put('on-b', payloadFor(1));
  model.set('on-b', payloadFor(1));
  await second.close();
  const third = path.join(root, 'takeover-c');
  const { store, recovered } = await openChangelogAwareStore({ dir: third, objectStore });
  assert.deepEqual(asText(recovered.state), asText(model), 'the pipeline takes over the same way');
  await store.close();
});
