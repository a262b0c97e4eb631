// Files in wal/ that are not exactly segments never block the log (they are reported as
// warnings), a real gap in segment numbers still does, and salvage names each skipped range
// exactly: file, first byte, length.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BATCH_HEADER_SIZE, BATCH_RECORD_HEADER_SIZE, PutEncoder } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { examineDataDirectory, RecoveryManager } from '../../src/recovery/index.ts';
import { classifyWalFileName, segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const STRAYS = [
  'wal-00000000000000001.log.tmp', // 17 digits and a suffix
  'wal-0000000000000001.log.tmp',
  'wal-abc.log',
  'wal-000000000000001.log', // 15 digits
  'wal-00000000000000002.log', // 17 digits
  'wal-0000000000000001.log~',
  '.wal-0000000000000001.log.swp',
  'notes.txt',
];

async function dataDir(label: string): Promise<{ dir: string; wal: string }> {
  const dir = path.join(tmpDir(label), 'data');
  const s = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  // 300 puts: at least 4 segments of 4 KiB (batches pack records tighter than frames did).
  for (let i = 1; i <= 300; i++) s.store.put(`k${i}`, Buffer.from(`v${i}-${'x'.repeat(40)}`));
  await s.close();
  return { dir, wal: path.join(dir, 'wal') };
}

test('files in wal/ that only look like segments are ignored by open and recover, and verify reports each as a warning, not damage', async () => {
  const { dir, wal } = await dataDir('stray');
  for (const name of STRAYS) fs.writeFileSync(path.join(wal, name), 'junk that is not a segment');
  fs.writeFileSync(path.join(wal, `${segmentFileName(1)}.broken`), 'bytes a repair cut off');
  for (const name of STRAYS) assert.equal(classifyWalFileName(name), 'stray', name);
  assert.equal(classifyWalFileName(`${segmentFileName(1)}.broken`), 'broken');
  assert.equal(classifyWalFileName('CLEAN'), 'control');

  assert.equal((await new RecoveryManager({ dir }).recover()).state.size, 300);
  const opened = await new RecoveryManager({ dir }).open();
  assert.equal(opened.recovered.state.size, 300);
  opened.store.put('k301', Buffer.from('more'));
  await opened.close();
  for (const name of STRAYS) assert.ok(fs.existsSync(path.join(wal, name)), `${name} left alone`);

  const report = await examineDataDirectory(dir);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(
    report.warnings.map((w) => path.basename(w.path)).sort(),
    [...STRAYS].sort(),
    'each stray named once; the .broken copy is not a warning',
  );
});

test('a real gap in the segment numbers is refused as TIDEMARK_DATA_LOSS naming the segment after it, and verify reports it', async () => {
  const { dir, wal } = await dataDir('stray-gap');
  const segments = fs
    .readdirSync(wal)
    .filter((n) => classifyWalFileName(n) === 'segment')
    .sort();
  assert.ok(segments.length >= 4);
  fs.rmSync(path.join(wal, segments[2]!));
  await assert.rejects(new RecoveryManager({ dir }).open(), {
    code: 'TIDEMARK_DATA_LOSS',
    path: path.join(wal, segments[3]!),
  });
  const report = await examineDataDirectory(dir);
  assert.ok(report.problems.some((p) => p.code === 'TIDEMARK_DATA_LOSS'));
});

test('salvage names the exact file, first byte and length of each skipped range in a hand-made damaged segment', async () => {
  const base = tmpDir('salvage-offsets');
  const walDir = await FsDirectory.open(base);
  const put = new PutEncoder();
  const wal = await WriteAheadLog.open(walDir, { cleanShutdown: false });
  for (let i = 1; i <= 10; i++) {
    wal.startBatch(); // each record a batch of its own: salvage skips whole batches
    wal.append(put.set(`k${i}`, Buffer.alloc(30 + i, i)));
  }
  await wal.close();
  const file = path.join(base, segmentFileName(1));
  const bytes = fs.readFileSync(file);
  // Batch i starts at 32 + sum of the earlier batches (header 32, record header 5, key length 4, key, value).
  const frameLength = (i: number) =>
    BATCH_HEADER_SIZE + BATCH_RECORD_HEADER_SIZE + 4 + `k${i}`.length + 30 + i;
  const frameAt = (i: number) => {
    let o = 32;
    for (let j = 1; j < i; j++) o += frameLength(j);
    return o;
  };
  bytes[frameAt(3) + BATCH_HEADER_SIZE + 10]! ^= 0x01; // record 3's payload
  bytes.fill(0xee, frameAt(6) + 5, frameAt(8) + 2); // records 6 and 7 overwritten, 8's CRC too
  fs.writeFileSync(file, bytes);

  const seen: number[] = [];
  const read = await WalReader.read(walDir, { fromLsn: 1, mode: 'salvage' }, ({ lsn }) => seen.push(lsn));
  assert.deepEqual(seen, [1, 2, 4, 5, 9, 10]);
  assert.deepEqual(
    read.damage.map((d) => [d.path, d.offset, d.bytesSkipped]),
    [
      [file, frameAt(3), frameLength(3)],
      [file, frameAt(6), frameAt(9) - frameAt(6)],
    ],
  );
  assert.match(read.damage[0]!.reason, /LSNs 3\.\.3 are missing/);
  assert.match(read.damage[1]!.reason, /LSNs 6\.\.8 are missing/);
});
