import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  BATCH_HEADER_SIZE,
  BATCH_RECORD_HEADER_SIZE,
  decodeEntry,
  PutEncoder,
} from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();

/**
 * A log as a crashed writer leaves it: every record durable, no clean-shutdown record or marker.
 * Each record is a batch of its own (as when every append is awaited), so damage hits one record.
 */
async function writeLog(dirPath: string, records: number, segmentSizeBytes = 64 * 1024 * 1024) {
  const wal = await WriteAheadLog.open(await FsDirectory.open(dirPath), {
    segmentSizeBytes,
    cleanShutdown: false,
  });
  for (let lsn = 1; lsn <= records; lsn++) {
    wal.startBatch();
    wal.append(put.set(`k${lsn}`, payloadFor(lsn)));
  }
  await wal.close();
}

async function lsns(dirPath: string): Promise<number[]> {
  const out: number[] = [];
  await WalReader.read(await FsDirectory.open(dirPath), { fromLsn: 1 }, (record) => {
    const { lsn } = record;
    const e = decodeEntry(record);
    if (e.type === 'clean-shutdown') return;
    assert.ok(e.type === 'put' && Buffer.from(e.value).equals(payloadFor(lsn)), `record ${lsn} intact`);
    out.push(lsn);
  });
  return out;
}

test('a torn tail cut at every byte offset of the last record brings back exactly the earlier records, and appends go on', async () => {
  const base = tmpDir('torn');
  const src = path.join(base, 'src');
  await writeLog(src, 5);
  const segment = path.join(src, segmentFileName(1));
  const full = fs.readFileSync(segment);
  const lastLen = BATCH_HEADER_SIZE + BATCH_RECORD_HEADER_SIZE + 4 + `k5`.length + payloadFor(5).length;
  const lastStart = full.length - lastLen;
  for (let cut = lastStart; cut < full.length; cut++) {
    const dir = path.join(base, `cut-${cut}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, segmentFileName(1)), full.subarray(0, cut));
    const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
    assert.equal(wal.lastLsn, 4, `cut at ${cut}`);
    if (cut > lastStart) assert.deepEqual(wal.repairedTail?.offset, lastStart);
    assert.equal(
      fs.statSync(path.join(dir, segmentFileName(1))).size,
      lastStart,
      'tail truncated to the record boundary',
    );
    assert.equal(wal.append(put.set('k5', payloadFor(5))), 5);
    assert.equal(wal.append(put.set('k6', payloadFor(6))), 6);
    await wal.close();
    assert.deepEqual(await lsns(dir), [1, 2, 3, 4, 5, 6]);
    fs.rmSync(dir, { recursive: true });
  }
});

test('a zero-filled tail of the final segment (preallocated space) is the end of the log: nothing is cut and appends go on over it', async () => {
  const dir = tmpDir('zeros');
  await writeLog(dir, 10);
  const segment = path.join(dir, segmentFileName(1));
  fs.appendFileSync(segment, Buffer.alloc(4096));
  const size = fs.statSync(segment).size;
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(wal.lastLsn, 10);
  assert.equal(wal.repairedTail, undefined);
  assert.equal(fs.statSync(segment).size, size, 'nothing cut');
  assert.equal(wal.append(put.set('k11', payloadFor(11))), 11);
  await wal.close();
  assert.deepEqual(await lsns(dir), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

test('one flipped bit in a non-final segment is TIDEMARK_CORRUPTION naming the segment and offset', async () => {
  const dir = tmpDir('flip');
  await writeLog(dir, 200, 4096);
  const victim = path.join(dir, segmentFileName(2));
  const bytes = fs.readFileSync(victim);
  const flipAt = 32 + 30;
  bytes[flipAt]! ^= 0x04;
  fs.writeFileSync(victim, bytes);
  await assert.rejects(lsns(dir), (err: { code: string; path: string; offset: number }) => {
    assert.equal(err.code, 'TIDEMARK_CORRUPTION');
    assert.equal(err.path, victim);
    assert.ok(err.offset <= flipAt && err.offset >= 32, `offset ${err.offset} points at the damaged record`);
    return true;
  });
});

test('damage in the final segment with valid records more than the sync window after it is corruption, never a silent truncation', async () => {
  const dir = tmpDir('mid');
  await writeLog(dir, 12_000); // about 1.3 MiB: records follow the damage beyond WAL_SYNC_WINDOW_BYTES
  const file = path.join(dir, segmentFileName(1));
  const bytes = fs.readFileSync(file);
  bytes[32 + 25]! ^= 0xff; // inside record 1
  fs.writeFileSync(file, bytes);
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(dir)), {
    code: 'TIDEMARK_CORRUPTION',
    path: file,
    offset: 32,
  });
  assert.equal(fs.readFileSync(file).length, bytes.length, 'nothing was cut');
});

test('damage with valid records after it, all within the last sync window, is a torn write: cut, and appends go on there', async () => {
  // A crash can tear an unsynced write sector by sector (a later sector on disk, an earlier one
  // not): valid records after the damage, yet none of them was ever durable.
  const dir = tmpDir('torn-window');
  await writeLog(dir, 12_000);
  const file = path.join(dir, segmentFileName(1));
  const bytes = fs.readFileSync(file);
  const damageAt = bytes.length - 4096;
  bytes.fill(0, damageAt, damageAt + 512); // one torn sector, valid records after it
  fs.writeFileSync(file, bytes);
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.ok(wal.repairedTail, 'the tail was cut');
  assert.ok(wal.repairedTail.offset <= damageAt && damageAt - wal.repairedTail.offset < 400);
  const cutAt = wal.lastLsn;
  assert.ok(cutAt < 12_000 && cutAt > 11_900, `cut after LSN ${cutAt}`);
  wal.append(put.set('after', payloadFor(cutAt + 1)));
  await wal.close();
  const got = await lsns(dir);
  assert.equal(got.length, cutAt + 1);
  assert.equal(got.at(-1), cutAt + 1);
});

test('a missing segment in the middle is corruption naming the gap', async () => {
  const dir = tmpDir('gap');
  await writeLog(dir, 200, 4096);
  fs.rmSync(path.join(dir, segmentFileName(3)));
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(dir)), { code: 'TIDEMARK_CORRUPTION' });
});

test('a final segment whose header never became durable is dropped and the log continues', async () => {
  const dir = tmpDir('hdr');
  await writeLog(dir, 200, 4096);
  const names = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith('wal-'))
    .sort();
  const last = names[names.length - 1]!;
  const number = Number(last.slice(4, 20));
  fs.writeFileSync(path.join(dir, segmentFileName(number + 1)), Buffer.alloc(10));
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(wal.lastLsn, 200);
  assert.ok(!fs.existsSync(path.join(dir, segmentFileName(number + 1))));
  await wal.close();
});
