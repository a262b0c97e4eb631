// Replay straight from the batch bytes (Put/Delete payloads copied into the slab state in place,
// no entry object per record) must rebuild exactly the state that decoding every record does,
// and must keep the torn-tail rule: a damaged last batch ends the replay at the batch before it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CheckpointMarkerEncoder, CommitEncoder, DeleteEncoder, PutEncoder } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { createStateBackend, replayWal, StateReplayer } from '../../src/state/index.ts';
import { readWal, segmentFileName, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const put = new PutEncoder();
const del = new DeleteEncoder();

/** Keys of every shape replay meets: ASCII, multi-byte UTF-8, astral, empty, long. */
function keyOf(i: number): string {
  switch (i % 5) {
    case 0:
      return `k:${i % 97}`;
    case 1:
      return `ключ-${i % 13}`;
    case 2:
      return `\u{1F600}${i % 7}`;
    case 3:
      return i % 11 === 0 ? '' : `a/${'x'.repeat(i % 50)}`;
    default:
      return `key:${String(i % 101).padStart(8, '0')}`;
  }
}

/** A log of mixed records over several segments and many batches; returns its last LSN. */
async function writeMixedLog(dir: string): Promise<number> {
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), {
    cleanShutdown: false,
    preallocateSegments: false,
  });
  let last = 0;
  for (let i = 0; i < 1200; i++) {
    if (i % 7 === 0) wal.startBatch();
    if (i % 5 === 4) last = wal.append(del.set(keyOf(i * 3)));
    else if (i % 97 === 50) last = wal.append(new CheckpointMarkerEncoder(i, i, Math.max(1, last)));
    else if (i % 61 === 30) last = wal.append(new CommitEncoder(i, { src: i }, i * 10));
    else if (i % 13 === 6) last = wal.append(put.set(keyOf(i), Buffer.alloc(0)));
    else last = wal.append(put.set(keyOf(i), payloadFor(i)));
    if (i % 150 === 149) await wal.sealActiveSegment();
    if (i % 40 === 39) await wal.sync();
  }
  await wal.close();
  return last;
}

/** The state every record decoded one by one gives (the reference): key → value, as hex. */
async function decodedState(dir: string, untilLsn?: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const r of readWal(dir, { fromLsn: 1, untilLsn })) {
    if (r.type === 'put') out.set(r.key, Buffer.from(r.value).toString('hex'));
    else if (r.type === 'delete') out.delete(r.key);
  }
  return out;
}

function asMap(state: Iterable<[string, Uint8Array]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of state) out.set(k, Buffer.from(v).toString('hex'));
  return out;
}

function target() {
  return {
    state: createStateBackend('slab'),
    epoch: 0,
    sourceOffsets: {},
    watermark: undefined,
    lastCommitLsn: 0,
  };
}

test('replay from the batch bytes gives the same state, position and counts as decoding every record, on a log of puts, deletes, commits and markers across segments', async () => {
  const dir = tmpDir('batch-replay');
  const lastLsn = await writeMixedLog(dir);
  assert.ok(fs.readdirSync(dir).filter((f) => f.endsWith('.log')).length >= 5, 'several segments');

  // In place: a slab state, not transactional, no record of changed keys.
  const direct = target();
  const directReplayer = new StateReplayer(direct, false);
  const a = await replayWal(await FsDirectory.open(dir), directReplayer, { fromLsn: 1 });
  // Decoded: the same replay with a record of changed keys takes the per-record path.
  const decoded = target();
  const decodedReplayer = new StateReplayer(decoded, false, new Map());
  const b = await replayWal(await FsDirectory.open(dir), decodedReplayer, { fromLsn: 1 });

  const reference = await decodedState(dir);
  assert.ok(reference.size > 100, 'the log leaves a real state');
  assert.deepEqual(asMap(direct.state), reference);
  assert.deepEqual(asMap(decoded.state), reference);
  assert.equal(direct.state.size, reference.size);
  assert.equal(a.lastReplayedLsn, lastLsn);
  assert.equal(b.lastReplayedLsn, lastLsn);
  assert.equal(a.records, b.records);
  assert.equal(a.bytesReplayed, b.bytesReplayed);
  assert.equal(directReplayer.applied, decodedReplayer.applied);
  assert.deepEqual(
    { epoch: direct.epoch, offsets: direct.sourceOffsets, watermark: direct.watermark },
    { epoch: decoded.epoch, offsets: decoded.sourceOffsets, watermark: decoded.watermark },
  );
  assert.ok(direct.epoch > 0 && direct.watermark !== undefined, 'commits and markers were applied');

  // From the middle of the log (as after a checkpoint): batches wholly before it are skipped.
  const from = Math.floor(lastLsn / 2);
  const tail = target();
  const c = await replayWal(await FsDirectory.open(dir), new StateReplayer(tail, false), { fromLsn: from });
  assert.equal(c.records, lastLsn - from + 1);
  const fromMiddle = new Map<string, string>();
  for await (const r of readWal(dir, { fromLsn: from })) {
    if (r.type === 'put') fromMiddle.set(r.key, Buffer.from(r.value).toString('hex'));
    else if (r.type === 'delete') fromMiddle.delete(r.key);
  }
  assert.ok(fromMiddle.size > 0);
  assert.deepEqual(asMap(tail.state), fromMiddle);
});

test('a torn last batch still ends replay from the batch bytes at the batch before it, and nothing of the torn batch is applied', async () => {
  const dir = tmpDir('batch-replay-torn');
  const wal = await WriteAheadLog.open(await FsDirectory.open(dir), {
    cleanShutdown: false,
    preallocateSegments: false,
  });
  // 20 batches of 5 puts; the last batch overwrites keys the earlier ones set.
  for (let b = 0; b < 20; b++) {
    wal.startBatch();
    for (let r = 0; r < 5; r++) wal.append(put.set(`k${(b * 5 + r) % 60}`, payloadFor(b * 5 + r + 1)));
    await wal.sync();
  }
  await wal.close();
  const file = path.join(dir, segmentFileName(1));
  const size = fs.statSync(file).size;
  // Cut the last batch short: the final segment ends in a torn write.
  fs.truncateSync(file, size - 7);

  const t = target();
  const read = await replayWal(await FsDirectory.open(dir), new StateReplayer(t, false), { fromLsn: 1 });
  assert.equal(read.lastReplayedLsn, 95, 'replay stops after the 19th batch');
  assert.equal(read.records, 95);
  assert.ok(read.tornTail !== undefined, 'the torn tail is reported');
  assert.equal(read.tornTail.bytesDropped, size - 7 - read.tornTail.offset);
  assert.deepEqual(asMap(t.state), await decodedState(dir, 95));
  // The torn batch held LSNs 96..100, keys k35..k39: their values are the 19th round's or earlier.
  assert.deepEqual(Buffer.from(t.state.get('k35')!), payloadFor(36));
});
