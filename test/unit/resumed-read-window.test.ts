// A read that resumes inside a segment and ends at a known LSN (the incremental checkpointer's
// replay of the records since its last checkpoint, up to the durable LSN) must not read and scan
// the rest of a preallocated segment: that fixed cost dominated a small delta checkpoint.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { decodeEntry, PutEncoder } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { type RecordInfo, segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();
const SEGMENT = 32 * 2 ** 20;

/**
 * A closed log whose final segment ends in zeros up to `SEGMENT` bytes: what a segment the
 * preallocator prepared looks like while records are still being appended to it.
 */
async function preallocatedLog(dir: string, records: number): Promise<void> {
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), {
    segmentSizeBytes: SEGMENT,
    cleanShutdown: false,
  });
  for (let i = 1; i <= records; i++) {
    wal.append(put.set(`k${i}`, payloadFor(i)));
    if (i % 100 === 0) await wal.sync();
  }
  await wal.close();
  fs.truncateSync(path.join(dir, segmentFileName(1)), SEGMENT);
}

test('a resumed read up to an LSN reads the bytes up to the batch holding it, not the rest of a preallocated segment, and visits the same records', async () => {
  const dir = tmpDir('resume-window');
  await preallocatedLog(dir, 2000);
  assert.equal(fs.statSync(path.join(dir, segmentFileName(1))).size, SEGMENT, 'the segment is preallocated');
  const d = await FsDirectory.open(dir);
  const first = await WalReader.read(d, { fromLsn: 1, untilLsn: 1000 }, () => {});
  assert.ok(first.endPosition !== undefined);
  const seen = (into: string[]) => (r: Readonly<RecordInfo>) =>
    into.push(`${r.lsn}@${r.frameOffset}/${r.batchOffset}/${r.nextOffset}:${decodeEntry(r).type}`);
  const resumed: string[] = [];
  const read = await WalReader.read(
    d,
    { fromLsn: 1001, untilLsn: 1500, resumeAt: first.endPosition },
    seen(resumed),
  );
  assert.equal(resumed.length, 500);
  assert.equal(read.lastLsn, 1500);
  assert.ok(read.bytesRead < 2 ** 20, `read ${read.bytesRead} bytes of a ${SEGMENT}-byte segment`);
  assert.equal(read.tornTail, undefined);
  // The same read from the segment's start (no resume) agrees: same records at the same file
  // offsets, and the same position to resume at next.
  const whole: string[] = [];
  const wholeRead = await WalReader.read(d, { fromLsn: 1001, untilLsn: 1500 }, seen(whole));
  assert.deepEqual(resumed, whole);
  assert.deepEqual(read.endPosition, wholeRead.endPosition);
  const next: string[] = [];
  await WalReader.read(d, { fromLsn: 1501, untilLsn: 1900, resumeAt: read.endPosition }, seen(next));
  const nextWhole: string[] = [];
  await WalReader.read(d, { fromLsn: 1501, untilLsn: 1900 }, seen(nextWhole));
  assert.equal(next.length, 400);
  assert.deepEqual(next, nextWhole);
});

test('a resumed read up to an LSN past the end of the log reads the whole rest and ends where the log does', async () => {
  const dir = tmpDir('resume-window-end');
  await preallocatedLog(dir, 300);
  const d = await FsDirectory.open(dir);
  const first = await WalReader.read(d, { fromLsn: 1, untilLsn: 100 }, () => {});
  const resumed: number[] = [];
  const read = await WalReader.read(
    d,
    { fromLsn: 101, untilLsn: 10_000, resumeAt: first.endPosition },
    ({ lsn }) => resumed.push(lsn),
  );
  assert.equal(resumed.length, 200);
  assert.equal(read.lastLsn, 300);
  assert.ok(read.bytesRead > SEGMENT / 2, 'the rest of the file was read');
});

