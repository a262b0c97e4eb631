/**
 * Ring 0's put/delete checks the key's well-formedness inside the ring's encoding loop instead of
 * in a separate scan: these tests pin down that every bad argument is still refused, with the
 * same code, before anything changes — on the fast path, on a full ring, and on a closed store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateChangelogBuffer, type StateChangelogEntry } from '../../src/changelog/index.ts';
import { decodeEntry, MAX_KEY_BYTES, StateOp } from '../../src/format/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);

function drainKeys(ring: StateChangelogBuffer): { op: number; sequenceLow: number; key: string }[] {
  const out: { op: number; sequenceLow: number; key: string }[] = [];
  ring.drain((e: StateChangelogEntry) => {
    const d = decodeEntry({
      type: e.op,
      buf: e.payload,
      payloadStart: e.payloadOffset,
      payloadLength: e.payloadLength,
      path: 'ring',
      frameOffset: 0,
    });
    out.push({
      op: e.op,
      sequenceLow: e.sequenceLow,
      key: d.type === 'put' || d.type === 'delete' ? d.key : '',
    });
  }, 1 << 20);
  return out;
}

const LONE_SURROGATE_KEYS = ['a\ud800', '\udfffz', 'grüße\ud800', `${'x'.repeat(100)}\udc00`, '😀\ud83d'];

test('the ring refuses a key with a lone surrogate instead of writing U+FFFD, and takes no slot, arena byte or sequence for it', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 8, arenaBytes: 4096 });
  const consumer = StateChangelogBuffer.attach(ring.shared);
  for (const key of LONE_SURROGATE_KEYS) {
    assert.throws(
      () => ring.pushPut(key, v('x'), 0),
      { code: 'TIDEMARK_INVALID_ARGUMENT' },
      JSON.stringify(key),
    );
    assert.throws(() => ring.pushDelete(key, 0), { code: 'TIDEMARK_INVALID_ARGUMENT' }, JSON.stringify(key));
  }
  assert.equal(ring.nextSequence, 1);
  assert.equal(ring.pendingEntries, 0);
  assert.equal(ring.pendingArenaBytes, 0);
  assert.equal(consumer.available(), 0);
  assert.ok(ring.pushPut('grüße', v('1'), 0));
  assert.ok(ring.pushPut('😀', v('2'), 0));
  assert.ok(ring.pushDelete('ascii', 0));
  assert.ok(ring.pushDelete('ü😀', 0));
  assert.deepEqual(drainKeys(consumer), [
    { op: StateOp.Put, sequenceLow: 1, key: 'grüße' },
    { op: StateOp.Put, sequenceLow: 2, key: '😀' },
    { op: StateOp.Delete, sequenceLow: 3, key: 'ascii' },
    { op: StateOp.Delete, sequenceLow: 4, key: 'ü😀' },
  ]);
});

test('the ring refuses an ASCII or non-ASCII key over the key cap and changes nothing', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 8, arenaBytes: 1 << 20 });
  for (const key of ['k'.repeat(MAX_KEY_BYTES + 1), 'é'.repeat(MAX_KEY_BYTES / 2 + 1)]) {
    assert.throws(() => ring.pushPut(key, v('x'), 0), { code: 'TIDEMARK_LIMIT' });
    assert.throws(() => ring.pushDelete(key, 0), { code: 'TIDEMARK_LIMIT' });
  }
  assert.equal(ring.nextSequence, 1);
  assert.equal(ring.pendingEntries, 0);
  assert.equal(ring.pendingArenaBytes, 0);
});

/** Every put the store must refuse, with its code. */
const BAD_PUTS: [string, unknown, unknown, string][] = [
  ['a lone high surrogate', 'a\ud800', v('x'), 'TIDEMARK_INVALID_ARGUMENT'],
  ['a lone low surrogate after Latin-1', 'grüße\udc00', v('x'), 'TIDEMARK_INVALID_ARGUMENT'],
  [
    'a lone surrogate after a long ASCII prefix',
    `${'p'.repeat(300)}\ud800`,
    v('x'),
    'TIDEMARK_INVALID_ARGUMENT',
  ],
  ['a number key', 42, v('x'), 'TIDEMARK_INVALID_ARGUMENT'],
  ['a string value', 'k', 'bytes?', 'TIDEMARK_INVALID_ARGUMENT'],
  ['a DataView value', 'k', new DataView(new ArrayBuffer(4)), 'TIDEMARK_INVALID_ARGUMENT'],
  ['a forged Uint8Array value', 'k', Object.create(Uint8Array.prototype), 'TIDEMARK_INVALID_ARGUMENT'],
  ['a key over 64 KiB', 'k'.repeat(MAX_KEY_BYTES + 1), v('x'), 'TIDEMARK_LIMIT'],
  ['a value over a quarter of the arena', 'k', new Uint8Array(64 * 1024), 'TIDEMARK_LIMIT'],
];

