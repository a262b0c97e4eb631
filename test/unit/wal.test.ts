import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeleteEncoder, decodeEntry, PutEncoder } from '../../src/format/index.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { type WalPosition, WalReader, WriteAheadLog, walSize } from '../../src/wal/index.ts';
import { FailingSyncDirectory } from '../helpers/failing-directory.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();

async function readAll(dir: Parameters<typeof WalReader.read>[0], from = 1) {
  const out: { lsn: number; key: string; value: Buffer }[] = [];
  await WalReader.read(dir, { fromLsn: from }, (record) => {
    const { lsn } = record;
    const e = decodeEntry(record);
    if (e.type === 'clean-shutdown') return; // close() ends the log with one
    assert.equal(e.type, 'put');
    if (e.type === 'put') out.push({ lsn, key: e.key, value: Buffer.from(e.value) });
  });
  return out;
}

test('append returns consecutive LSNs and sync makes them durable and readable from any LSN', async () => {
  const dir = await FsDirectory.open(tmpDir('wal'));
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096 });
  for (let lsn = 1; lsn <= 300; lsn++) assert.equal(wal.append(put.set(`k${lsn}`, payloadFor(lsn))), lsn);
  assert.equal(wal.durableLsn, 0);
  await wal.sync();
  assert.equal(wal.durableLsn, 300);
  assert.ok(wal.segmentList().length > 5, 'small segments rotate');
  await wal.close();
  const all = await readAll(dir);
  assert.deepEqual(
    all.map((r) => r.lsn),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  for (const r of all) assert.deepEqual(r.value, payloadFor(r.lsn));
  const tail = await readAll(dir, 123);
  assert.equal(tail[0]!.lsn, 123);
  assert.equal(tail.length, 178);
});

test('a group is flushed by time alone, without sync(), within groupCommitDelayMs', async () => {
  const wal = await WriteAheadLog.open(new MemoryDirectory(), { groupCommitDelayMs: 5 });
  const lsn = wal.append(put.set('a', Buffer.from('1')));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(wal.durableLsn, lsn);
  await wal.close();
});

test('one group commit resolves many waiters with a single fdatasync', async () => {
  const wal = await WriteAheadLog.open(new MemoryDirectory(), { groupCommitDelayMs: 1 });
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 100; i++) waits.push(wal.flushed(wal.append(put.set(`k${i}`, Buffer.from('v')))));
  await Promise.all(waits);
  const s = wal.stats();
  assert.equal(s.groupsCommitted, 1);
  assert.equal(s.maxGroupRecords, 100);
  await wal.close();
});

test('a group reaching groupCommitBytes is flushed at once', async () => {
  const wal = await WriteAheadLog.open(new MemoryDirectory(), {
    groupCommitBytes: 1024,
    groupCommitDelayMs: 60_000,
  });
  let lsn = 0;
  for (let i = 0; i < 20; i++) lsn = wal.append(put.set(`k${i}`, Buffer.alloc(100)));
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(wal.durableLsn > 0, 'the first full group is durable without a timer or sync');
  await wal.flushed(lsn).catch(() => {});
  await wal.close();
});

test('truncatePrefix removes only segments wholly below the LSN and walSize shrinks', async () => {
  const dir = await FsDirectory.open(tmpDir('trunc'));
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096 });
  for (let lsn = 1; lsn <= 400; lsn++) wal.append(put.set(`k${lsn}`, payloadFor(lsn)));
  await wal.sync();
  const before = wal.segmentList();
  const sizeBefore = wal.walSize();
  const cut = before[3]!.firstLsn + 1; // inside segment index 3
  const deleted = await wal.truncatePrefix(cut);
  assert.equal(deleted, 3);
  assert.equal(wal.firstLsn, before[3]!.firstLsn);
  assert.ok(wal.walSize() < sizeBefore);
  const remaining = wal.segmentList().length;
  assert.equal(await wal.truncatePrefix(10_000), remaining - 1);
  assert.ok(wal.segmentList().length >= 1, 'the active segment is never deleted');
  await wal.close();
  await assert.rejects(readAll(dir, 1), { code: 'TIDEMARK_DATA_LOSS' });
});

test('a failed fdatasync rejects every waiter, is never retried, and leaves the log read-only', async () => {
  const dir = new FailingSyncDirectory(new MemoryDirectory(), 2); // 1st sync = segment header
  const wal = await WriteAheadLog.open(dir, { groupCommitDelayMs: 1 });
  const a = wal.flushed(wal.append(put.set('a', Buffer.from('1'))));
  const b = wal.flushed(wal.append(put.set('b', Buffer.from('2'))));
  await assert.rejects(a, { code: 'TIDEMARK_IO' });
  await assert.rejects(b, { code: 'TIDEMARK_IO' });
  const syncs = dir.syncCalls;
  assert.throws(() => wal.append(put.set('c', Buffer.from('3'))), { code: 'TIDEMARK_IO' });
  await assert.rejects(wal.sync(), { code: 'TIDEMARK_IO' });
  assert.equal(dir.syncCalls, syncs, 'no fdatasync retried');
  assert.equal(wal.durableLsn, 0);
});

test('a second writer on the same directory fails at once with TIDEMARK_LOCKED', async () => {
  const path = tmpDir('lock');
  const wal = await WriteAheadLog.open(await FsDirectory.open(path));
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(path)), { code: 'TIDEMARK_LOCKED' });
  await wal.close();
  const again = await WriteAheadLog.open(await FsDirectory.open(path));
  await again.close();
});

