import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAX_RECORD_PAYLOAD_BYTES } from '../../src/format/constants.ts';
import { PutEncoder } from '../../src/format/entry-codec.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const v = (s: string) => Buffer.from(s);

/** Every bad (key, value) pair a new user was seen to pass, and what each must be refused as. */
const BAD_PUTS: [string, unknown, unknown][] = [
  ['a number value', 'n', 42],
  ['a DataView value', 'd', new DataView(new ArrayBuffer(8))],
  ['a string value', 's', 'hello'],
  ['a Float64Array value', 'f', new Float64Array([1.5, 2.5])],
  ['an undefined value', 'u', undefined],
  ['a null value', 'z', null],
  ['a number key', 42, v('x')],
  ['a lone-surrogate key', 'a\ud800', v('x')],
  ['another lone-surrogate key', 'a\udfff', v('x')],
  ['an undefined key', undefined, v('x')],
];

function assertRefused(fn: () => unknown, label: string): void {
  assert.throws(fn, { code: 'TIDEMARK_INVALID_ARGUMENT' }, label);
}

test('a changelog-aware store refuses values that are not bytes and keys that are not well-formed strings, acknowledges nothing of them, and stays recoverable', async () => {
  const dir = tmpDir('validate-ring');
  const { store } = await openChangelogAwareStore({ dir });
  store.put('good', v('1'));
  for (const [label, key, value] of BAD_PUTS) {
    const before = store.lastSequenceNumber;
    assertRefused(() => store.put(key as string, value as Uint8Array), label);
    assert.equal(store.lastSequenceNumber, before, `${label}: no sequence handed out`);
  }
  assertRefused(() => store.delete(7 as unknown as string), 'delete of a number key');
  assertRefused(() => store.delete('b\ud800'), 'delete of a lone-surrogate key');
  assertRefused(() => store.commit({ src: -1 }), 'negative offset');
  assertRefused(() => store.commit({ src: 1.5 }), 'fractional offset');
  assertRefused(() => store.commit({ src: Number.NaN }), 'NaN offset');
  assertRefused(() => store.commit(null as unknown as Record<string, number>), 'null offsets');
  assertRefused(() => store.commit({ src: 1 }, Number.NaN), 'NaN watermark');
  assert.deepEqual(store.sourceOffsets, {}, 'a refused commit changed no offset');
  assert.equal(store.size, 1);
  const seq = store.commit({ src: 1 }, 10);
  await store.flushed(seq);
  await store.close();

  for (const mode of ['tolerate-torn-tail', 'absolute-consistency', 'point-in-time', 'salvage'] as const) {
    const r = await new RecoveryManager({ dir, mode }).recover();
    assert.deepEqual([...r.state.keys()], ['good'], `${mode}: only the good put is in the log`);
    assert.deepEqual(r.sourceOffsets, { src: 1 });
  }
});

test('a simple store refuses a number value before logging it, and flushed() and close() still settle', async () => {
  const dir = tmpDir('validate-simple');
  const opened = await new RecoveryManager({ dir }).open();
  const lsn = opened.store.put('a', v('1'));
  for (const [label, key, value] of BAD_PUTS) {
    assertRefused(() => opened.store.put(key as string, value as Uint8Array), label);
  }
  assertRefused(() => opened.store.commit({ src: -5 }), 'negative offset');
  assert.equal(opened.store.wal.lastLsn, lsn, 'nothing was appended for a refused call');
  const commit = opened.store.commit({ src: 1 });
  await opened.store.flushed(commit);
  await opened.close();
  const r = await new RecoveryManager({ dir, mode: 'absolute-consistency' }).recover();
  assert.deepEqual([...r.state.keys()], ['a']);
});

