// The per-core coordinator writes deltas (changed keys and tombstones since the parent) in bounded
// chains, and recovery materializes base + deltas before replaying each core's log.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  FileSystemCheckpointStore,
  loadLatestCheckpoint,
  PerCoreCheckpointCoordinator,
} from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { recoverPerCore } from '../../src/recovery/index.ts';
import { localParticipant, PerCoreWalManager } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const text = (m: { entries(): Iterable<[string, Uint8Array]> }) =>
  Object.fromEntries([...m.entries()].map(([k, x]) => [k, Buffer.from(x).toString()]).sort());

async function setup(label: string, options: { maxChainLength?: number; maxDeltaRatio?: number } = {}) {
  const dir = tmpDir(label);
  const walRoot = await FsDirectory.open(path.join(dir, 'wal'));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, 'checkpoints')));
  const m = await PerCoreWalManager.open({ dir: walRoot, cores: 2, wal: { segmentSizeBytes: 64 * 1024 } });
  const model = new Map<string, string>();
  const put = (key: string, value: string) => {
    const core = Number(key.slice(1, 2)) % 2;
    m.writer(core).appendPut(key, v(value));
    model.set(key, value);
  };
  const del = (key: string) => {
    m.writer(Number(key.slice(1, 2)) % 2).appendDelete(key);
    model.delete(key);
  };
  const commit = async (row: number) => {
    for (const c of [0, 1]) m.writer(c).appendCommit({ src: row });
    await m.syncAll();
  };
  const coordinator = () =>
    PerCoreCheckpointCoordinator.open({
      store,
      walRoot,
      participants: [0, 1].map((c) => localParticipant(m.writer(c))),
      transactional: true,
      maxRetained: 10,
      ...options,
    });
  const recovered = async () =>
    text((await recoverPerCore({ walRoot, store, cores: 2, transactional: true })).state);
  return { m, store, model, put, del, commit, coordinator, recovered };
}

test('per-core checkpoints after the first write only the changed keys and tombstones, and a chain longer than maxChainLength folds into a fresh base', async () => {
  const t = await setup('per-core-delta', { maxChainLength: 2, maxDeltaRatio: 10 });
  for (let i = 0; i < 500; i++) t.put(`k${i % 2}-${i}`, `v0-${i}-${'x'.repeat(30)}`);
  await t.commit(1);
  const c = await t.coordinator();
  const base = await c.checkpoint();
  assert.equal(base.kind, 'base');
  assert.equal(base.keysWritten, 500);

  t.put('k0-0', 'changed');
  t.put('k1-1', 'changed too');
  t.del('k0-2');
  await t.commit(2);
  const d1 = await c.checkpoint();
  assert.equal(d1.kind, 'delta');
  assert.equal(d1.chainLength, 1);
  assert.equal(d1.keysWritten, 3, 'only what changed since the base');
  assert.equal(d1.tombstones, 1);
  assert.equal(d1.keys, 499);
  assert.ok(d1.stateBytes * 10 < base.stateBytes, `delta ${d1.stateBytes} B vs base ${base.stateBytes} B`);
  const latest = await loadLatestCheckpoint(t.store);
  assert.deepEqual(latest.checkpoint?.chain, [base.id, d1.id]);
  assert.deepEqual(await t.recovered(), Object.fromEntries([...t.model].sort()));

  // A reopened coordinator continues the chain from the latest checkpoint.
  t.put('k1-3', 'after reopen');
  await t.commit(3);
  const d2 = await (await t.coordinator()).checkpoint(d1.epoch + 1);
  assert.deepEqual([d2.kind, d2.chainLength, d2.keysWritten], ['delta', 2, 1]);
  t.put('k0-4', 'third');
  await t.commit(4);
  const fresh = await (await t.coordinator()).checkpoint(d2.epoch + 1);
  assert.equal(fresh.kind, 'base', 'maxChainLength 2 reached: a fresh base');
  assert.equal(fresh.keysWritten, 499);

  t.put('k1-5', 'only in the log');
  await t.commit(5);
  const r = await recoverPerCore({
    walRoot: t.m.walRoot,
    store: t.store,
    cores: 2,
    transactional: true,
  });
  assert.equal(r.checkpointId, fresh.id);
  assert.deepEqual(text(r.state), Object.fromEntries([...t.model].sort()));
  await t.m.close();
});

test('per-core deltas stop once their bytes pass maxDeltaRatio of the base, and incremental: false writes only bases', async () => {
  const t = await setup('per-core-delta-ratio', { maxDeltaRatio: 0.001 });
  for (let i = 0; i < 200; i++) t.put(`k${i % 2}-${i}`, `v-${i}-${'y'.repeat(40)}`);
  await t.commit(1);
  const c = await t.coordinator();
  assert.equal((await c.checkpoint()).kind, 'base');
  t.put('k0-0', 'a');
  await t.commit(2);
  assert.equal((await c.checkpoint()).kind, 'delta');
  t.put('k0-0', 'b');
  await t.commit(3);
  assert.equal((await c.checkpoint()).kind, 'base', 'delta bytes over 0.1 % of the base');
  t.put('k1-1', 'c');
  await t.commit(4);
  assert.equal((await c.checkpoint(undefined, { forceBase: true })).kind, 'base');
  await t.m.close();

  const u = await setup('per-core-no-delta');
  const cu = await PerCoreCheckpointCoordinator.open({
    store: u.store,
    walRoot: u.m.walRoot,
    participants: [0, 1].map((c) => localParticipant(u.m.writer(c))),
    incremental: false,
  });
  u.put('k0-1', 'x');
  await u.commit(1);
  await cu.checkpoint();
  u.put('k0-1', 'y');
  await u.commit(2);
  assert.equal((await cu.checkpoint()).kind, 'base');
  await assert.rejects(
    PerCoreCheckpointCoordinator.open({
      store: u.store,
      walRoot: u.m.walRoot,
      participants: [],
      maxChainLength: 0,
    }),
    (e) => isTidemarkError(e, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  await u.m.close();
});