test('appends past maxBufferedBytes fail with TIDEMARK_BACKPRESSURE instead of growing without bound', async () => {
  const wal = await WriteAheadLog.open(new MemoryDirectory(), {
    groupCommitBytes: 4096,
    maxBufferedBytes: 8192,
    groupCommitDelayMs: 60_000,
  });
  wal.append(put.set('first', Buffer.alloc(5000))); // starts a flush of this group
  assert.throws(
    () => {
      for (let i = 0; i < 10; i++) wal.append(put.set(`k${i}`, Buffer.alloc(1000)));
    },
    { code: 'TIDEMARK_BACKPRESSURE' },
  );
  await wal.sync();
  await wal.close();
});

test('deletes and puts interleave in LSN order', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir);
  wal.append(put.set('a', Buffer.from('1')));
  wal.append(new DeleteEncoder().set('a'));
  await wal.close();
  const types: string[] = [];
  await WalReader.read(dir, { fromLsn: 1 }, (record) => types.push(decodeEntry(record).type));
  assert.deepEqual(types, ['put', 'delete', 'clean-shutdown']);
});

for (const syncMethod of ['o_dsync', 'fdatasync'] as const) {
  test(`syncMethod ${syncMethod} makes groups durable and counts one barrier per group`, async () => {
    const dir = await FsDirectory.open(tmpDir(`sync-${syncMethod}`));
    const wal = await WriteAheadLog.open(dir, { syncMethod, groupCommitDelayMs: 60_000 });
    for (let g = 0; g < 3; g++) {
      for (let i = 0; i < 10; i++) wal.append(put.set(`k${g}-${i}`, payloadFor(i + 1)));
      await wal.sync();
    }
    const s = wal.stats();
    assert.equal(s.groupsCommitted, 3);
    assert.equal(s.syncs, 3);
    assert.equal(s.fdatasyncs, syncMethod === 'fdatasync' ? 3 : 0);
    await wal.close();
    assert.equal((await readAll(dir)).length, 30);
  });
}

test('waiting on an LSN that was never appended rejects with TIDEMARK_INVALID_ARGUMENT', async () => {
  const wal = await WriteAheadLog.open(new MemoryDirectory());
  const lsn = wal.append(put.set('a', Buffer.from('1')));
  await assert.rejects(wal.flushed(lsn + 1), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  await wal.flushed(lsn);
  await wal.close();
});

test('a read resumed at the endPosition of an earlier read visits exactly the records after it, and a stale position is ignored', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096 });
  const put = new PutEncoder();
  for (let i = 1; i <= 300; i++) wal.append(put.set(`k${i}`, payloadFor(i)));
  await wal.close();
  const lsns = async (from: number, until: number, at?: WalPosition) => {
    const seen: number[] = [];
    const stats = await WalReader.read(dir, { fromLsn: from, untilLsn: until, resumeAt: at }, ({ lsn }) =>
      seen.push(lsn),
    );
    return { seen, stats };
  };
  for (const cut of [1, 57, 58, 150, 299]) {
    const first = await lsns(1, cut);
    const end = first.stats.endPosition!;
    assert.equal(end.lsn, cut + 1);
    const resumed = await lsns(cut + 1, 300, end);
    const plain = await lsns(cut + 1, 300);
    assert.deepEqual(resumed.seen, plain.seen, `cut at ${cut}`);
    assert.equal(resumed.seen[0], cut + 1);
    // A position inside a batch resumes at the batch's start: never more than a plain read.
    assert.ok(resumed.stats.bytesRead <= plain.stats.bytesRead, `cut at ${cut}: resuming reads no more`);
  }
  // A position naming the wrong LSN, a missing segment or a mid-frame offset is not trusted.
  const plain = (await lsns(100, 300)).seen;
  for (const bogus of [
    { segment: 1, offset: 32, lsn: 100 },
    { segment: 999, offset: 32, lsn: 100 },
    { segment: 2, offset: 33, lsn: 100 },
  ]) {
    assert.deepEqual((await lsns(100, 300, bogus)).seen, plain, JSON.stringify(bogus));
  }
});

test('walSize(dir) reads from the directory what an open WAL reports from memory', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096 });
  const put = new PutEncoder();
  for (let i = 1; i <= 200; i++) wal.append(put.set(`k${i}`, payloadFor(i)));
  await wal.sync();
  assert.ok(wal.walSize() > 4096);
  assert.equal(await walSize(dir), wal.walSize());
  await wal.close();
});

test('flushed(undefined | NaN | -1 | 1.5) rejects with TIDEMARK_INVALID_ARGUMENT and leaves every other waiter alone', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir, { groupCommitDelayMs: 0 });
  const first = wal.flushed(wal.append(put.set('a', Buffer.from('1'))));
  for (const bad of [undefined, Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, '3'] as unknown as number[])
    await assert.rejects(wal.flushed(bad), { code: 'TIDEMARK_INVALID_ARGUMENT' }, String(bad));
  await first;
  // On an idle log too: nothing parks on a group that never flushes.
  await assert.rejects(wal.flushed(Number.NaN), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  const later = wal.flushed(wal.append(put.set('b', Buffer.from('2'))));
  await later;
  assert.equal(wal.durableLsn, 2);
  await wal.close();
});
