// Preallocated segments (WalOptions.preallocateSegments): the next segment is a file of zeros
// prepared in the background and renamed into place at rotation, so the final segment's file
// is longer than its data. Zeros after the last record are the end of the log, never damage and
// never a torn tail; anything non-zero there keeps the torn-write rules; leftover prepared files
// are removed at open and ignored by readers and verify.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  BATCH_HEADER_SIZE,
  BATCH_RECORD_HEADER_SIZE,
  decodeEntry,
  PutEncoder,
  WAL_SYNC_WINDOW_BYTES,
} from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { examineDataDirectory } from '../../src/recovery/index.ts';
import { classifyWalFileName, segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { checkWalOptions } from '../../src/wal/wal-options.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();
const PREPARED = 'next-segment.prealloc';

/**
 * Writes records `from..to` to the log in `dirPath` and closes it (cleanly unless `clean` is
 * false), each in a batch of its own (so damage hits one record).
 */
async function writeLog(dirPath: string, from: number, to: number, clean = true): Promise<void> {
  const wal = await WriteAheadLog.open(await FsDirectory.open(dirPath), { cleanShutdown: clean });
  for (let lsn = from; lsn <= to; lsn++) {
    wal.startBatch();
    assert.equal(wal.append(put.set(`k${lsn}`, payloadFor(lsn))), lsn);
  }
  await wal.close();
}

async function lsns(dirPath: string): Promise<number[]> {
  const out: number[] = [];
  await WalReader.read(await FsDirectory.open(dirPath), { fromLsn: 1 }, (record) => {
    const lsn = record.lsn;
    const e = decodeEntry(record);
    if (e.type === 'clean-shutdown') return;
    assert.ok(e.type === 'put' && Buffer.from(e.value).equals(payloadFor(lsn)), `record ${lsn} intact`);
    out.push(lsn);
  });
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Extends `file` with zeros to `bytes`, as a preallocated segment's unused space. */
function zeroTail(file: string, bytes: number): number {
  const dataEnd = fs.statSync(file).size;
  fs.truncateSync(file, bytes);
  return dataEnd;
}

async function waitFor(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a final segment with a preallocated zero tail opens without a torn tail or .broken copy, and appends continue at the data end', async () => {
  const dir = tmpDir('prealloc-tail');
  await writeLog(dir, 1, 20, false);
  const segment = path.join(dir, segmentFileName(1));
  const dataEnd = zeroTail(segment, 256 * 1024);
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(wal.repairedTail, undefined, 'zeros after the data are not a torn tail');
  assert.equal(wal.lastLsn, 20);
  assert.equal(wal.walSize(), dataEnd, 'walSize() counts data, not the preallocated file size');
  for (let lsn = 21; lsn <= 30; lsn++) wal.append(put.set(`k${lsn}`, payloadFor(lsn)));
  await wal.close();
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.endsWith('.broken')),
    [],
    'nothing was cut, so nothing was copied',
  );
  assert.equal(fs.statSync(segment).size, 256 * 1024, 'the zero tail is kept for later appends');
  // The new records were written over the zeros right after the old data, not after the tail.
  const image = fs.readFileSync(segment);
  assert.notEqual(image[dataEnd + 8], 0, 'a record (non-zero type byte) starts at the old data end');
  assert.deepEqual(await lsns(dir), range(1, 30));
  // The clean close's marker names the data end, and the next open agrees (no TIDEMARK_DATA_LOSS).
  const again = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(again.lastLsn, 31, 'the 30 records and the clean-shutdown record');
  await again.close();
});

