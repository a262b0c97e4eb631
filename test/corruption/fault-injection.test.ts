// Faults at chosen disk calls through the fault-injecting directory (tidemark/testing): a failed
// fdatasync is final, a full disk acknowledges nothing it could not store, a short write leaves a
// tail that is cut back to a record boundary, and a failed checkpoint never deletes WAL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { FaultInjectingDirectory, type FaultRule, SimulatedDisk } from '../../src/testing/index.ts';
import { payloadFor } from '../helpers/tmp.ts';

const OPTIONS = { transactional: true, wal: { syncMethod: 'fdatasync' as const, segmentSizeBytes: 8192 } };

/** Writes batches of 10 keys until the store fails; resolves the last acknowledged batch and the failure. */
async function writeUntilFailure(
  dir: FaultInjectingDirectory,
  batches = 300,
): Promise<{ acked: number; failure: unknown; afterFailure: string[] }> {
  const s = await new RecoveryManager({ dir, ...OPTIONS }).open();
  let acked = 0;
  let failure: unknown;
  try {
    for (let b = 1; b <= batches; b++) {
      for (let i = 0; i < 10; i++) s.store.put(`k${b}-${i}`, payloadFor(b * 10 + i));
      await s.store.flushed(s.store.commit({ src: b }));
      acked = b;
    }
  } catch (err) {
    failure = err;
  }
  const afterFailure: string[] = [];
  const code = (e: unknown) => (isTidemarkError(e) ? e.code : `untyped ${String(e)}`);
  try {
    s.store.put('after', new Uint8Array(1));
    afterFailure.push('put ok');
  } catch (e) {
    afterFailure.push(`put ${code(e)}`);
  }
  await s.store.durable().then(
    () => afterFailure.push('durable ok'),
    (e) => afterFailure.push(`durable ${code(e)}`),
  );
  await s.close().then(
    () => afterFailure.push('close ok'),
    (e) => afterFailure.push(`close ${code(e)}`),
  );
  return { acked, failure, afterFailure };
}

/** Recovers `disk` and checks: every acknowledged batch is there, and the state is exactly batches 1..n. */
async function checkRecovered(disk: SimulatedDisk, acked: number): Promise<number> {
  const r = await new RecoveryManager({ dir: FaultInjectingDirectory.root(disk), ...OPTIONS }).open();
  const n = r.recovered.sourceOffsets.src ?? 0;
  assert.ok(n >= acked, `recovered ${n} batches, ${acked} were acknowledged`);
  const keys = [...r.store.entries()].map(([k]) => k).filter((k) => k !== 'reopened');
  assert.equal(
    keys.length,
    n * 10,
    `exactly the committed batches, not ${keys.filter((k) => !k.startsWith('k')).join(',')}`,
  );
  for (let b = 1; b <= n; b++) assert.ok(Buffer.from(r.store.get(`k${b}-9`)!).equals(payloadFor(b * 10 + 9)));
  r.store.put('reopened', new Uint8Array(1));
  await r.store.flushed(r.store.commit({ src: n }));
  await r.close();
  return n;
}

test('an fdatasync EIO (fault directory) is final: every waiter rejects, no fdatasync is retried on that file, and the disk image recovers every acknowledged batch', async () => {
  const disk = new SimulatedDisk();
  disk.faults.push({ kind: 'datasync', fromCall: 60, pathIncludes: 'wal-', error: 'EIO' });
  const syncsAfter: string[] = [];
  let failedAt = 0;
  disk.beforeCall = (call) => {
    if (failedAt > 0 && call.kind === 'datasync' && call.path.includes('wal-')) syncsAfter.push(call.path);
  };
  const dir = FaultInjectingDirectory.root(disk);
  const done = writeUntilFailure(dir);
  const watch = setInterval(() => {
    if (disk.injected.length > 0 && failedAt === 0) failedAt = disk.injected[0]!.n;
  }, 0);
  const { acked, failure, afterFailure } = await done;
  clearInterval(watch);
  assert.ok(isTidemarkError(failure, 'TIDEMARK_IO'), String(failure));
  assert.ok(acked > 3, `${acked} batches acknowledged first`);
  assert.deepEqual(afterFailure, ['put TIDEMARK_IO', 'durable TIDEMARK_IO', 'close TIDEMARK_IO']);
  assert.equal(disk.injected.length, 1);
  assert.deepEqual(
    syncsAfter.filter((p) => p === disk.injected[0]!.path),
    [],
    'no fdatasync retried on the failed file',
  );
  await checkRecovered(disk.crashImage({ variant: 'drop-unsynced' }), acked);
});

for (const [label, rule] of [
  [
    'ENOSPC on every write from some point (a full disk)',
    { kind: 'write', fromCall: 80, error: 'ENOSPC', repeat: 'always' },
  ],
  ['a short write (half stored, then ENOSPC)', { kind: 'write', fromCall: 80, error: 'short' }],
] as [string, FaultRule][]) {
  test(`${label}: nothing that did not fit is acknowledged, and once space is freed the log reopens, cut back to a record boundary`, async () => {
    const disk = new SimulatedDisk();
    disk.faults.push(rule);
    const { acked, failure, afterFailure } = await writeUntilFailure(FaultInjectingDirectory.root(disk));
    assert.ok(isTidemarkError(failure, 'TIDEMARK_NO_SPACE'), String(failure));
    assert.equal(afterFailure[0], 'put TIDEMARK_NO_SPACE');
    disk.faults.length = 0; // space freed
    const n = await checkRecovered(disk, acked);
    assert.ok(n <= acked + 1);
    // And the same disk after a power cut at this point.
    await checkRecovered(disk.crashImage({ variant: 'drop-unsynced' }), acked);
  });
}

test('a checkpoint that fails (ENOSPC writing its files) never deletes WAL; the next one, with space, does', async () => {
  const disk = new SimulatedDisk();
  const dir = FaultInjectingDirectory.root(disk);
  const s = await new RecoveryManager({ dir, ...OPTIONS, maxRetained: 1 }).open();
  for (let b = 1; b <= 100; b++) {
    for (let i = 0; i < 10; i++) s.store.put(`k${b}-${i}`, payloadFor(b * 10 + i));
    s.store.commit({ src: b });
  }
  await s.store.durable();
  const segmentsBefore = s.store.wal.segmentList().length;
  assert.ok(segmentsBefore > 3);
  disk.faults.push({
    kind: 'write',
    fromCall: disk.calls + 1,
    pathIncludes: 'checkpoints/',
    error: 'ENOSPC',
    repeat: 'always',
  });
  await assert.rejects(s.checkpoint(), (e: unknown) => isTidemarkError(e, 'TIDEMARK_NO_SPACE'));
  assert.equal(s.store.wal.segmentList().length, segmentsBefore, 'no WAL segment deleted');
  disk.faults.length = 0;
  const meta = await s.checkpoint();
  assert.equal(meta.kind, 'base');
  assert.ok(s.store.wal.segmentList().length < segmentsBefore, 'the successful checkpoint truncated the WAL');
  await s.close();
  await checkRecovered(disk.crashImage({ variant: 'drop-unsynced' }), 100);
});