test('a refused put or delete leaves the ring, the map and the sequence untouched, on the fast path, behind a full ring and after close', async () => {
  const dir = tmpDir('hot-refuse');
  const { store } = await openChangelogAwareStore({
    dir,
    backpressure: 'wait',
    ring: { capacityEntries: 16, arenaBytes: 256 * 1024 },
  });
  const snapshot = () => ({
    sequence: store.lastSequenceNumber,
    size: store.size,
    pushed: store.stats().entriesPushed,
    queued: store.stats().entriesQueued,
    uncommitted: store.uncommittedCount,
    k: store.get('k'),
  });
  const refuseAll = (phase: string) => {
    for (const [label, key, value, code] of BAD_PUTS) {
      const before = snapshot();
      assert.throws(
        () => store.put(key as string, value as Uint8Array),
        { code },
        `${phase}: put of ${label}`,
      );
      assert.deepEqual(snapshot(), before, `${phase}: put of ${label} changed nothing`);
      if (typeof key === 'string' && value instanceof Buffer) {
        assert.throws(() => store.delete(key), { code }, `${phase}: delete of ${label}`);
        assert.deepEqual(snapshot(), before, `${phase}: delete of ${label} changed nothing`);
      }
    }
  };
  store.put('k', v('0'));
  refuseAll('fast path');
  // Fill the 16-slot ring faster than Ring 1 can drain it, so later mutations queue in Ring 0.
  let i = 0;
  while (store.isWritable) store.put(`fill-${i++}`, v('f'));
  refuseAll('full ring');
  store.put('grüße', v('g'));
  store.put('😀', v('e'));
  store.delete('ü😀');
  const last = store.commit({ src: 1 });
  await store.flushed(last);
  await store.close();
  // A bad argument is refused as such even on a closed store (argument errors come first).
  for (const [label, key, value, code] of BAD_PUTS) {
    assert.throws(() => store.put(key as string, value as Uint8Array), { code }, `closed: put of ${label}`);
  }
  assert.throws(() => store.put('ok', v('x')), { code: 'TIDEMARK_CLOSED' });

  const r = await new RecoveryManager({ dir, mode: 'absolute-consistency' }).recover();
  assert.equal(r.state.size, i + 3);
  assert.deepEqual(r.state.get('grüße'), v('g'));
  assert.deepEqual(r.state.get('😀'), v('e'));
  assert.equal(r.state.has('ü😀'), false);
  for (const key of r.state.keys()) assert.ok(key.isWellFormed() && !key.includes('\ufffd'), key);
});

test('draining a queue of 150,000 mutations behind a full ring does not stall the event loop for seconds', async () => {
  const dir = tmpDir('hot-queue');
  const { store } = await openChangelogAwareStore({
    dir,
    backpressure: 'wait',
    ring: { capacityEntries: 65_536, arenaBytes: 4 * 1024 * 1024 },
  });
  // Large values fill the 4 MiB arena far faster than Ring 1 can write them out; from then on,
  // while this loop holds the thread, every put queues in Ring 0.
  const big = new Uint8Array(900 * 1024);
  for (let i = 0; i < 12; i++) store.put(`big${i}`, big);
  const total = 150_000;
  const value = v('12345678');
  let last = 0;
  for (let i = 0; i < total; i++) last = store.put(`k${i}`, value);
  assert.ok(store.stats().entriesQueued > 50_000, `queued ${store.stats().entriesQueued}`);
  // The longest gap between ticks of a 5 ms interval while the queue drains.
  let worst = 0;
  let previous = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - previous);
    previous = now;
  }, 5);
  await store.writable();
  await store.flushed(last);
  clearInterval(timer);
  await store.close();
  // Before the fix one pass of the pump shifted ~65,000 entries off an array of ~100,000, each
  // shift moving the rest of it: seconds without a tick. Generous bound for a loaded machine.
  assert.ok(worst < 750, `the event loop stalled for ${worst.toFixed(0)} ms`);
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.state.size, total + 12);
});

test('values from sources at every alignment are packed back to back in the arena (no pad between records) and stay intact over many laps', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 16, arenaBytes: 4096 });
  const consumer = StateChangelogBuffer.attach(ring.shared);
  const source = new Uint8Array(1024);
  for (let i = 0; i < source.length; i++) source[i] = (i * 13) & 0xff;
  let pushed = 0;
  let checked = 0;
  let previousEnd = -1;
  while (pushed < 5000) {
    for (let i = 0; i < 7; i++) {
      const shift = pushed % 8;
      const value = source.subarray(shift, shift + 16 + ((pushed * 37) % 300));
      if (!ring.pushPut(`key-${pushed}`, value, 0)) break;
      pushed++;
    }
    consumer.drain((e) => {
      const d = decodeEntry({
        type: e.op,
        buf: e.payload,
        payloadStart: e.payloadOffset,
        payloadLength: e.payloadLength,
        path: 'ring',
        frameOffset: 0,
      });
      assert.equal(d.type, 'put');
      if (d.type !== 'put') return;
      const n = Number(d.key.slice(4));
      const shift = n % 8;
      assert.ok(Buffer.from(source.subarray(shift, shift + 16 + ((n * 37) % 300))).equals(d.value), d.key);
      // A record starts where the previous payload ended, or at offset 0 after a wrap.
      const recordStart = e.payloadOffset - 5;
      if (previousEnd >= 0 && recordStart !== 0) {
        assert.equal(recordStart, previousEnd, `${d.key}: record packed right after the previous one`);
      }
      previousEnd = e.payloadOffset + e.payloadLength;
      checked++;
    }, 1 << 20);
  }
  assert.equal(checked, pushed);
});

test('a put with both an ill-formed key and a bad or oversized value is refused for its key, as before the checks moved', async () => {
  const dir = tmpDir('hot-order');
  const { store } = await openChangelogAwareStore({ dir, ring: { arenaBytes: 1 << 20 } });
  for (const value of [new Uint8Array(1 << 20), 'text', new DataView(new ArrayBuffer(2))]) {
    assert.throws(() => store.put('a\ud800', value as Uint8Array), { code: 'TIDEMARK_INVALID_ARGUMENT' });
    assert.throws(() => store.put(7 as unknown as string, value as Uint8Array), {
      code: 'TIDEMARK_INVALID_ARGUMENT',
    });
  }
  assert.throws(() => store.put('ok', new Uint8Array(1 << 20)), { code: 'TIDEMARK_LIMIT' });
  assert.equal(store.lastSequenceNumber, 0);
  await store.close();
});
