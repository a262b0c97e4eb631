/**
 * One checkpoint replays at most `maxReplayRecords` WAL records past the previous one (default
 * 2^23): the changes it holds are a `Map`, which V8 refuses past 2^24 entries, and a bulk load of
 * 50,000,000 keys outran its checkpoints until one died with "Map maximum size exceeded". A longer
 * backlog is covered by several checkpoints, nothing is lost, and the WAL-bytes trigger stays due.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileSystemCheckpointStore, IncrementalCheckpointManager } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { PutEncoder } from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager, WAL_DIR_NAME } from '../../src/recovery/index.ts';
import { MapStateBackend, StateReplayer } from '../../src/state/index.ts';
import { WriteAheadLog } from '../../src/wal/index.ts';

test('a WAL backlog longer than maxReplayRecords is checkpointed in several consistent steps and recovers exactly', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(await dir.subdirectory(WAL_DIR_NAME), { lock: false });
  const store = new FileSystemCheckpointStore(await dir.subdirectory(CHECKPOINT_DIR_NAME));
  const manager = new IncrementalCheckpointManager({ store, wal, maxReplayRecords: 300 });
  const put = new PutEncoder();
  for (let i = 0; i < 1000; i++) wal.append(put.set(`k${i % 700}`, Buffer.from(`v${i}`)));
  await wal.sync();
  const first = await manager.createCheckpoint(1);
  assert.equal(first.lsn, 300, 'the first checkpoint covers 300 records, not the whole backlog');
  assert.ok(manager.walBytesSinceCheckpoint() > 0, 'what it did not replay still counts as backlog');
  const lsns = [first.lsn];
  while (lsns.at(-1)! < 1000) lsns.push((await manager.createCheckpoint(1)).lsn);
  assert.deepEqual(lsns.slice(0, 3), [300, 600, 900], 'steps of at most 300 records');
  await wal.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.state.size, 700);
  for (let k = 0; k < 700; k++) {
    const last = k + 700 < 1000 ? k + 700 : k;
    assert.equal(Buffer.from(r.state.get(`k${k}`)!).toString(), `v${last}`);
  }
  assert.throws(
    () => new IncrementalCheckpointManager({ store, wal, maxReplayRecords: 0 }),
    (err: unknown) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
});

test("recovery's record of changed keys is given up past its limit instead of failing the replay at V8's Map limit", () => {
  const state = new MapStateBackend();
  const target = { state, epoch: 0, sourceOffsets: {}, watermark: undefined, lastCommitLsn: 0 };
  const replayer = new StateReplayer(target, false, new Map());
  replayer.changedLimit = 5;
  for (let i = 1; i <= 10; i++) replayer.apply(i, { type: 'put', key: `k${i}`, value: Buffer.from(`v${i}`) });
  assert.equal(replayer.changedDropped, true);
  assert.equal(replayer.changed, undefined, 'the record is given up, not grown');
  assert.equal(state.size, 10, 'the state itself is complete');
});
