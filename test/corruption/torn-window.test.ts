// The torn-write window measured from a bad frame's declared end as well as its start, and the
// `.broken` copies every repair keeps of what it cuts off.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BATCH_HEADER_SIZE, PutEncoder, WAL_SYNC_WINDOW_BYTES } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { examineDataDirectory, RecoveryManager } from '../../src/recovery/index.ts';
import { brokenFileName, segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();
const BIG = 3 * 1024 * 1024; // a record larger than the window: written and synced in 1 MiB steps

/**
 * 10 small records, one of BIG bytes, 20 small ones, as a crashed writer leaves them, each in a
 * batch of its own (the unit that is whole or not); batch offsets by LSN.
 */
async function logWithBigRecord(walDir: string): Promise<{ file: string; offsets: number[] }> {
  const wal = await WriteAheadLog.open(await FsDirectory.open(walDir), { cleanShutdown: false });
  const append = (key: string, value: Buffer) => {
    wal.startBatch();
    wal.append(put.set(key, value));
  };
  for (let i = 1; i <= 10; i++) append(`k${i}`, Buffer.alloc(50, i));
  append('big', Buffer.alloc(BIG, 0x5a));
  for (let i = 12; i <= 31; i++) append(`k${i}`, Buffer.alloc(50, i));
  await wal.close();
  const offsets: number[] = [];
  await WalReader.read(await FsDirectory.open(walDir), { fromLsn: 1 }, ({ lsn, batchOffset }) => {
    offsets[lsn] = batchOffset;
  });
  return { file: path.join(walDir, segmentFileName(1)), offsets };
}

test('a record larger than the sync window torn near its end, with valid records just after it, is a torn write (cut), not corruption', async () => {
  const dir = tmpDir('window-big');
  const { file, offsets } = await logWithBigRecord(dir);
  const bytes = fs.readFileSync(file);
  const bigStart = offsets[11]!;
  const bigEnd = offsets[12]!;
  // The last 1 MiB step of the big record was torn: a sector near its end never reached the disk;
  // the small records after it (same last write) did. They start > 1 MiB after the bad frame's
  // start, but within the window of its declared end.
  bytes.fill(0, bigEnd - 1024, bigEnd - 512);
  fs.writeFileSync(file, bytes);
  assert.ok(offsets[12]! - bigStart > WAL_SYNC_WINDOW_BYTES + BATCH_HEADER_SIZE);
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(wal.lastLsn, 10, 'cut before the torn record');
  assert.equal(wal.repairedTail?.offset, bigStart);
  await wal.close();
  // What was cut is kept, byte for byte, in <segment>.broken; listing and verify ignore it.
  const broken = path.join(dir, brokenFileName(segmentFileName(1)));
  assert.deepEqual(fs.readFileSync(broken), bytes.subarray(bigStart));
  assert.equal(
    fs.statSync(file).size > bigStart,
    true,
    'the log continued after the cut (clean-shutdown record)',
  );
});

test("valid records inside a bad frame's declared extent, or beyond the window of its declared end, prove corruption", async () => {
  // (a) a durable header declaring ~15 MiB: a valid record 2 MiB on lies inside that extent.
  const a = tmpDir('window-inside');
  const wal = await WriteAheadLog.open(await FsDirectory.open(a), { cleanShutdown: false });
  for (let i = 1; i <= 40_000; i++) wal.append(put.set(`k${i}`, Buffer.alloc(50, i)));
  await wal.close();
  const file = path.join(a, segmentFileName(1));
  const bytes = fs.readFileSync(file);
  const victim = 32; // record 1
  bytes.writeUInt32LE(15 * 1024 * 1024, victim + 4); // its length field (the CRC now fails)
  fs.writeFileSync(file, bytes);
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(a)), {
    code: 'TIDEMARK_CORRUPTION',
    offset: victim,
  });
  assert.equal(fs.statSync(file).size, bytes.length, 'nothing was cut');

  // (b) the big record's start damaged, and valid records more than the window after its end.
  const b = tmpDir('window-beyond');
  const { file: fileB, offsets } = await logWithBigRecord(b);
  const w = await WriteAheadLog.open(await FsDirectory.open(b), { cleanShutdown: false });
  // (Enough that a whole batch, not only a record, starts more than the window after its end.)
  for (let i = 32; i <= 40_000; i++) w.append(put.set(`k${i}`, Buffer.alloc(50, i)));
  await w.close();
  const bytesB = fs.readFileSync(fileB);
  assert.ok(bytesB.length - offsets[12]! > WAL_SYNC_WINDOW_BYTES + 4096);
  bytesB[offsets[11]! + BATCH_HEADER_SIZE + 100]! ^= 1;
  fs.writeFileSync(fileB, bytesB);
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(b)), {
    code: 'TIDEMARK_CORRUPTION',
    offset: offsets[11],
  });
});

test('every repair keeps what it cuts: a torn header segment and a point-in-time cut leave .broken copies that verify ignores and inspect lists', async () => {
  const dir = path.join(tmpDir('broken'), 'data');
  const s = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 1; i <= 300; i++) s.store.put(`k${i}`, Buffer.from(`v${i}-${'x'.repeat(40)}`));
  await s.close();
  const wal = path.join(dir, 'wal');
  const segments = fs
    .readdirSync(wal)
    .filter((n) => n.endsWith('.log'))
    .sort();
  // Damage in the middle of segment 2: point-in-time ends the log there.
  const victim = path.join(wal, segments[1]!);
  const original = new Map(segments.map((n) => [n, fs.readFileSync(path.join(wal, n))]));
  const bytes = Buffer.from(original.get(segments[1]!)!);
  bytes[200]! ^= 0x10;
  fs.writeFileSync(victim, bytes);
  const pit = await new RecoveryManager({ dir, mode: 'point-in-time' }).open();
  const cut = pit.recovered.stats.walDamage[0]!;
  assert.equal(cut.path, victim);
  await pit.close();
  assert.deepEqual(
    fs.readFileSync(path.join(wal, brokenFileName(segments[1]!))),
    bytes.subarray(cut.offset),
    'the truncated bytes are kept',
  );
  for (const later of segments.slice(2))
    assert.deepEqual(
      fs.readFileSync(path.join(wal, brokenFileName(later))),
      original.get(later),
      `${later} kept`,
    );

  const report = await examineDataDirectory(dir);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.warnings, [], 'verify does not warn about .broken copies');
  assert.deepEqual(
    report.brokenFiles.sort(),
    segments
      .slice(1)
      .map((n) => brokenFileName(n))
      .sort(),
    'inspect lists them',
  );
});
