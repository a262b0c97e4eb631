import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  checkpointName,
  FileSystemCheckpointStore,
  loadCheckpoint,
  loadLatestCheckpoint,
} from '../../src/checkpoint/index.ts';
import { CHECKPOINT_LATEST_POINTER_NAME, CHECKPOINT_MANIFEST_NAME } from '../../src/format/index.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager, WAL_DIR_NAME } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const asObject = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, val]) => [k, Buffer.from(val).toString()]));

test('recovery = latest checkpoint + WAL replay, with source offsets and watermark from the last commit', async () => {
  const dir = tmpDir('rec');
  const a = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 0; i < 100; i++) a.store.put(`k${i}`, v(`v${i}`));
  a.store.commit({ src: 100 }, 1000);
  const first = await a.checkpoint();
  assert.equal(first.lsn, 101);
  for (let i = 0; i < 50; i++) a.store.put(`k${i}`, v(`w${i}`));
  a.store.delete('k99');
  a.store.commit({ src: 150 }, 2000);
  await a.close();

  const b = await new RecoveryManager({ dir }).recover();
  assert.equal(b.stats.checkpointId, first.id);
  assert.equal(b.stats.recordsReplayed, 54); // marker + 50 puts + delete + commit + clean-shutdown
  assert.deepEqual(b.sourceOffsets, { src: 150 });
  assert.equal(b.watermark, 2000);
  assert.equal(b.state.size, 99);
  assert.equal(Buffer.from(b.state.get('k0')!).toString(), 'w0');
  assert.equal(Buffer.from(b.state.get('k60')!).toString(), 'v60');
});

test('checkpoint publish deletes only WAL segments below the oldest retained checkpoint', async () => {
  const dir = tmpDir('retain');
  const s = await new RecoveryManager({ dir, maxRetained: 2, wal: { segmentSizeBytes: 4096 } }).open();
  const results = [];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 200; i++) s.store.put(`k${i}`, v(`r${round}-${i}`));
    results.push(await s.checkpoint());
  }
  const ids = await new FileSystemCheckpointStore(
    await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)),
  ).list();
  assert.deepEqual(ids, [3, 4]);
  assert.ok(s.store.wal.firstLsn <= results[2]!.lsn + 1, 'WAL still reaches back to checkpoint 3');
  assert.ok(
    results.some((r) => r.deletedWalSegments > 0),
    'old segments were deleted',
  );
  await s.close();
});

test('recovery falls back past a corrupt newest checkpoint and still reaches the same state', async () => {
  const dir = tmpDir('fallback');
  const s = await new RecoveryManager({ dir }).open();
  s.store.put('a', v('1'));
  await s.checkpoint();
  s.store.put('b', v('2'));
  await s.checkpoint();
  s.store.put('c', v('3'));
  await s.close();
  const ck2 = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(2));
  const statePath = path.join(ck2, fs.readdirSync(ck2).find((f) => f.startsWith('state.'))!);
  const bytes = fs.readFileSync(statePath);
  bytes[bytes.length - 6]! ^= 1;
  fs.writeFileSync(statePath, bytes);
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, 1);
  assert.equal(r.stats.checkpointsSkipped[0]?.id, 2);
  assert.equal(r.stats.checkpointsSkipped[0]?.code, 'TIDEMARK_CORRUPTION');
  assert.deepEqual(asObject(r.state), { a: '1', b: '2', c: '3' });
});

test('a missing, stale or corrupt latest pointer falls back to the newest valid checkpoint', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir }).open();
  s.store.put('a', v('1'));
  await s.checkpoint();
  s.store.put('a', v('2'));
  await s.checkpoint();
  await s.close();
  const ckdir = await dir.subdirectory(CHECKPOINT_DIR_NAME);
  const store = new FileSystemCheckpointStore(ckdir);
  assert.equal((await loadLatestCheckpoint(store)).pointer, 'ok');
  await ckdir.writeFileAtomic(CHECKPOINT_LATEST_POINTER_NAME, v(`${checkpointName(1)}\n`));
  let latest = await loadLatestCheckpoint(store);
  assert.equal(latest.pointer, 'stale');
  assert.equal(latest.checkpoint?.manifest.id, 2);
  await ckdir.writeFileAtomic(CHECKPOINT_LATEST_POINTER_NAME, v('garbage'));
  assert.equal((await loadLatestCheckpoint(store)).pointer, 'corrupt');
  await ckdir.remove([CHECKPOINT_LATEST_POINTER_NAME]);
  latest = await loadLatestCheckpoint(store);
  assert.equal(latest.pointer, 'missing');
  assert.equal(latest.checkpoint?.manifest.id, 2);
});

test('every single-bit flip of a manifest is detected', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir }).open();
  s.store.put('a', v('1'));
  s.store.commit({ src: 1 }, 5);
  await s.checkpoint();
  await s.close();
  const ckdir = await dir.subdirectory(CHECKPOINT_DIR_NAME);
  const store = new FileSystemCheckpointStore(ckdir);
  const sub = await ckdir.subdirectory(checkpointName(1));
  const name = CHECKPOINT_MANIFEST_NAME;
  const original = await sub.readFile(name, 1 << 20);
  for (let bit = 0; bit < original.length * 8; bit++) {
    const bytes = Uint8Array.from(original);
    bytes[bit >> 3]! ^= 1 << (bit & 7);
    await sub.writeFileAtomic(name, bytes);
    await assert.rejects(
      loadCheckpoint(store, 1),
      (e: { code: string }) => ['TIDEMARK_CORRUPTION', 'TIDEMARK_UNSUPPORTED_VERSION'].includes(e.code),
      `bit ${bit}`,
    );
  }
});

test('transactional recovery drops writes after the last commit and never revives them', async () => {
  const dir = tmpDir('txn');
  const a = await new RecoveryManager({ dir, transactional: true }).open();
  a.store.put('x', v('committed'));
  a.store.commit({ src: 1 });
  a.store.put('x', v('uncommitted'));
  a.store.put('y', v('uncommitted'));
  await a.store.durable();
  await a.close();
  const b = await new RecoveryManager({ dir, transactional: true }).open();
  assert.deepEqual(asObject(b.recovered.state), { x: 'committed' });
  assert.equal(b.recovered.stats.uncommittedDiscarded, 2);
  b.store.put('z', v('new'));
  b.store.commit({ src: 2 });
  await b.close();
  const c = await new RecoveryManager({ dir, transactional: true }).recover();
  assert.deepEqual(asObject(c.state), { x: 'committed', z: 'new' });
  assert.deepEqual(c.sourceOffsets, { src: 2 });
});

test('a WAL that no longer reaches back to the checkpoint fails with TIDEMARK_DATA_LOSS, never a partial start', async () => {
  const dir = tmpDir('loss');
  const s = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 0; i < 300; i++) s.store.put(`k${i}`, v('x'.repeat(50)));
  await s.checkpoint();
  for (let i = 0; i < 300; i++) s.store.put(`k${i}`, v('y'.repeat(50)));
  await s.close();
  const ck = path.join(dir, CHECKPOINT_DIR_NAME);
  for (const f of fs.readdirSync(ck)) fs.rmSync(path.join(ck, f), { recursive: true });
  const walFiles = fs.readdirSync(path.join(dir, WAL_DIR_NAME));
  assert.ok(walFiles.length > 1);
  fs.rmSync(path.join(dir, WAL_DIR_NAME, walFiles.sort()[0]!));
  await assert.rejects(new RecoveryManager({ dir }).open(), { code: 'TIDEMARK_DATA_LOSS' });
});
