// Record batches (WAL format version 3): a batch is the unit that is whole or not, it names the
// segment it was written into, and the writer packs a group into as few batches as the bound allows.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  BATCH_CRC_OFFSET,
  BATCH_CRC_START,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  BATCH_SEGMENT_OFFSET,
  crc32c,
  MAX_BATCH_RECORDS_BYTES,
  PutEncoder,
  SEGMENT_HEADER_SIZE,
  writeU64,
} from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { examineDataDirectory } from '../../src/recovery/index.ts';
import {
  type RecordInfo,
  scanSegment,
  segmentFileName,
  WalReader,
  WriteAheadLog,
} from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();

async function lsnsIn(dir: string): Promise<number[]> {
  const out: number[] = [];
  await WalReader.read(await FsDirectory.open(dir), { fromLsn: 1 }, ({ lsn }) => out.push(lsn));
  return out;
}

/** Batch offsets of a segment image, with the LSNs of each. */
function batchesOf(buf: Buffer, segmentNumber: number): Map<number, number[]> {
  const batches = new Map<number, number[]>();
  scanSegment(buf, {
    path: 'image',
    segmentNumber,
    final: true,
    visit: (r: Readonly<RecordInfo>) => {
      const list = batches.get(r.batchOffset) ?? [];
      list.push(r.lsn);
      batches.set(r.batchOffset, list);
    },
  });
  return batches;
}

