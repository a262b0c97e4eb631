import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEntry, PutEncoder } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { type RecordInfo, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

async function walWith(records: number): Promise<FsDirectory> {
  const dir = await FsDirectory.open(tmpDir('wal-reader-options'));
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096 });
  const put = new PutEncoder();
  for (let lsn = 1; lsn <= records; lsn++) wal.append(put.set(`k${lsn}`, payloadFor(lsn)));
  await wal.close();
  return dir;
}

test('WalReader.read called the old positional way (dir, fromLsn, visit) is TIDEMARK_INVALID_ARGUMENT, not a read from an undefined LSN', async () => {
  const dir = await walWith(3);
  const seen: number[] = [];
  const visit = (r: Readonly<RecordInfo>) => seen.push(r.lsn);
  const old = WalReader.read as unknown as (...args: unknown[]) => Promise<unknown>;
  await assert.rejects(old(dir, 1, visit), { code: 'TIDEMARK_INVALID_ARGUMENT', argument: 'options' });
  await assert.rejects(old(dir, 1, visit, undefined, undefined, 'salvage'), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
  await assert.rejects(old(dir, {}, visit), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
    argument: 'options.fromLsn',
  });
  await assert.rejects(old(dir, { fromLsn: 0 }, visit), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  await assert.rejects(old(dir, { fromLsn: 1, mode: 'salvge' }, visit), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
    argument: 'options.mode',
  });
  await assert.rejects(old(dir, { fromLsn: 1 }), { code: 'TIDEMARK_INVALID_ARGUMENT', argument: 'visit' });
  assert.deepEqual(seen, [], 'nothing was visited');
});

test('the record object a visit gets is reused for every record of a segment (none allocated per record), carries the segment number and path, and decodes as it is', async () => {
  const dir = await walWith(200);
  const objects = new Set<object>();
  const seen: { lsn: number; segment: number; path: string; key: string }[] = [];
  const stats = await WalReader.read(dir, { fromLsn: 170, untilLsn: 180 }, (record) => {
    objects.add(record);
    const e = decodeEntry(record);
    assert.equal(e.type, 'put');
    seen.push({
      lsn: record.lsn,
      segment: record.segmentNumber,
      path: record.path,
      key: e.type === 'put' ? e.key : '',
    });
  });
  const segments = new Set(seen.map((s) => s.segment)).size;
  assert.ok(segments >= 2, 'the read spans segments');
  assert.equal(objects.size, segments, 'one record object per segment scanned, none per record');
  assert.deepEqual(
    seen.map((s) => s.lsn),
    Array.from({ length: 11 }, (_, i) => 170 + i),
  );
  for (const s of seen) {
    assert.equal(s.key, `k${s.lsn}`);
    assert.ok(s.segment > 1, 'records past the first segment name their segment');
    assert.ok(s.path.startsWith(dir.path) && s.path.endsWith('.log'), `${s.path} is the segment file`);
  }
  // Resuming at the end position continues right after the last record visited.
  const next: number[] = [];
  await WalReader.read(dir, { fromLsn: 181, resumeAt: stats.endPosition }, (r) => next.push(r.lsn));
  // 181..200, then the clean-shutdown record close() ends the log with.
  assert.deepEqual(
    next,
    Array.from({ length: 21 }, (_, i) => 181 + i),
  );
});
