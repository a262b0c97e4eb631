import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateChangelogBuffer, type StateChangelogEntry } from '../../src/changelog/index.ts';
import {
  CHANGELOG_ENTRY_SIZE,
  CommitEncoder,
  decodeEntry,
  type RecordPayload,
  RING_CONTROL_SIZE,
  RING_ERROR_AREA_SIZE,
  StateOp,
} from '../../src/format/index.ts';
import { payloadFor } from '../helpers/tmp.ts';

interface Seen {
  op: number;
  epoch: number;
  sequenceLow: number;
  keyLength: number;
  payload: Buffer;
}

function drainAll(ring: StateChangelogBuffer, max = 1 << 30): Seen[] {
  const out: Seen[] = [];
  ring.drain((e: StateChangelogEntry) => {
    out.push({
      op: e.op,
      epoch: e.epoch,
      sequenceLow: e.sequenceLow,
      keyLength: e.keyLength,
      payload: Buffer.from(e.payload.subarray(e.payloadOffset, e.payloadOffset + e.payloadLength)),
    });
  }, max);
  return out;
}

/** A drained entry's payload as the record decoder takes it (the ring's op is the record type). */
function ringPayload(s: Seen): RecordPayload {
  return {
    type: s.op,
    buf: s.payload,
    payloadStart: 0,
    payloadLength: s.payload.length,
    path: 'ring',
    frameOffset: 0,
  };
}

test('an entry is 32 bytes and the shared buffer is control + error area + entries + arena', () => {
  assert.equal(CHANGELOG_ENTRY_SIZE, 32);
  const ring = StateChangelogBuffer.create({ capacityEntries: 8, arenaBytes: 1024 });
  assert.equal(ring.shared.byteLength, RING_CONTROL_SIZE + RING_ERROR_AREA_SIZE + 8 * 32 + 1024);
  assert.throws(() => StateChangelogBuffer.create({ capacityEntries: 12 }), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
  assert.throws(() => StateChangelogBuffer.create({ arenaBytes: 1000 }), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
  assert.throws(() => StateChangelogBuffer.attach(new SharedArrayBuffer(8192)), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
});

test('entries carry the WAL payload, epoch, sequence and key length, and decode as WAL records', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 8, arenaBytes: 4096 });
  const consumer = StateChangelogBuffer.attach(ring.shared);
  assert.ok(ring.pushPut('apple', Buffer.from('red'), 2 ** 33 + 5));
  assert.ok(ring.pushPut('grüße', Buffer.from([1, 2, 3]), 0));
  assert.ok(ring.pushDelete('apple', 7));
  assert.ok(ring.pushEncoded(StateOp.Commit, new CommitEncoder(7, { src: 42 }, 1000), 7));
  const seen = drainAll(consumer);
  assert.deepEqual(
    seen.map((s) => [s.op, s.epoch, s.sequenceLow]),
    [
      [StateOp.Put, 2 ** 33 + 5, 1],
      [StateOp.Put, 0, 2],
      [StateOp.Delete, 7, 3],
      [StateOp.Commit, 7, 4],
    ],
  );
  const decoded = seen.map((s) => decodeEntry(ringPayload(s)));
  assert.deepEqual(decoded[0], { type: 'put', key: 'apple', value: Buffer.from('red') });
  assert.equal(decoded[1]!.type === 'put' && decoded[1]!.key, 'grüße');
  assert.equal(seen[1]!.keyLength, Buffer.byteLength('grüße'));
  assert.deepEqual(decoded[2], { type: 'delete', key: 'apple' });
  assert.deepEqual(decoded[3], { type: 'commit', epoch: 7, sourceOffsets: { src: 42 }, watermark: 1000 });
  assert.deepEqual(
    seen.map((s) => s.keyLength),
    [5, Buffer.byteLength('grüße'), 5, 0],
  );
});

test('push returns false when the ring is full and true again once the consumer drains', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 4, arenaBytes: 4096 });
  const consumer = StateChangelogBuffer.attach(ring.shared);
  const v = new Uint8Array(10);
  for (let i = 0; i < 4; i++) assert.ok(ring.pushPut(`k${i}`, v, 0));
  assert.equal(ring.pushPut('k4', v, 0), false, 'full ring refuses');
  assert.equal(ring.nextSequence, 5, 'a refused push takes no sequence');
  assert.equal(drainAll(consumer, 3).length, 3);
  assert.ok(ring.pushPut('k4', v, 0));
  assert.deepEqual(
    drainAll(consumer).map((s) => s.sequenceLow),
    [4, 5],
  );
});

test('push returns false when the arena is full even with free slots, and payloads over a quarter of the arena are refused', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 64, arenaBytes: 1024 });
  const consumer = StateChangelogBuffer.attach(ring.shared);
  const v = new Uint8Array(200);
  let pushed = 0;
  while (ring.pushPut(`k${pushed}`, v, 0)) pushed++;
  assert.ok(pushed >= 3 && pushed <= 5, `pushed ${pushed} of ~206 bytes into 1 KiB`);
  assert.throws(() => ring.pushPut('big', new Uint8Array(300), 0), { code: 'TIDEMARK_LIMIT' });
  assert.equal(drainAll(consumer).length, pushed);
  assert.ok(ring.pushPut('again', v, 0));
});

test('wrap-around of slots and arena keeps every payload intact over many laps, with payloads skipping the arena end', () => {
  const ring = StateChangelogBuffer.create({ capacityEntries: 16, arenaBytes: 2048 });
  const consumer = StateChangelogBuffer.attach(ring.shared);
  let next = 1;
  let expected = 1;
  let steps = 0;
  while (expected < 20_000) {
    // Push a random-ish number, drain a random-ish number: slots and arena wrap hundreds of times.
    const pushes = 1 + ((steps * 7) % 13);
    for (let i = 0; i < pushes; i++) {
      if (!ring.pushPut(`key-${next}`, payloadFor(next).subarray(0, 1 + (next % 400)), next)) break;
      next++;
    }
    const max = 1 + ((steps * 5) % 11);
    for (const s of drainAll(consumer, max)) {
      assert.equal(s.sequenceLow, expected);
      assert.equal(s.epoch, expected);
      const e = decodeEntry(ringPayload(s));
      assert.ok(e.type === 'put' && e.key === `key-${expected}`);
      assert.deepEqual(Buffer.from(e.value), payloadFor(expected).subarray(0, 1 + (expected % 400)));
      expected++;
    }
    steps++;
  }
  assert.ok(next - 1 >= 20_000 - 1);
});
