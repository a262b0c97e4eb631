// Writer epochs, fencing and point-in-time recovery on the real radosgw started by
// scripts/run-tests.mjs.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseUntilLsn, parseUntilTime, runRecover } from '../../src/cli/recover.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { S3ObjectStorage } from '../../src/io/index.ts';
import { listEpochs, WriterFence, WriterHistory, writerKey } from '../../src/io/writer-epoch.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { testObjectStore, urlOf } from '../helpers/s3.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('object-store-fencing');
const asText = (m: { entries(): Iterable<[string, Uint8Array]> }) =>
  Object.fromEntries([...m.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort());
const hex = (v: Uint8Array | undefined) => (v === undefined ? 'none' : Buffer.from(v).toString('hex'));
const fenced = (err: unknown) => isTidemarkError(err, 'TIDEMARK_FENCED');

test('radosgw honours If-None-Match: * on PutObject: a second create of one writer epoch is refused', async () => {
  const storage = new S3ObjectStorage(testObjectStore('fence-inm'));
  try {
    await storage.put(writerKey(1), Buffer.from('a'), { createOnly: true });
    await assert.rejects(storage.put(writerKey(1), Buffer.from('b'), { createOnly: true }), (err) =>
      isTidemarkError(err, 'TIDEMARK_CONFLICT'),
    );
    assert.equal(Buffer.from(await storage.get(writerKey(1), 10)).toString(), 'a');
  } finally {
    storage.destroy();
  }
});

test('claimants racing for the next writer epoch each get a distinct epoch, and every older one is fenced', async () => {
  const config = testObjectStore('fence-race');
  const clients = Array.from({ length: 5 }, () => new S3ObjectStorage(config));
  try {
    const cutoffOf = async () => ({ checkpoint: 0, segment: 0 });
    const fences = await Promise.all(clients.map((s) => WriterFence.claim(s, { cutoffOf })));
    const epochs = fences.map((f) => f.epoch).sort((a, b) => a - b);
    assert.deepEqual(epochs, [1, 2, 3, 4, 5]);
    assert.deepEqual(await listEpochs(clients[0]!), [1, 2, 3, 4, 5]);
    for (const f of fences) {
      if (f.epoch === 5) await f.check('a test publish');
      else await assert.rejects(f.check('a test publish'), fenced);
    }
  } finally {
    for (const s of clients) s.destroy();
  }
});

test('a writer whose prefix was taken over is fenced: its checkpoint and archive publishes reject TIDEMARK_FENCED, and recovery holds only the new owner', async () => {
  const objectStore = testObjectStore('fence-takeover');
  const options = { objectStore, archiveIntervalMs: 0, transactional: true, wal: { segmentSizeBytes: 4096 } };
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'a') }).open();
  for (let i = 0; i < 100; i++) a.store.put(`a${i}`, payloadFor(i));
  a.store.commit({ src: 100 });
  await a.checkpoint();
  for (let i = 100; i < 200; i++) a.store.put(`a${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 200 }));
  await a.archiver!.archiveSealed();

  // A new machine takes over: it recovers what A published, and fences A.
  const b = await new RecoveryManager({ ...options, dir: path.join(root, 'b') }).open();
  const expected = new Map(b.recovered.state);
  assert.ok(expected.has('a0'), 'the takeover recovered the checkpoint');
  for (let i = 0; i < 50; i++) expected.set(`b${i}`, payloadFor(i));
  for (let i = 0; i < 50; i++) b.store.put(`b${i}`, payloadFor(i));
  await b.store.flushed(b.store.commit({ src: 250 }));

  // The zombie wakes up: everything it publishes is refused, for good.
  for (let i = 0; i < 300; i++) a.store.put(`zombie${i}`, payloadFor(i));
  await a.store.flushed(a.store.commit({ src: 999 }));
  await assert.rejects(a.checkpoint(), fenced);
  await assert.rejects(a.archiver!.archiveSealed(), fenced);
  await assert.rejects(a.close(), fenced);

  await b.checkpoint();
  await b.close();
  const restored = path.join(root, 'restored');
  await restoreFromObjectStore({ from: objectStore, dir: restored });
  const r = await new RecoveryManager({ dir: restored, transactional: true }).recover();
  assert.deepEqual(asText(r.state), asText(expected));
  assert.equal(r.sourceOffsets.src, 250);
});

test('a zombie paused between its fence check and its manifest PUT publishes a checkpoint no recovery ever uses', async () => {
  const objectStore = testObjectStore('fence-window');
  const options = { objectStore, archiveIntervalMs: 0, wal: { segmentSizeBytes: 4096 } };
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'wa') }).open();
  a.store.put('k', payloadFor(1));
  await a.checkpoint();
  await a.archiver!.archiveAll(); // what a takeover needs besides the checkpoint
  const b = await new RecoveryManager({ ...options, dir: path.join(root, 'wb') }).open();
  b.store.put('k', payloadFor(2));
  await b.close();
  // A's check ran before B's claim (it passed); A was paused there and now resumes.
  const fence = WriterFence.of(a.archiver!.storage)!;
  const realCheck = fence.check.bind(fence);
  let skipped = 0;
  fence.check = async (what) => {
    if (skipped++ === 0) return; // the check that passed before the pause
    return realCheck(what);
  };
  a.store.put('k', payloadFor(3));
  a.store.put('zombie', payloadFor(4));
  // The manifest lands (a new key: nothing to refuse it), the check right after it fails.
  await assert.rejects(a.checkpoint(), fenced);
  await a.close().catch(() => {});
  const history = await WriterHistory.read(a.archiver!.storage);
  assert.equal(history.newestEpoch, 2);

  const restored = path.join(root, 'w-restored');
  const result = await restoreFromObjectStore({ from: objectStore, dir: restored });
  const r = await new RecoveryManager({ dir: restored }).recover();
  assert.equal(r.state.has('zombie'), false, `restored checkpoint ${result.checkpointId}`);
  assert.deepEqual(r.state.get('k'), payloadFor(2));
});

test('point-in-time recovery at an LSN gives the state of a replay of the WAL up to it, from base + deltas + archived WAL', async () => {
  const objectStore = testObjectStore('pitr');
  const s = await new RecoveryManager({
    objectStore,
    dir: path.join(root, 'pitr'),
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
    checkpoint: { maxDeltaRatio: 4 },
    maxRetained: 100,
  }).open();
  const model = new Map<string, Uint8Array>();
  const snapshots = new Map<number, Map<string, Uint8Array>>();
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 1; i <= 600; i++) {
    const key = `k${rand(80)}`;
    let lsn: number;
    if (rand(7) === 0 && model.has(key)) {
      lsn = s.store.delete(key);
      model.delete(key);
    } else {
      const value = payloadFor(i);
      lsn = s.store.put(key, value);
      model.set(key, value);
    }
    snapshots.set(lsn, new Map(model));
    if (i % 150 === 0) await s.checkpoint(); // a base, then deltas
  }
  await s.close();
  const lsns = [...snapshots.keys()];
  // The archive is pruned below the oldest retained checkpoint: targets from there on.
  const targets = [lsns[149]!, lsns[151]!, lsns[333]!, lsns[599]!, lsns[149 + rand(450)]!];
  for (const [i, untilLsn] of targets.entries()) {
    const dir = path.join(root, `pitr-${i}`);
    const r0 = await restoreFromObjectStore({ from: objectStore, dir, untilLsn });
    assert.equal(r0.targetLsn, untilLsn);
    assert.ok((r0.checkpointLsn ?? 0) <= untilLsn);
    const r = await new RecoveryManager({ dir }).recover();
    assert.equal(r.lsn, untilLsn, `target ${untilLsn}`);
    assert.deepEqual(asText(r.state), asText(snapshots.get(untilLsn)!), `target ${untilLsn}`);
  }
  // The CLI: tidemark recover --from s3://… --until-lsn N.
  const cliTarget = targets[2]!;
  const cli = await runRecover(
    {
      dir: path.join(root, 'pitr-cli'),
      from: urlOf(objectStore),
      transactional: false,
      mode: 'tolerate-torn-tail',
      out: undefined,
      format: 'state',
      json: true,
      untilLsn: parseUntilLsn(String(cliTarget)),
    },
    () => {},
  );
  assert.deepEqual(asText(cli!.recovered.state), asText(snapshots.get(cliTarget)!));
  assert.throws(
    () => parseUntilLsn('12x'),
    (err) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  assert.equal(parseUntilTime('1970-01-01T00:00:01Z'), 1000);
  await assert.rejects(
    restoreFromObjectStore({ from: objectStore, dir: path.join(root, 'pitr-bad'), untilLsn: -1 }),
    (err) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  await assert.rejects(
    restoreFromObjectStore({ from: objectStore, dir: path.join(root, 'pitr-far'), untilLsn: 10_000 }),
    (err) => isTidemarkError(err, 'TIDEMARK_DATA_LOSS'),
  );
});

test('a directory whose writer was fenced is refused as the writer again (TIDEMARK_FENCED); a takeover needs a fresh directory', async () => {
  const objectStore = testObjectStore('fence-stale');
  const options = { objectStore, archiveIntervalMs: 0 };
  const a = await new RecoveryManager({ ...options, dir: path.join(root, 'stale-a') }).open();
  a.store.put('k', payloadFor(1));
  await a.checkpoint();
  await a.close();
  const b = await new RecoveryManager({ ...options, dir: path.join(root, 'stale-b'), takeover: true }).open();
  assert.equal(hex(b.recovered.state.get('k')), hex(payloadFor(1)));
  await b.close();
  await assert.rejects(new RecoveryManager({ ...options, dir: path.join(root, 'stale-a') }).open(), fenced);
  await assert.rejects(
    new RecoveryManager({ ...options, dir: path.join(root, 'stale-a'), takeover: true }).open(),
    (err) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  // B's own directory reopens fine: it is still the newest writer.
  const again = await new RecoveryManager({ ...options, dir: path.join(root, 'stale-b') }).open();
  await again.close();
  assert.throws(
    () => new RecoveryManager({ dir: path.join(root, 'stale-c'), takeover: true }),
    (err) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
});

test('archiveIntervalMs bounds the loss: acknowledged records reach the archive without a checkpoint or close, and a takeover recovers them', async () => {
  const objectStore = testObjectStore('fence-rpo');
  const a = await new RecoveryManager({
    objectStore,
    dir: path.join(root, 'rpo-a'),
    archiveIntervalMs: 100,
    wal: { segmentSizeBytes: 1024 * 1024 },
  }).open();
  for (let i = 0; i < 20; i++) a.store.put(`k${i}`, payloadFor(i));
  await a.store.durable();
  assert.ok(a.archiver!.stats().unarchivedBytes > 0);
  const t0 = Date.now();
  while (a.archiver!.stats().unarchivedBytes > 0) {
    assert.ok(Date.now() - t0 < 5000, 'archived within the interval');
    await new Promise((r) => setTimeout(r, 50));
  }
  const b = await new RecoveryManager({ objectStore, dir: path.join(root, 'rpo-b'), takeover: true }).open();
  for (let i = 0; i < 20; i++) assert.equal(hex(b.recovered.state.get(`k${i}`)), hex(payloadFor(i)));
  await b.close();
  // The zombie learns at its next publish; from then on its log is read-only.
  a.store.put('late', payloadFor(1));
  await assert.rejects(a.archiver!.archiveAll(), fenced);
  await assert.rejects(async () => a.store.flushed(a.store.put('later', payloadFor(2))), fenced);
  await assert.rejects(a.close(), fenced);
});

test('the changelog-aware store is fenced too: after a takeover its Ring 1 checkpoint rejects TIDEMARK_FENCED and its writes stop being acknowledged', async () => {
  const objectStore = testObjectStore('fence-ring');
  const { store } = await openChangelogAwareStore({
    dir: path.join(root, 'ring-a'),
    objectStore,
    archiveIntervalMs: 50,
    transactional: true,
  });
  store.put('k', payloadFor(1));
  store.commit({ src: 1 });
  await store.checkpoint();
  await new Promise((r) => setTimeout(r, 600)); // the archive timer ships the active segment
  const b = await new RecoveryManager({
    objectStore,
    dir: path.join(root, 'ring-b'),
    takeover: true,
    transactional: true,
  }).open();
  assert.equal(hex(b.recovered.state.get('k')), hex(payloadFor(1)));
  store.put('zombie', payloadFor(2));
  store.commit({ src: 2 });
  await assert.rejects(store.checkpoint(), fenced);
  await assert.rejects(async () => {
    store.put('later', payloadFor(3));
    await store.flushed(store.commit({ src: 3 }));
  });
  await store.close().catch(() => {});
  await b.close();
});