test("a recycled segment's old batches never parse as new records: a batch naming another segment ends the data (a torn tail in the final segment, corruption in a sealed one)", async () => {
  const base = tmpDir('recycled');
  // Log A: segment 1 holds LSNs 1..10, segment 2 starts at LSN 11 and holds one batch.
  const a = path.join(base, 'a');
  const walA = await WriteAheadLog.open(await FsDirectory.open(a), { cleanShutdown: false });
  for (let lsn = 1; lsn <= 10; lsn++) walA.append(put.set(`k${lsn}`, payloadFor(lsn)));
  await walA.sealActiveSegment();
  walA.append(put.set('k11', payloadFor(11)));
  await walA.close();
  // Log B: the bytes a reused file would still hold — valid batches, with exactly the LSNs that
  // would come next (12..20), but written into (an earlier use as) segment 1.
  const b = path.join(base, 'b');
  const walB = await WriteAheadLog.open(await FsDirectory.open(b), {
    cleanShutdown: false,
    initialLsn: 12,
    preallocateSegments: false,
  });
  for (let lsn = 12; lsn <= 20; lsn++) {
    walB.startBatch();
    walB.append(put.set(`k${lsn}`, payloadFor(lsn)));
  }
  await walB.close();
  const seg2 = fs.readFileSync(path.join(a, segmentFileName(2)));
  const dataEnd = seg2.length; // the final segment of a log this small is not preallocated
  const oldSegment = fs.readFileSync(path.join(b, segmentFileName(1)));
  const old = oldSegment.subarray(SEGMENT_HEADER_SIZE);
  const image = Buffer.concat([seg2.subarray(0, dataEnd), old]);
  fs.writeFileSync(path.join(a, segmentFileName(2)), image);

  // Read-only: the old batches are never visited, and they are reported as a torn tail.
  const seen: number[] = [];
  const stats = await WalReader.read(await FsDirectory.open(a), { fromLsn: 1 }, ({ lsn }) => seen.push(lsn));
  assert.deepEqual(
    seen,
    Array.from({ length: 11 }, (_, i) => i + 1),
  );
  assert.equal(stats.tornTail?.offset, dataEnd);
  assert.match(stats.tornTail!.reason, /another segment/);
  // In a sealed segment the same bytes are corruption naming the spot.
  assert.throws(() => scanSegment(image, { path: 'sealed', segmentNumber: 2, final: false }), {
    code: 'TIDEMARK_CORRUPTION',
    offset: dataEnd,
  });
  // Opening cuts them, and appends continue at LSN 12 right after the last batch of segment 2.
  const reopened = await WriteAheadLog.open(await FsDirectory.open(a), { cleanShutdown: false });
  assert.equal(reopened.lastLsn, 11);
  assert.equal(reopened.repairedTail?.offset, dataEnd);
  assert.equal(reopened.append(put.set('k12', payloadFor(12))), 12);
  await reopened.close();
  assert.deepEqual(
    await lsnsIn(a),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );

  // Control: the same old batches relabelled as segment 2 (CRC recomputed) are read as records,
  // so the segment number alone is what kept them out.
  const relabelled = Buffer.from(image);
  for (const at of batchesOf(oldSegment, 1).keys()) {
    const p = at - SEGMENT_HEADER_SIZE + dataEnd;
    writeU64(relabelled, p + BATCH_SEGMENT_OFFSET, 2);
    const end = p + BATCH_HEADER_SIZE + relabelled.readUInt32LE(p + BATCH_LENGTH_OFFSET);
    relabelled.writeUInt32LE(crc32c(relabelled, p + BATCH_CRC_START, end), p + BATCH_CRC_OFFSET);
  }
  const lsns: number[] = [];
  scanSegment(relabelled, { path: 'x', segmentNumber: 2, final: true, visit: ({ lsn }) => lsns.push(lsn) });
  assert.deepEqual(lsns, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
});

test('a group commit is written as one batch (one header and one CRC32C), a single awaited append is a batch of one, and a group over the bound is split at 1 MiB of records', async () => {
  const base = tmpDir('batch-groups');
  const dir = await FsDirectory.open(path.join(base, 'wal'));
  const wal = await WriteAheadLog.open(dir, {
    groupCommitBytes: 8 * 1024 * 1024,
    segmentSizeBytes: 64 << 20,
    preallocateSegments: false,
  });
  for (let i = 1; i <= 100; i++) wal.append(put.set(`k${i}`, payloadFor(i)));
  await wal.sync();
  wal.append(put.set('alone', payloadFor(1)));
  await wal.sync();
  // 3 MiB of 1 KiB records in one group: batches of at most MAX_BATCH_RECORDS_BYTES of records.
  const value = Buffer.alloc(1024, 7);
  for (let i = 0; i < 3 * 1024; i++) wal.append(put.set(`big${i}`, value));
  await wal.sync();
  await wal.close();
  const seg = Buffer.from(await dir.readFile(segmentFileName(1), 1 << 30));
  assert.equal(seg.readUInt16LE(4), 4, 'format version 4 (batches with commit times)');
  const sizes = [...batchesOf(seg, 1).values()].map((l) => l.length);
  assert.deepEqual(sizes.slice(0, 2), [100, 1]);
  const big = sizes.slice(2, -1); // the last is the clean-shutdown record's batch
  assert.equal(
    big.reduce((s, n) => s + n, 0),
    3 * 1024,
  );
  const perBatch = Math.floor(MAX_BATCH_RECORDS_BYTES / (5 + 4 + 'big1000'.length + 1024));
  assert.ok(big.length >= 3 && big.length <= 4, `${big.length} batches for 3 MiB`);
  for (const n of big.slice(0, -1)) assert.ok(n >= perBatch - 2 && n <= perBatch + 2, `${n} records`);
  assert.equal(sizes.at(-1), 1);
  // inspect reports the batches.
  const report = await examineDataDirectory(base);
  const s = report.segments[0]!;
  assert.equal(s.version, 4);
  assert.equal(s.batches, sizes.length);
  assert.equal(s.maxBatchRecords, Math.max(...sizes));
});

test('a batch torn anywhere loses its records only: the batches before it are kept, and the log goes on after the cut', async () => {
  const dir = tmpDir('batch-torn');
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), { cleanShutdown: false });
  for (let i = 1; i <= 30; i++) wal.append(put.set(`k${i}`, payloadFor(i)));
  await wal.sync();
  for (let i = 31; i <= 60; i++) wal.append(put.set(`k${i}`, payloadFor(i)));
  await wal.close();
  const file = path.join(dir, segmentFileName(1));
  const full = fs.readFileSync(file);
  const offsets = [...batchesOf(full, 1).keys()];
  assert.equal(offsets.length, 2);
  const second = offsets[1]!;
  // The shortest cut keeps the batch header's bytes up to its first non-zero one: a tail of
  // zeros is a preallocated file's unused space, not a torn write (and the header's CRC, over a
  // commit time, starts with a zero byte in 1 run of 256).
  let firstNonZero = second;
  while (full[firstNonZero] === 0) firstNonZero++;
  for (const cut of [firstNonZero + 1, second + BATCH_HEADER_SIZE + 3, full.length - 1]) {
    fs.writeFileSync(file, full.subarray(0, cut));
    const w = await WriteAheadLog.open(await FsDirectory.open(dir), { cleanShutdown: false });
    assert.equal(w.lastLsn, 30, `cut at ${cut}`);
    assert.equal(w.repairedTail?.offset, second);
    assert.equal(w.append(put.set('k31', payloadFor(31))), 31);
    await w.close();
    assert.deepEqual(
      await lsnsIn(dir),
      Array.from({ length: 31 }, (_, i) => i + 1),
    );
    for (const n of fs.readdirSync(dir)) if (n.endsWith('.broken')) fs.rmSync(path.join(dir, n));
  }
});
