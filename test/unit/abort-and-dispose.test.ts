/**
 * `await using` closes every store and log (Symbol.asyncDispose), and `{ signal }` bounds the
 * long waits: an abort rejects that wait alone with TIDEMARK_ABORTED, leaves nothing behind on
 * the waiter lists or the signal, and never changes what becomes durable.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { DurableWatermark, publishDurable, StateChangelogBuffer } from '../../src/changelog/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { StateOp } from '../../src/format/constants.ts';
import type { PayloadEncoder } from '../../src/format/entry-codec.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { PerCoreWalManager, WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);

function bytes(n: number): PayloadEncoder {
  return {
    recordType: StateOp.Put,
    byteLength: n,
    encodeInto(buf, offset) {
      buf.fill(7, offset, offset + n);
    },
  };
}

/** Asserts `p` rejects with TIDEMARK_ABORTED carrying `reason` as its cause. */
async function rejectsAborted(p: Promise<unknown>, reason: unknown): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_ABORTED'), String(err));
    assert.equal(err.cause, reason);
    return true;
  });
}

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

// ── Symbol.asyncDispose ──────────────────────────────────────────────────────────────────────

test('await using a changelog-aware store closes it at the end of the scope: the lock is released and the data is durable', async () => {
  const dir = tmpDir('dispose-changelog');
  let closed: Promise<void> | undefined;
  {
    await using store = (await openChangelogAwareStore({ dir })).store;
    store.put('a', v('1'));
    closed = store.close();
  }
  await closed; // the memoized close that the scope's end awaited
  const again = await openChangelogAwareStore({ dir }); // would be TIDEMARK_LOCKED if still open
  assert.equal(Buffer.from(again.store.get('a')!).toString(), '1');
  await again.store[Symbol.asyncDispose]();
  assert.throws(() => again.store.put('b', v('2')), { code: 'TIDEMARK_CLOSED' });
});

test("await using RecoveryManager.open()'s store closes it at the end of the scope and releases the lock", async () => {
  const dir = tmpDir('dispose-opened');
  {
    await using opened = await new RecoveryManager({ dir }).open();
    opened.store.put('k', v('v'));
    await opened.store.durable();
  }
  {
    await using opened = await new RecoveryManager({ dir }).open();
    assert.equal(Buffer.from(opened.store.get('k')!).toString(), 'v');
    assert.equal(opened[Symbol.asyncDispose], opened.close, 'disposing is the memoized close');
  }
});

test('await using a WriteAheadLog or a PerCoreWalManager closes it at the end of the scope', async () => {
  const root = tmpDir('dispose-wal');
  let wal: WriteAheadLog | undefined;
  {
    await using log = await WriteAheadLog.open(await FsDirectory.open(root));
    wal = log;
    await log.flushed(log.append(bytes(10)));
  }
  assert.equal(wal.isClosed, true);
  {
    await using again = await WriteAheadLog.open(await FsDirectory.open(root));
    assert.equal(again.lastLsn, 2, 'the record and the clean-shutdown record of the first open');
  }
  const perCore = tmpDir('dispose-per-core');
  {
    await using _wals = await PerCoreWalManager.open({ dir: perCore, cores: 2 });
  }
  // Disposed: the data directory's lock is free again.
  await (await PerCoreWalManager.open({ dir: perCore, cores: 2 })).close();
});

// ── AbortSignal: validation ──────────────────────────────────────────────────────────────────