test('verify (examineDataDirectory) reads a final segment with a zero tail as the end of the log, not damage', async () => {
  const root = tmpDir('prealloc-verify');
  const wal = path.join(root, 'wal');
  fs.mkdirSync(wal);
  await writeLog(wal, 1, 10, false);
  const dataEnd = zeroTail(path.join(wal, segmentFileName(1)), 128 * 1024);
  fs.writeFileSync(path.join(wal, PREPARED), Buffer.alloc(4096));
  const report = await examineDataDirectory(root);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.warnings, [], 'a prepared segment file is not a stray');
  const seg = report.segments[0]!;
  assert.equal(seg.tornTail, undefined);
  assert.equal(seg.sizeBytes, 128 * 1024, 'sizeBytes is the file size');
  assert.equal(seg.endOffset, dataEnd);
  assert.equal(seg.lastLsn, 10);
  assert.equal(classifyWalFileName(PREPARED), 'prealloc');
});

test('a torn write followed by zeros in a preallocated segment is still a torn tail: cut, and only its non-zero bytes are kept in .broken', async () => {
  const dir = tmpDir('prealloc-torn');
  await writeLog(dir, 1, 6, false);
  const segment = path.join(dir, segmentFileName(1));
  const full = fs.readFileSync(segment);
  const lastLen = BATCH_HEADER_SIZE + BATCH_RECORD_HEADER_SIZE + 4 + 'k6'.length + payloadFor(6).length;
  const lastStart = full.length - lastLen;
  // The last batch's first 9 bytes (through part of its record count) reached the disk; the rest
  // of the file is preallocated zeros.
  const torn = Buffer.alloc(512 * 1024);
  full.copy(torn, 0, 0, lastStart + 9);
  fs.writeFileSync(segment, torn);
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(wal.lastLsn, 5);
  assert.equal(wal.repairedTail?.offset, lastStart);
  assert.equal(fs.statSync(segment).size, lastStart, 'cut to the last whole record');
  const broken = fs.readFileSync(path.join(dir, `${segmentFileName(1)}.broken`));
  assert.deepEqual(broken, full.subarray(lastStart, lastStart + 9), 'the cut bytes, without the zero tail');
  wal.append(put.set('k6', payloadFor(6)));
  await wal.close();
  assert.deepEqual(await lsns(dir), range(1, 6));
});

test('non-zero damage after the data of a preallocated segment, with a valid record beyond the sync window, is corruption and nothing is cut', async () => {
  const dir = tmpDir('prealloc-garbage');
  await writeLog(dir, 1, 8, false);
  const segment = path.join(dir, segmentFileName(1));
  const full = fs.readFileSync(segment);
  const lastLen = BATCH_HEADER_SIZE + BATCH_RECORD_HEADER_SIZE + 4 + 'k8'.length + payloadFor(8).length;
  const lastStart = full.length - lastLen;
  const image = Buffer.alloc(lastStart + WAL_SYNC_WINDOW_BYTES * 3);
  full.copy(image, 0, 0, lastStart);
  image.fill(0xee, lastStart, lastStart + 40); // garbage where record 8 was
  full.copy(image, lastStart + WAL_SYNC_WINDOW_BYTES * 2, lastStart); // record 8, far away
  fs.writeFileSync(segment, image);
  await assert.rejects(WriteAheadLog.open(await FsDirectory.open(dir)), {
    code: 'TIDEMARK_CORRUPTION',
    path: segment,
    offset: lastStart,
  });
  assert.equal(fs.statSync(segment).size, image.length, 'nothing was cut');
});

test('a prepared segment file left by a crash (partly or fully written) is removed by the next open and never read as part of the log', async () => {
  for (const bytes of [0, 5000, 64 * 1024]) {
    const dir = tmpDir('prealloc-leftover');
    await writeLog(dir, 1, 5);
    fs.writeFileSync(path.join(dir, PREPARED), Buffer.alloc(bytes));
    assert.deepEqual(await lsns(dir), range(1, 5), 'readers ignore it');
    const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
    assert.equal(fs.existsSync(path.join(dir, PREPARED)), false, `removed (${bytes} bytes)`);
    assert.equal(wal.lastLsn, 6);
    await wal.close();
  }
});