test('damage before the LSN a resumed read ends at is judged as by a whole read: the bounded read is not taken, nothing is skipped', async () => {
  const dir = tmpDir('resume-window-damage');
  await preallocatedLog(dir, 2000);
  const d = await FsDirectory.open(dir);
  const first = await WalReader.read(d, { fromLsn: 1, untilLsn: 1000 }, () => {});
  // Flip a byte inside the batch holding LSN 1200.
  let at = -1;
  await WalReader.read(d, { fromLsn: 1200, untilLsn: 1200 }, (r) => {
    at = r.frameOffset + 8;
  });
  const file = path.join(dir, segmentFileName(1));
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
  const outcome = async (options: Parameters<typeof WalReader.read>[1]) => {
    const visited: number[] = [];
    try {
      const read = await WalReader.read(d, options, ({ lsn }) => visited.push(lsn));
      return { visited, lastLsn: read.lastLsn, torn: read.tornTail?.offset, code: undefined };
    } catch (err) {
      return { visited, lastLsn: undefined, torn: undefined, code: (err as { code?: string }).code };
    }
  };
  const resumed = await outcome({ fromLsn: 1001, untilLsn: 1500, resumeAt: first.endPosition });
  const whole = await outcome({ fromLsn: 1001, untilLsn: 1500 });
  assert.deepEqual(resumed, whole);
  assert.ok(resumed.code === 'TIDEMARK_CORRUPTION' || resumed.torn !== undefined, 'the damage is reported');
  assert.ok(resumed.visited.every((lsn) => lsn < 1200));
});

test('a read up to an LSN that crosses into a preallocated last segment reads that segment only up to the batch holding the LSN, with the same records and damage rules as a whole read', async () => {
  const dir = tmpDir('window-next-segment');
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), {
    segmentSizeBytes: 256 * 1024,
    cleanShutdown: false,
  });
  let lsn = 0;
  while (wal.segmentList().length < 2) {
    lsn = wal.append(put.set(`k${lsn + 1}`, payloadFor(lsn + 1)));
    if (lsn % 100 === 0) await wal.sync();
  }
  const firstOfLast = lsn;
  for (let i = 0; i < 500; i++) {
    lsn = wal.append(put.set(`k${lsn + 1}`, payloadFor(lsn + 1)));
    if (lsn % 100 === 0) await wal.sync();
  }
  await wal.close();
  const last = path.join(dir, segmentFileName(2));
  fs.truncateSync(last, SEGMENT); // what a preallocated segment looks like
  const d = await FsDirectory.open(dir);
  const until = firstOfLast + 300;
  const visited: number[] = [];
  const read = await WalReader.read(d, { fromLsn: firstOfLast - 50, untilLsn: until }, ({ lsn: n }) =>
    visited.push(n),
  );
  assert.equal(visited.length, 351);
  assert.equal(read.lastLsn, until);
  assert.equal(read.tornTail, undefined);
  assert.ok(read.bytesRead < 2 ** 20, `read ${read.bytesRead} bytes, the last segment being ${SEGMENT}`);
  // Unbounded, the same records come out.
  const whole: number[] = [];
  await WalReader.read(d, { fromLsn: firstOfLast - 50 }, ({ lsn: n }) => {
    if (n <= until) whole.push(n);
  });
  assert.deepEqual(visited, whole);
  // Damage before `until` in the last segment is seen exactly as a whole read sees it.
  let at = -1;
  await WalReader.read(d, { fromLsn: firstOfLast + 100, untilLsn: firstOfLast + 100 }, (r) => {
    at = r.frameOffset + 8;
  });
  const fd = fs.openSync(last, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] = b[0]! ^ 0xff;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
  const outcome = async (untilLsn: number | undefined) => {
    const seen: number[] = [];
    try {
      const r = await WalReader.read(d, { fromLsn: firstOfLast - 50, untilLsn }, ({ lsn: n }) => {
        if (n <= until) seen.push(n);
      });
      return { seen, torn: r.tornTail?.offset, code: undefined };
    } catch (err) {
      return { seen, torn: undefined, code: (err as { code?: string }).code };
    }
  };
  const bounded = await outcome(until);
  const unbounded = await outcome(undefined);
  assert.deepEqual(bounded, unbounded);
  assert.ok(bounded.code === 'TIDEMARK_CORRUPTION' || bounded.torn !== undefined, 'the damage is reported');
});