test('flushed() of undefined, NaN, a negative or a fractional position is refused and does not block later waiters', async () => {
  const dir = tmpDir('validate-flushed');
  const { store } = await openChangelogAwareStore({ dir: path.join(dir, 'ring') });
  const simple = await new RecoveryManager({ dir: path.join(dir, 'simple') }).open();
  for (const bad of [undefined, Number.NaN, -1, 1.5, '1', Number.POSITIVE_INFINITY]) {
    await assert.rejects(store.flushed(bad as number), { code: 'TIDEMARK_INVALID_ARGUMENT' });
    await assert.rejects(simple.store.flushed(bad as number), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  }
  const seq = store.put('k', v('v'));
  const lsn = simple.store.put('k', v('v'));
  await Promise.all([store.flushed(seq), simple.store.flushed(lsn)]);
  await store.close();
  await simple.close();
});

test('a put between the ring payload cap and the WAL record cap is refused at the call, even behind a full ring, with no unhandled rejection and no wedge', async () => {
  const dir = tmpDir('validate-cap');
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    // Ring cap: a quarter of a 64 KiB arena = 16 KiB; WAL cap 16 MiB.
    const { store } = await openChangelogAwareStore({
      dir,
      ring: { capacityEntries: 16, arenaBytes: 64 * 1024 },
      backpressure: 'wait',
    });
    assert.throws(() => store.put('big', Buffer.alloc(20 * 1024)), { code: 'TIDEMARK_LIMIT' });
    // Fill the ring so puts queue in Ring 0, then try an oversized one.
    for (let i = 0; i < 64; i++) store.put(`k${i}`, Buffer.alloc(1000, i));
    assert.throws(() => store.put('big', Buffer.alloc(20 * 1024)), { code: 'TIDEMARK_LIMIT' });
    assert.throws(() => store.put('huge', Buffer.alloc(MAX_RECORD_PAYLOAD_BYTES)), {
      code: 'TIDEMARK_LIMIT',
    });
    const seq = store.commit({ src: 64 });
    await store.flushed(seq);
    await store.close();
    const r = await new RecoveryManager({ dir }).recover();
    assert.equal(r.state.size, 64);
    assert.equal(r.state.get('big'), undefined);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test('a simple store refuses a put over the WAL record cap before logging it', async () => {
  const dir = tmpDir('validate-cap-simple');
  const opened = await new RecoveryManager({ dir }).open();
  assert.throws(() => opened.store.put('huge', Buffer.alloc(MAX_RECORD_PAYLOAD_BYTES)), {
    code: 'TIDEMARK_LIMIT',
  });
  assert.throws(() => opened.store.put('k'.repeat(70_000), v('x')), { code: 'TIDEMARK_LIMIT' });
  assert.equal(opened.store.wal.lastLsn, 0);
  await opened.close();
});

test('bad options are refused before anything is created, and read-only recovery of a mistyped path creates nothing', async () => {
  const dir = tmpDir('validate-options');
  const target = path.join(dir, 'never');
  const refusedRing: [string, Record<string, unknown>][] = [
    ['drainer.maxBatchEntries', { drainer: { maxBatchEntries: 0 } }],
    ['maxQueuedBytes', { maxQueuedBytes: Number.NaN }],
    ['backpressure', { backpressure: 'sometimes' }],
    ['ring.arenaBytes', { ring: { arenaBytes: 1000 } }],
    ['wal.groupCommitBytes', { wal: { groupCommitBytes: -1 } }],
    ['wal.syncMethod', { wal: { syncMethod: 'fsync' } }],
    ['transactional', { transactional: 'yes' }],
    ['checkpointIntervalMs', { checkpointIntervalMs: 1.5 }],
    ['maxRetained', { maxRetained: 0 }],
    ['objectStore', { objectStore: 'http://nope' }],
  ];
  for (const [argument, extra] of refusedRing) {
    await assert.rejects(
      openChangelogAwareStore({ dir: target, ...extra }),
      (err: { code?: string; argument?: string }) =>
        err.code === 'TIDEMARK_INVALID_ARGUMENT' && (argument === 'objectStore' || err.argument === argument),
      argument,
    );
  }
  await assert.rejects(openChangelogAwareStore({ dir: '' }), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  for (const extra of [{ mode: 'bogus' }, { wal: { segmentSizeBytes: 10 } }, { dir: '' }, { dir: 42 }]) {
    assert.throws(
      () => new RecoveryManager({ dir: target, ...extra } as never),
      { code: 'TIDEMARK_INVALID_ARGUMENT' },
      JSON.stringify(extra),
    );
  }
  assert.equal(fs.existsSync(target), false, 'no refused call created the directory');
  await assert.rejects(new RecoveryManager({ dir: target }).recover(), { code: 'TIDEMARK_NOT_FOUND' });
  assert.equal(fs.existsSync(target), false, 'read-only recovery created nothing');
});

test('close() is memoized on both stores, and checkpoint() and durable() after close reject with TIDEMARK_CLOSED instead of hanging or resolving', async () => {
  const dir = tmpDir('validate-close');
  const { store } = await openChangelogAwareStore({ dir: path.join(dir, 'ring') });
  store.put('k', v('v'));
  const c1 = store.close();
  const c2 = store.close();
  assert.equal(c1, c2, 'the same promise');
  await c1;
  await assert.rejects(store.checkpoint(), { code: 'TIDEMARK_CLOSED' });
  await assert.rejects(store.durable(), { code: 'TIDEMARK_CLOSED' });
  assert.throws(() => store.put('k', v('v')), { code: 'TIDEMARK_CLOSED' });

  const simple = await new RecoveryManager({ dir: path.join(dir, 'simple') }).open();
  simple.store.put('k', v('v'));
  const s1 = simple.close();
  assert.equal(simple.close(), s1, 'the same promise');
  await s1;
  await assert.rejects(simple.checkpoint(), { code: 'TIDEMARK_CLOSED' });
  await assert.rejects(simple.store.durable(), { code: 'TIDEMARK_CLOSED' });
});

test('a checkpoint racing close() on a changelog-aware store settles instead of hanging', async () => {
  const dir = tmpDir('validate-close-race');
  const { store } = await openChangelogAwareStore({ dir });
  for (let i = 0; i < 1000; i++) store.put(`k${i}`, v('v'));
  const ckpt = store.checkpoint();
  const closed = store.close();
  const [c, d] = await Promise.allSettled([ckpt, closed]);
  assert.equal(d.status, 'fulfilled');
  if (c.status === 'rejected') assert.equal((c.reason as { code?: string }).code, 'TIDEMARK_CLOSED');
});

test('two concurrent checkpoint() calls on the simple store publish one checkpoint, not two', async () => {
  const dir = tmpDir('validate-ckpt');
  const opened = await new RecoveryManager({ dir }).open();
  opened.store.put('k', v('v'));
  const [a, b] = await Promise.all([opened.checkpoint(), opened.checkpoint()]);
  assert.equal(a.id, b.id);
  assert.equal(opened.checkpoints.stats().checkpoints, 1);
  await opened.close();
});

test('a program run with node --input-type=module -e can open a changelog-aware store (the worker does not inherit the eval flags)', () => {
  const dir = tmpDir('validate-eval');
  const code = `
    import { openChangelogAwareStore } from ${JSON.stringify(path.join(root, 'dist/index.js'))};
    const { store } = await openChangelogAwareStore({ dir: ${JSON.stringify(dir)} });
    await store.flushed(store.put('k', new Uint8Array([1])));
    await store.close();
    console.log('ok');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim(), 'ok');
  assert.equal(r.status, 0);
});

test('WriteAheadLog.close() is memoized and refuses appends once it has started, so no record is accepted and then written to a closed file', async () => {
  const dir = tmpDir('validate-wal-close');
  const log = await WriteAheadLog.open(await FsDirectory.open(dir));
  const put = new PutEncoder();
  const first = log.append(put.set('a', v('1')));
  const c1 = log.close();
  assert.equal(log.close(), c1, 'the same promise');
  await new Promise((r) => setImmediate(r));
  assert.throws(() => log.append(put.set('b', v('2'))), { code: 'TIDEMARK_CLOSED' });
  await c1;
  const reopened = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.ok(reopened.lastLsn >= first);
  await reopened.close();
});

test('an object-store config without a prefix, or with mistyped fields, is checked at the call instead of failing with a bare TypeError', async () => {
  const dir = tmpDir('validate-objectstore');
  const { S3ObjectStorage } = await import('../../src/io/index.ts');
  assert.doesNotThrow(() => new S3ObjectStorage({ bucket: 'tidemark-test' } as never));
  for (const [argument, config] of [
    ['objectStore.prefix', { bucket: 'b-ok', prefix: 42 }],
    ['objectStore.bucket', { prefix: 'x' }],
    ['objectStore.endpoint', { bucket: 'b-ok', endpoint: 7 }],
    ['objectStore.createBucket', { bucket: 'b-ok', createBucket: 'yes' }],
  ] as const) {
    assert.throws(
      () => new RecoveryManager({ dir, objectStore: config as never }),
      (err: { code?: string; argument?: string }) =>
        err.code === 'TIDEMARK_INVALID_ARGUMENT' && err.argument === argument,
      argument,
    );
  }
});
