import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CheckpointMarkerEncoder,
  CommitEncoder,
  DeleteEncoder,
  decodeEntry,
  decodeSegmentHeader,
  encodeSegmentHeader,
  FrameStatus,
  type PayloadEncoder,
  PutEncoder,
  RECORD_HEADER_SIZE,
  readFrame,
  sealFrame,
  WAL_FORMAT_VERSION,
} from '../../src/format/index.ts';

function frame(enc: PayloadEncoder, lsn: number): Buffer {
  const buf = Buffer.alloc(RECORD_HEADER_SIZE + enc.byteLength);
  enc.encodeInto(buf, RECORD_HEADER_SIZE);
  sealFrame(buf, 0, enc.recordType, lsn, enc.byteLength);
  return buf;
}

function roundTrip(enc: PayloadEncoder, lsn = 7) {
  const buf = frame(enc, lsn);
  const info = { type: 0, lsn: 0, payloadLength: 0 };
  assert.equal(readFrame(buf, 0, buf.length, info), FrameStatus.Ok);
  assert.equal(info.lsn, lsn);
  return decodeEntry({
    type: info.type,
    buf,
    payloadStart: RECORD_HEADER_SIZE,
    payloadLength: info.payloadLength,
    path: 'mem',
    frameOffset: 0,
  });
}

test('segment headers round-trip and a flipped bit is caught', () => {
  const h = encodeSegmentHeader(42, 1_000_000_007, { baseSeconds: 1_700_000_000 });
  assert.deepEqual(decodeSegmentHeader(h), {
    version: WAL_FORMAT_VERSION,
    segmentNumber: 42,
    firstLsn: 1_000_000_007,
    baseSeconds: 1_700_000_000,
  });
  h[9]! ^= 1;
  assert.equal(decodeSegmentHeader(h), 'checksum');
  assert.equal(decodeSegmentHeader(h.subarray(0, 10)), 'short');
});

test('put, delete, commit and checkpoint marker entries round-trip through a frame', () => {
  assert.deepEqual(roundTrip(new PutEncoder().set('kéy', Buffer.from([1, 2, 3]))), {
    type: 'put',
    key: 'kéy',
    value: Buffer.from([1, 2, 3]),
  });
  assert.deepEqual(roundTrip(new DeleteEncoder().set('gone')), { type: 'delete', key: 'gone' });
  assert.deepEqual(roundTrip(new CommitEncoder(3, { flights: 12345, kafka: 2 ** 40 }, -5)), {
    type: 'commit',
    epoch: 3,
    sourceOffsets: { flights: 12345, kafka: 2 ** 40 },
    watermark: -5,
  });
  assert.deepEqual(roundTrip(new CommitEncoder(0, {}, undefined)), {
    type: 'commit',
    epoch: 0,
    sourceOffsets: {},
    watermark: undefined,
  });
  assert.deepEqual(roundTrip(new CheckpointMarkerEncoder(9, 4, 77)), {
    type: 'checkpoint',
    checkpointId: 9,
    epoch: 4,
    lsn: 77,
  });
});

test('the frame checksum covers the length, type and LSN fields, not only the payload', () => {
  const good = frame(new PutEncoder().set('k', Buffer.from('v')), 5);
  const info = { type: 0, lsn: 0, payloadLength: 0 };
  for (const offset of [4, 8, 12, 19, RECORD_HEADER_SIZE + 1]) {
    const bad = Buffer.from(good);
    bad[offset]! ^= 0x10;
    assert.notEqual(
      readFrame(bad, 0, bad.length, info),
      FrameStatus.Ok,
      `flip at byte ${offset} must be caught`,
    );
  }
});

test('a frame whose length field is over the cap is rejected before anything is allocated', () => {
  const buf = Buffer.alloc(64);
  buf.writeUInt32LE(0xffffffff, 4);
  assert.equal(readFrame(buf, 0, buf.length, { type: 0, lsn: 0, payloadLength: 0 }), FrameStatus.BadLength);
});

test('a commit payload whose source count exceeds the payload is corruption, not a RangeError', () => {
  const enc = new CommitEncoder(1, { a: 1 }, undefined);
  const buf = Buffer.alloc(enc.byteLength);
  enc.encodeInto(buf, 0);
  buf.writeUInt32LE(4000, 17);
  assert.throws(
    () =>
      decodeEntry({ type: 3, buf, payloadStart: 0, payloadLength: buf.length, path: 'mem', frameOffset: 0 }),
    { code: 'TIDEMARK_CORRUPTION' },
  );
});

test('keys over the cap are refused with TIDEMARK_LIMIT', () => {
  assert.throws(() => new PutEncoder().set('x'.repeat(70_000), Buffer.alloc(0)), { code: 'TIDEMARK_LIMIT' });
});
