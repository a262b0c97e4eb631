// A cleanly closed log says so (CleanShutdown record + wal/CLEAN), so a clean log found short is
// data loss, not a torn tail — while a crashed log's torn tail is still cut, before and after a
// clean close/reopen cycle.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTidemarkError } from '../../src/errors.ts';
import { CLEAN_MARKER_FILE_NAME, PutEncoder, RecordType } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { examineDataDirectory, RecoveryManager } from '../../src/recovery/index.ts';
import { CRASH_VARIANTS, FaultInjectingDirectory, SimulatedDisk } from '../../src/testing/index.ts';
import { segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const RECORDS = 500;

/** A data directory of RECORDS puts (about 36 KB of WAL), closed cleanly. */
async function cleanLog(label: string, segmentSizeBytes = 64 * 1024) {
  const dir = path.join(tmpDir(label), 'data');
  // Not preallocated: the final segment's file ends where its data does (the tests cut its end).
  const s = await new RecoveryManager({ dir, wal: { segmentSizeBytes, preallocateSegments: false } }).open();
  // Awaited every 25 puts: batches of 25 records (a batch is the unit a cut can keep or lose).
  for (let i = 1; i <= RECORDS; i++) {
    s.store.put(`k${i}`, Buffer.from(`v${i}-${'x'.repeat(40)}`));
    if (i % 25 === 0) await s.store.durable();
  }
  await s.close();
  const wal = path.join(dir, 'wal');
  /** Each record, with the offset of the batch holding it. */
  const frames: { lsn: number; type: number; segment: number; offset: number }[] = [];
  await WalReader.read(
    await FsDirectory.open(wal),
    { fromLsn: 1 },
    ({ lsn, type, batchOffset, segmentNumber }) =>
      frames.push({ lsn, type, segment: segmentNumber, offset: batchOffset }),
  );
  return { dir, wal, frames };
}

async function refuses(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTidemarkError(err), String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('a cleanly closed log whose final segment lost its last 100 records is refused with TIDEMARK_DATA_LOSS by open, recover and verify, and nothing is cut', async () => {
  const { dir, wal, frames } = await cleanLog('clean-short');
  const last = frames.at(-1)!;
  assert.equal(last.type, RecordType.CleanShutdown, 'close() ended the log with a CleanShutdown record');
  assert.equal(last.lsn, RECORDS + 1);
  assert.ok(fs.existsSync(path.join(wal, CLEAN_MARKER_FILE_NAME)));
  const intact = await examineDataDirectory(dir);
  assert.equal(intact.segments.at(-1)!.recordsByType['clean-shutdown'], 1, 'inspect counts it');
  assert.deepEqual(intact.cleanShutdown?.lsn, RECORDS + 1);
  // Cut the final segment at the start of the batch of the 100th record from the end (a clean
  // batch boundary: without the marker this would be indistinguishable from a shorter log).
  const cutFrame = frames[frames.length - 101]!;
  assert.equal(cutFrame.lsn, RECORDS - 99, 'that record starts a batch');
  assert.equal(cutFrame.segment, last.segment, 'the cut stays inside the final segment');
  const segment = path.join(wal, segmentFileName(last.segment));
  fs.truncateSync(segment, cutFrame.offset);
  const missing = new RegExp(`LSN ${cutFrame.lsn}\\.\\.${RECORDS + 1} are missing`);

  await refuses(new RecoveryManager({ dir }).open(), 'TIDEMARK_DATA_LOSS', missing);
  await refuses(new RecoveryManager({ dir }).recover(), 'TIDEMARK_DATA_LOSS', missing);
  await refuses(new RecoveryManager({ dir, mode: 'absolute-consistency' }).open(), 'TIDEMARK_DATA_LOSS');
  const report = await examineDataDirectory(dir);
  assert.deepEqual(
    report.problems.map((p) => [p.code, p.path, p.offset]),
    [['TIDEMARK_DATA_LOSS', segment, cutFrame.offset]],
    'verify agrees with open',
  );
  assert.equal(fs.statSync(segment).size, cutFrame.offset, 'nothing was cut');
  assert.ok(fs.existsSync(path.join(wal, CLEAN_MARKER_FILE_NAME)), 'the evidence is kept');

  // Salvage reads what is there and reports the shortfall; point-in-time reports it and open() accepts it.
  const salvaged = await new RecoveryManager({ dir, mode: 'salvage' }).recover();
  assert.equal(salvaged.state.size, cutFrame.lsn - 1);
  assert.match(salvaged.stats.walDamage.at(-1)!.reason, missing);
  const pit = await new RecoveryManager({ dir, mode: 'point-in-time' }).open();
  assert.equal(pit.recovered.state.size, cutFrame.lsn - 1);
  assert.match(pit.recovered.stats.walDamage[0]!.reason, missing);
  await pit.close();
  const after = await new RecoveryManager({ dir }).recover();
  assert.equal(after.state.size, cutFrame.lsn - 1, 'the accepted shorter log opens normally from then on');
});

test('a clean log cut anywhere in its last record — the CleanShutdown record included — is refused, never cut as a torn tail', async () => {
  const { dir, wal, frames } = await cleanLog('clean-cut-record', 4096);
  const last = frames.at(-1)!;
  const segment = path.join(wal, segmentFileName(last.segment));
  const full = fs.readFileSync(segment);
  const lastData = frames.at(-2)!;
  for (const cut of [full.length - 1, last.offset + 7, last.offset, lastData.offset + 3]) {
    fs.writeFileSync(segment, full.subarray(0, cut));
    await refuses(new RecoveryManager({ dir }).open(), 'TIDEMARK_DATA_LOSS');
    assert.equal(fs.statSync(segment).size, cut, `nothing cut at ${cut}`);
  }
  // The whole final segment gone (a newer segment number is missing at the end): also data loss.
  fs.writeFileSync(segment, full);
  assert.ok(last.segment > 1);
  fs.renameSync(segment, `${segment}.moved`);
  await refuses(new RecoveryManager({ dir }).open(), 'TIDEMARK_DATA_LOSS');
  fs.renameSync(`${segment}.moved`, segment);
  const ok = await new RecoveryManager({ dir }).open();
  assert.equal(ok.recovered.state.size, RECORDS, 'the intact log opens');
  assert.ok(
    !fs.existsSync(path.join(wal, CLEAN_MARKER_FILE_NAME)),
    'open made the marker stale before any append',
  );
  await ok.close();
});

const CHILD = fileURLToPath(new URL('../helpers/wal-writer-child.ts', import.meta.url));

/** Runs the WAL writer child on `walDir` until it acknowledged `acks` groups, then SIGKILLs it. */
async function killedWriter(walDir: string, acks: number): Promise<{ opened: number; acked: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, walDir, '7'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let opened = -1;
  let acked = 0;
  let seen = 0;
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [what, n] = line.split(' ');
        if (what === 'open') opened = Number(n);
        if (what === 'ack') {
          acked = Number(n);
          if (++seen === acks) child.kill('SIGKILL');
        }
      }
    });
  });
  return { opened, acked };
}

