/**
 * wal-pack, the archive's reversible WAL transform: an archived segment comes back byte for
 * byte — valid records, a torn tail and zero fill included — and damage is TIDEMARK_CORRUPTION,
 * never a segment with recomputed (hence "valid") record checksums over garbage.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTidemarkError } from '../../src/errors.ts';
import {
  CODEC_FRAME_HEADER_SIZE,
  decodeObject,
  encodeObject,
  FrameTransform,
} from '../../src/format/codec.ts';
import { PutEncoder, RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, sealFrame } from '../../src/format/index.ts';
import { packSegment, unpackSegment } from '../../src/format/wal-pack.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

/**
 * A framed (format v2) segment of `records` puts: the transform applies to frames only. Built
 * from the v2 golden fixture's segment header and frames sealed as the v2 writer sealed them.
 */
function segmentBytes(records: number): Buffer {
  const golden = fs.readFileSync(
    fileURLToPath(new URL('../fixtures/golden-wal-v2/wal-0000000000000001.log', import.meta.url)),
  );
  const put = new PutEncoder();
  const parts: Buffer[] = [golden.subarray(0, SEGMENT_HEADER_SIZE)];
  for (let lsn = 1; lsn <= records; lsn++) {
    put.set(`k${lsn}`, payloadFor(lsn));
    const frame = Buffer.alloc(RECORD_HEADER_SIZE + put.byteLength);
    put.encodeInto(frame, RECORD_HEADER_SIZE);
    sealFrame(frame, 0, put.recordType, lsn, put.byteLength);
    parts.push(frame);
  }
  return Buffer.concat(parts);
}

/** A batched (format v3) segment as the writer makes it. */
async function batchedSegmentBytes(records: number): Promise<Buffer> {
  const dir = tmpDir('wal-pack');
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), { lock: false });
  const put = new PutEncoder();
  for (let lsn = 1; lsn <= records; lsn++) wal.append(put.set(`k${lsn}`, payloadFor(lsn)));
  await wal.sync();
  await wal.close();
  const name = fs.readdirSync(dir).find((n) => n.endsWith('.log'))!;
  return fs.readFileSync(path.join(dir, name));
}

test('a batched (v3) segment is archived untransformed and comes back byte for byte', async () => {
  const seg = await batchedSegmentBytes(500);
  assert.equal(packSegment(seg), undefined);
  const enc = await encodeObject(seg, { codec: 'zstd', level: 3 }, { walSegment: true });
  assert.equal(enc.bytes[6], FrameTransform.none);
  assert.ok(Buffer.from(await decodeObject(enc.bytes, 'seg')).equals(seg));
});

test('a packed segment unpacks to exactly its bytes, and the archive frame uses the transform', async () => {
  const seg = segmentBytes(500);
  const packed = packSegment(seg)!;
  assert.ok(packed.length < seg.length, 'record CRCs and LSNs are dropped');
  assert.ok(unpackSegment(packed, 'seg').equals(seg));
  const enc = await encodeObject(seg, { codec: 'zstd', level: 3 }, { walSegment: true });
  assert.equal(enc.bytes[6], FrameTransform.walPack);
  assert.ok(Buffer.from(await decodeObject(enc.bytes, 'seg')).equals(seg));
});

test('a torn tail, a damaged record and zero fill are kept byte for byte, not repaired', async () => {
  const seg = segmentBytes(200);
  const torn = Buffer.concat([seg, Buffer.from([7, 0, 0, 0, 9, 9]), Buffer.alloc(4096)]);
  assert.ok(unpackSegment(packSegment(torn)!, 'seg').equals(torn));
  const damaged = Buffer.from(seg);
  damaged[seg.length >> 1]! ^= 0x40; // inside some record: packing stops before it
  const out = unpackSegment(packSegment(damaged)!, 'seg');
  assert.ok(out.equals(damaged), 'the damaged record still fails its CRC after the round trip');
});

test('a segment with no valid record is not packed', () => {
  assert.equal(packSegment(Buffer.alloc(100)), undefined);
  assert.equal(packSegment(Buffer.alloc(10)), undefined);
});

test('a packed archive frame with a flipped payload byte is TIDEMARK_CORRUPTION', async () => {
  const seg = segmentBytes(300);
  const enc = await encodeObject(seg, { codec: 'lz4', level: 0 }, { walSegment: true });
  const bad = Buffer.from(enc.bytes);
  bad[CODEC_FRAME_HEADER_SIZE + 40]! ^= 0x01;
  await assert.rejects(decodeObject(bad, 'wal/x'), (err: unknown) =>
    isTidemarkError(err, 'TIDEMARK_CORRUPTION'),
  );
  assert.throws(
    () => unpackSegment(Buffer.from('TMWPxxxx'), 'p'),
    (err: unknown) => isTidemarkError(err, 'TIDEMARK_CORRUPTION'),
  );
});