test('a wait whose options are not { signal?: AbortSignal } is refused with TIDEMARK_INVALID_ARGUMENT', async () => {
  const dir = tmpDir('abort-validate');
  const { store } = await openChangelogAwareStore({ dir });
  const seq = store.put('a', v('1'));
  const bad = [null, 5, 'x', [], { signal: 'no' }, { signal: {} }, { signal: new AbortController() }];
  for (const options of bad) {
    const o = options as never;
    await assert.rejects(store.flushed(seq, o), { code: 'TIDEMARK_INVALID_ARGUMENT' });
    await assert.rejects(store.durable(o), { code: 'TIDEMARK_INVALID_ARGUMENT' });
    await assert.rejects(store.writable(o), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  }
  await store.flushed(seq, {});
  await store.flushed(seq, { signal: undefined });
  await store.close();

  const opened = await new RecoveryManager({ dir: tmpDir('abort-validate-simple') }).open();
  const lsn = opened.store.put('a', v('1'));
  for (const options of bad) {
    const o = options as never;
    await assert.rejects(opened.store.flushed(lsn, o), { code: 'TIDEMARK_INVALID_ARGUMENT' });
    await assert.rejects(opened.store.durable(o), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  }
  await opened.store.flushed(lsn, { signal: AbortSignal.timeout(10_000) });
  await opened.close();
});

// ── AbortSignal: the changelog-aware store ───────────────────────────────────────────────────

test('an already-aborted signal rejects flushed/durable/writable at once with TIDEMARK_ABORTED and the data still becomes durable', async () => {
  const dir = tmpDir('abort-already');
  const { store } = await openChangelogAwareStore({ dir });
  const seq = store.put('a', v('1'));
  const reason = new Error('gave up');
  const signal = AbortSignal.abort(reason);
  await rejectsAborted(store.flushed(seq, { signal }), reason);
  await rejectsAborted(store.durable({ signal }), reason);
  await rejectsAborted(store.writable({ signal }), reason);
  await store.flushed(seq);
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(Buffer.from(r.state.get('a')!).toString(), '1');
});

test('aborting a pending flushed() rejects that waiter alone; a sibling waiter and durability are unaffected, and no waiter or listener is left behind', async () => {
  const dir = tmpDir('abort-pending');
  const { store } = await openChangelogAwareStore({ dir, wal: { groupCommitDelayMs: 50 } });
  const shared = new AbortController();
  let seq = 0;
  let raced = 0;
  for (let round = 0; round < 200; round++) {
    seq = store.put(`k${round}`, v(`v${round}`));
    const ac = new AbortController();
    const aborted = store.flushed(seq, { signal: ac.signal });
    const aborted2 = store.durable({ signal: ac.signal });
    const sibling = store.flushed(seq, { signal: shared.signal });
    // Ring 1 runs in another thread: it may have made `seq` durable before the waits were made,
    // and a wait on something already durable resolves at once. The watermark only moves up, so
    // if it is still below `seq` now, both waits are pending and the abort must reject them.
    const durableAlready = store.durableSequence >= seq;
    ac.abort(round);
    if (durableAlready) {
      raced++;
      await Promise.allSettled([aborted, aborted2]);
    } else {
      await rejectsAborted(aborted, round);
      await rejectsAborted(aborted2, round);
    }
    await sibling;
  }
  assert.ok(raced < 100, `most rounds exercised a pending abort (${raced} of 200 were durable first)`);
  const waiters = (store as unknown as { watermarkWaiters: DurableWatermark }).watermarkWaiters;
  assert.equal(waiters.pending, 0, 'aborted waiters left the list');
  assert.equal(abortListeners(shared.signal), 0, 'settled waits detached from the long-lived signal');
  assert.ok(store.durableSequence >= seq);
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.state.size, 200);
});

test('aborting a pending writable() rejects it alone; what was queued behind the full ring still becomes durable', async () => {
  const dir = tmpDir('abort-writable');
  const { store } = await openChangelogAwareStore({
    dir,
    backpressure: 'wait',
    ring: { capacityEntries: 16, arenaBytes: 4096 },
    wal: { groupCommitBytes: 1024, groupCommitDelayMs: 50 },
  });
  let aborts = 0;
  for (let i = 0; i < 3000; i++) {
    store.put(`k${i % 100}`, v(`value-${i}`));
    if (!store.isWritable && i % 50 === 0) {
      const ac = new AbortController();
      const p = store.writable({ signal: ac.signal });
      ac.abort('enough');
      await rejectsAborted(p, 'enough');
      aborts++;
    }
  }
  assert.ok(aborts > 0, 'the tiny ring filled at least once');
  const list = (store as unknown as { writableWaiters: unknown[] }).writableWaiters;
  assert.equal(list.length, 0, 'aborted writable() waiters left the list');
  await store.writable();
  const expected = Object.fromEntries([...store.entries()].map(([k, x]) => [k, Buffer.from(x).toString()]));
  await store.close();
  const r = await new RecoveryManager({ dir }).recover();
  const got = Object.fromEntries([...r.state].map(([k, x]) => [k, Buffer.from(x).toString()]));
  assert.deepEqual(got, expected);
});

test('the durable watermark drops every aborted waiter (the list stays bounded) and still resolves the others', async () => {
  const buffer = StateChangelogBuffer.create();
  const watermark = new DurableWatermark({
    buffer,
    failure: () => undefined,
    onWaiting: () => {},
    onWait: () => {},
  });
  const controllers = Array.from({ length: 10_000 }, () => new AbortController());
  const aborted = controllers.map((ac, i) => watermark.wait(1 + (i % 7), { signal: ac.signal }));
  const survivor = watermark.wait(3);
  assert.equal(watermark.pending, 10_001);
  for (const ac of controllers) ac.abort('timeout');
  assert.equal(watermark.pending, 1, 'only the waiter without a signal is left');
  const results = await Promise.allSettled(aborted);
  assert.ok(results.every((r) => r.status === 'rejected' && isTidemarkError(r.reason, 'TIDEMARK_ABORTED')));
  publishDurable(buffer, 3, 3);
  await survivor;
  assert.equal(watermark.pending, 0);
});

// ── AbortSignal: the simple store and the WAL ────────────────────────────────────────────────

test("aborting a WAL wait never rejects its group's shared promise: the other waiters of the group resolve and the record is durable", async () => {
  const wal = await WriteAheadLog.open(await FsDirectory.open(tmpDir('abort-wal')), {
    groupCommitDelayMs: 1000,
  });
  try {
    const long = AbortSignal.timeout(60_000);
    for (let i = 0; i < 100; i++) {
      const lsn = wal.append(bytes(100));
      const ac = new AbortController();
      const gaveUp = wal.flushed(lsn, { signal: ac.signal });
      const syncGaveUp = wal.sync({ signal: ac.signal });
      const other = wal.flushed(lsn, { signal: long });
      const plain = wal.flushed(lsn);
      ac.abort(i);
      await rejectsAborted(gaveUp, i);
      await rejectsAborted(syncGaveUp, i);
      await Promise.all([other, plain]);
      assert.ok(wal.durableLsn >= lsn);
    }
    assert.equal(abortListeners(long), 0, 'settled waits detached from the long-lived signal');
    const reason = new Error('already');
    const lsn = wal.append(bytes(10));
    await rejectsAborted(wal.flushed(lsn, { signal: AbortSignal.abort(reason) }), reason);
    await assert.rejects(wal.flushed(lsn + 5, { signal: AbortSignal.abort() }), {
      code: 'TIDEMARK_INVALID_ARGUMENT',
    });
    await wal.flushed(lsn);
  } finally {
    await wal.close();
  }
});

test("aborting the simple store's flushed()/durable() rejects that wait alone and the record still becomes durable", async () => {
  const dir = tmpDir('abort-simple');
  {
    await using opened = await new RecoveryManager({ dir, wal: { groupCommitDelayMs: 1000 } }).open();
    const lsn = opened.store.put('a', v('1'));
    const ac = new AbortController();
    const a = opened.store.flushed(lsn, { signal: ac.signal });
    const b = opened.store.durable({ signal: ac.signal });
    const other = opened.store.durable({ signal: AbortSignal.timeout(60_000) });
    ac.abort('stop');
    await rejectsAborted(a, 'stop');
    await rejectsAborted(b, 'stop');
    await other;
    await rejectsAborted(opened.store.durable({ signal: AbortSignal.abort('now') }), 'now');
  }
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(Buffer.from(r.state.get('a')!).toString(), '1');
});
