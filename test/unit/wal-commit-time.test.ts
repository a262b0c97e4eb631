// The WAL writer's commit times (format version 4): every batch is stamped when it is sealed,
// as ms after its segment's base time. They never go backwards (a clock stepping back, a reopen
// under an earlier clock), and never overflow their u32 field (a segment older than 40 days is
// rotated, or rebased while it holds nothing).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { MAX_SEGMENT_TIME_SPAN_MS, PutEncoder, SEGMENT_BASE_TIME_OFFSET } from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor } from '../helpers/tmp.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 500);
const DAY = 24 * 60 * 60 * 1000;

async function commitTimes(dir: MemoryDirectory): Promise<[number, number | undefined][]> {
  const times: [number, number | undefined][] = [];
  await WalReader.read(dir, { fromLsn: 1 }, (r) => times.push([r.lsn, r.commitTimeMs]));
  return times;
}

async function commit(wal: WriteAheadLog, i: number): Promise<number> {
  const lsn = wal.append(new PutEncoder().set(`k${i}`, payloadFor(i)));
  await wal.flushed(lsn);
  return lsn;
}

test('a clock that steps back, or an earlier clock after a reopen, never makes a commit time go backwards', async () => {
  const dir = new MemoryDirectory();
  let now = T0;
  const clock = () => now;
  const wal = await WriteAheadLog.open(dir, { clock, cleanShutdown: false });
  now = T0 + 800;
  await commit(wal, 1);
  now = T0 + 300; // NTP stepped the clock back
  await commit(wal, 2);
  now = T0 + 1200;
  await commit(wal, 3);
  await wal.close();
  const reopened = await WriteAheadLog.open(dir, { clock: () => T0 - 5000, cleanShutdown: false });
  await commit(reopened, 4);
  await reopened.close();
  assert.deepEqual(await commitTimes(dir), [
    [1, T0 + 800],
    [2, T0 + 800],
    [3, T0 + 1200],
    [4, T0 + 1200],
  ]);
});

test('a segment whose base time is over 40 days old is rotated before a commit time could overflow; an empty one is given a new base', async () => {
  const dir = new MemoryDirectory();
  let now = T0;
  const wal = await WriteAheadLog.open(dir, { clock: () => now, cleanShutdown: false });
  // Empty and idle for 45 days: no second segment (it would hold nothing), a new base instead.
  now = T0 + 45 * DAY;
  await commit(wal, 1);
  assert.equal(wal.segmentList().length, 1);
  const seg1 = Buffer.from(await dir.readFile(segmentFileName(1), 1 << 20));
  assert.equal(seg1.readUInt32LE(SEGMENT_BASE_TIME_OFFSET), Math.floor(now / 1000));
  // Holding records and 41 days old: the next batch starts segment 2.
  now += MAX_SEGMENT_TIME_SPAN_MS + DAY;
  await commit(wal, 2);
  assert.equal(wal.segmentList().length, 2);
  const seg2 = Buffer.from(await dir.readFile(segmentFileName(2), 1 << 20));
  assert.equal(seg2.readUInt32LE(SEGMENT_BASE_TIME_OFFSET), Math.floor(now / 1000));
  await wal.close();
  assert.deepEqual(await commitTimes(dir), [
    [1, T0 + 45 * DAY],
    [2, now],
  ]);
  await assert.rejects(
    WriteAheadLog.open(new MemoryDirectory(), { clock: 42 as unknown as () => number }),
    (err) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
});

test('a clean close of a segment over 40 days old puts its clean-shutdown record in a new segment and names that place, so the log reopens', async () => {
  const dir = new MemoryDirectory();
  let now = T0;
  const wal = await WriteAheadLog.open(dir, { clock: () => now });
  await commit(wal, 1);
  now += MAX_SEGMENT_TIME_SPAN_MS + DAY;
  await wal.close();
  assert.equal(wal.segmentList().length, 2);
  const again = await WriteAheadLog.open(dir, { clock: () => now });
  assert.equal(again.lastLsn, 2);
  assert.equal(again.repairedTail, undefined);
  await again.close();
});
