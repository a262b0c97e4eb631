// WriteAheadLog.appendBorrowed: records written in place from memory the caller owns (Ring 1's
// arena), mixed with records appended by copy, across batch bounds and segment rotations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BATCH_RECORD_HEADER_SIZE,
  decodeEntry,
  PutEncoder,
  RecordType,
  writeBatchRecordHeader,
} from '../../src/format/index.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { type BorrowedRecord, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Lays out Put(key, value) records back to back in one buffer, as Ring 0's arena does. */
function arenaOf(entries: [string, Buffer][], gapEvery = 0): { arena: Buffer; records: BorrowedRecord[] } {
  const arena = Buffer.alloc(4 << 20);
  const put = new PutEncoder();
  const records: BorrowedRecord[] = [];
  let at = 0;
  entries.forEach(([key, value], i) => {
    if (gapEvery > 0 && i % gapEvery === 0) at += 3; // padding between entries: a new run
    put.set(key, value);
    writeBatchRecordHeader(arena, at, RecordType.Put, put.byteLength);
    put.encodeInto(arena, at + BATCH_RECORD_HEADER_SIZE);
    records.push({ buf: arena, start: at, recordType: RecordType.Put, payloadLength: put.byteLength });
    at += BATCH_RECORD_HEADER_SIZE + put.byteLength;
  });
  return { arena, records };
}

async function keysIn(dir: MemoryDirectory | FsDirectory): Promise<string[]> {
  const keys: string[] = [];
  await WalReader.read(dir, { fromLsn: 1 }, (record) => {
    const e = decodeEntry(record);
    if (e.type === 'put') {
      assert.deepEqual(Buffer.from(e.value), valueFor(e.key), e.key);
      keys.push(e.key);
    }
  });
  return keys;
}

const valueFor = (key: string) =>
  Buffer.alloc(20 + ((key.length * 37) % 300), key.charCodeAt(key.length - 1));

test('borrowed records mixed with copied ones, over batch bounds and segment rotations inside one group, read back intact and in order', async () => {
  for (const gapEvery of [0, 1, 7]) {
    const dir = new MemoryDirectory();
    const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 64 * 1024, groupCommitBytes: 64 * 1024 });
    const keys = Array.from({ length: 6000 }, (_, i) => `k${i}`);
    const { records } = arenaOf(
      keys.map((k) => [k, valueFor(k)]),
      gapEvery,
    );
    const put = new PutEncoder();
    const expected: string[] = [];
    records.forEach((r, i) => {
      // Every 13th record is appended by copy in between (a checkpoint marker's path), and the
      // group is synced now and then, so batches start in every position.
      if (i % 13 === 0) {
        const key = `c${i}`;
        wal.append(put.set(key, valueFor(key)));
        expected.push(key);
      }
      wal.appendBorrowed(r);
      expected.push(keys[i]!);
      if (i % 1000 === 999) void wal.sync();
    });
    await wal.close();
    assert.ok(wal.segmentList().length > 10, 'rotations happened inside groups');
    assert.deepEqual(await keysIn(dir), expected, `gap every ${gapEvery}`);
  }
});

test('borrowed records reach a real file through vectored writes (pwritev) intact', async () => {
  const dir = await FsDirectory.open(tmpDir('borrowed-fs'));
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 256 * 1024 });
  const keys = Array.from({ length: 3000 }, (_, i) => `f${i}`);
  const { records } = arenaOf(
    keys.map((k) => [k, valueFor(k)]),
    5,
  );
  for (const r of records) wal.appendBorrowed(r);
  await wal.close();
  assert.deepEqual(await keysIn(dir), keys);
});