test('a killed writer (no clean close) still has its torn tail cut; and after close → reopen → append → kill, a torn tail is tolerated again', async () => {
  const base = tmpDir('clean-killed');
  const wal = path.join(base, 'wal');
  fs.mkdirSync(wal);
  const garbage = Buffer.alloc(300, 0xab);
  const tornTail = async () => {
    // Garbage right after the last record; a preallocated zero tail, if any, goes first.
    const last = (await examineDataDirectory(base)).segments.at(-1)!;
    fs.truncateSync(last.path, last.endOffset);
    fs.appendFileSync(last.path, garbage);
  };
  const first = await killedWriter(wal, 20);
  assert.ok(!fs.existsSync(path.join(wal, CLEAN_MARKER_FILE_NAME)), 'a killed writer leaves no marker');
  await tornTail();
  const r1 = await new RecoveryManager({ dir: base }).open();
  assert.ok(r1.recovered.lsn >= first.acked, 'every acknowledged record is back');
  assert.equal(r1.recovered.stats.tornTail?.bytesDropped, garbage.length);
  await r1.close(); // clean: record + marker
  assert.ok(fs.existsSync(path.join(wal, CLEAN_MARKER_FILE_NAME)));

  const second = await killedWriter(wal, 20);
  assert.ok(second.opened > first.acked, 'the child continued the cleanly closed log');
  assert.ok(!fs.existsSync(path.join(wal, CLEAN_MARKER_FILE_NAME)), 'reopening made the marker stale');
  await tornTail();
  const r2 = await new RecoveryManager({ dir: base }).open();
  assert.ok(r2.recovered.lsn >= second.acked, 'every acknowledged record is back');
  assert.equal(r2.recovered.stats.tornTail?.bytesDropped, garbage.length, 'the torn tail is tolerated again');
  await r2.close();
});

test('a crash at every disk call of close() and of the next open and append recovers every acknowledged record and is never refused', async () => {
  const disk = new SimulatedDisk();
  const root = FaultInjectingDirectory.root(disk);
  const put = new PutEncoder();
  const wal = await WriteAheadLog.open(root, { segmentSizeBytes: 4096, syncMethod: 'fdatasync' });
  for (let i = 1; i <= 60; i++) wal.append(put.set(`k${i}`, Buffer.alloc(40, i)));
  await wal.sync();
  const acked = wal.durableLsn;
  const images: { at: string; image: SimulatedDisk }[] = [];
  disk.beforeCall = (call) => {
    for (const variant of CRASH_VARIANTS)
      for (const dirOps of ['undo', 'keep'] as const)
        images.push({
          at: `${call.kind} ${call.path} (${variant}, dirOps ${dirOps})`,
          image: disk.crashImage({ variant, dirOps }),
        });
  };
  await wal.close();
  const reopened = await WriteAheadLog.open(root, { segmentSizeBytes: 4096, syncMethod: 'fdatasync' });
  await reopened.flushed(reopened.append(put.set('after', Buffer.alloc(40, 7))));
  await reopened.close();
  disk.beforeCall = undefined;
  assert.ok(images.length > 20, `${images.length} crash images`);
  for (const { at, image } of images) {
    const recovered = await WriteAheadLog.open(FaultInjectingDirectory.root(image)).catch((err: unknown) => {
      assert.fail(`crash before ${at}: ${String(err)}`);
    });
    assert.ok(recovered.lastLsn >= acked, `crash before ${at}: ends at ${recovered.lastLsn} < ${acked}`);
    await recovered.close();
  }
});