test('a prepared segment renamed into place whose header never became durable (all zeros) is dropped without a .broken copy', async () => {
  const dir = tmpDir('prealloc-no-header');
  await writeLog(dir, 1, 5, false);
  fs.writeFileSync(path.join(dir, segmentFileName(2)), Buffer.alloc(64 * 1024));
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir));
  assert.equal(wal.lastLsn, 5);
  assert.equal(wal.repairedTail?.reason, 'segment header never became durable');
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.endsWith('.broken')),
    [],
    'zeros are not worth a copy',
  );
  wal.append(put.set('k6', payloadFor(6)));
  await wal.close();
  assert.deepEqual(await lsns(dir), range(1, 6));
});

test('rotation takes the segment prepared in the background: the new segment is preallocated, the sealed one is cut to its data, and everything reads back', async () => {
  const dir = tmpDir('prealloc-rotate');
  const segmentSizeBytes = 64 * 1024;
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), { segmentSizeBytes });
  let lsn = 0;
  const value = Buffer.alloc(1000, 7);
  // A quarter of the first segment starts the preparation.
  while (wal.walSize() < segmentSizeBytes / 2) wal.append(put.set(`k${++lsn}`, value));
  await wal.sync();
  const prepared = path.join(dir, PREPARED);
  await waitFor(
    'the prepared segment',
    () => fs.existsSync(prepared) && fs.statSync(prepared).size === segmentSizeBytes,
  );
  await new Promise((r) => setTimeout(r, 100)); // its fdatasync and close
  assert.equal(await wal.sealActiveSegment(), true);
  assert.equal(fs.existsSync(prepared), false, 'renamed into place');
  const sealed = wal.segmentList()[0]!;
  assert.equal(
    fs.statSync(path.join(dir, segmentFileName(1))).size,
    sealed.sizeBytes,
    'sealed segment holds exactly its data',
  );
  assert.equal(
    fs.statSync(path.join(dir, segmentFileName(2))).size,
    segmentSizeBytes,
    'the new segment is the prepared file',
  );
  for (let i = 0; i < 10; i++) wal.append(put.set(`k${++lsn}`, value));
  await wal.close();
  assert.equal(fs.existsSync(prepared), false, 'close leaves no prepared file behind');
  const read: number[] = [];
  await WalReader.read(await FsDirectory.open(dir), { fromLsn: 1 }, (record) => {
    read.push(record.lsn);
  });
  assert.deepEqual(read, range(1, lsn + 1), 'every record and the clean-shutdown record');
  const again = await WriteAheadLog.open(await FsDirectory.open(dir), { segmentSizeBytes });
  assert.equal(again.repairedTail, undefined);
  assert.equal(again.lastLsn, lsn + 1);
  await again.close();
});

test('with preallocateSegments false no segment is ever prepared', async () => {
  const dir = tmpDir('prealloc-off');
  const segmentSizeBytes = 16 * 1024;
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), {
    segmentSizeBytes,
    preallocateSegments: false,
  });
  for (let i = 1; i <= 100; i++) wal.append(put.set(`k${i}`, Buffer.alloc(500, 1)));
  await wal.sync();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.existsSync(path.join(dir, PREPARED)), false);
  await wal.close();
  for (const name of fs.readdirSync(dir).filter((n) => classifyWalFileName(n) === 'segment'))
    assert.ok(fs.statSync(path.join(dir, name)).size <= segmentSizeBytes, `${name} grew by appends only`);
});

test('preallocateSegments that is not a boolean is refused with TIDEMARK_INVALID_ARGUMENT before anything is opened', async () => {
  const dir = tmpDir('prealloc-arg');
  for (const bad of ['yes', 1, null]) {
    await assert.rejects(
      WriteAheadLog.open(await FsDirectory.open(dir), { preallocateSegments: bad as unknown as boolean }),
      { code: 'TIDEMARK_INVALID_ARGUMENT' },
    );
    assert.throws(() => checkWalOptions('wal', { preallocateSegments: bad as unknown as boolean }), {
      code: 'TIDEMARK_INVALID_ARGUMENT',
    });
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created');
});
