import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  CheckpointConfig,
  checkpointName,
  FileSystemCheckpointStore,
  loadCheckpoint,
  resolveCheckpointOptions,
  validateCheckpoint,
  validateCheckpointChain,
} from '../../src/checkpoint/index.ts';
import {
  CHECKPOINT_MANIFEST_NAME,
  crc32c,
  decodeManifest,
  encodeManifest,
  maskCrc32c,
  UNCOUNTED_KEYS,
  unmaskCrc32c,
} from '../../src/format/index.ts';
import { type Directory, MemoryDirectory } from '../../src/io/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager, WAL_DIR_NAME } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const asObject = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, val]) => [k, Buffer.from(val).toString()]).sort());

async function checkpointStore(dir: Directory): Promise<FileSystemCheckpointStore> {
  return new FileSystemCheckpointStore(await dir.subdirectory(CHECKPOINT_DIR_NAME));
}

test('a delta writes only the keys changed since its parent, tombstones included, and recovery applies the chain', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir, checkpoint: { maxChainLength: 3 } }).open();
  for (let i = 0; i < 1000; i++) s.store.put(`k${i}`, v(`v${i}`));
  const base = await s.checkpoint();
  assert.equal(base.kind, 'base');
  assert.equal(base.keysWritten, 1000);
  s.store.put('k1', v('changed'));
  s.store.put('k1', v('changed twice'));
  s.store.delete('k2');
  s.store.put('new', v('n'));
  const delta = await s.checkpoint();
  assert.equal(delta.kind, 'delta');
  assert.equal(delta.parentId, base.id);
  assert.equal(delta.chainLength, 1);
  assert.equal(delta.keysWritten, 3, 'k1 (once), k2 (tombstone), new');
  assert.equal(delta.tombstones, 1);
  // The manager holds only the changes, so it cannot tell a new key from an updated one: a
  // delta's key count is left to the chain's load (which counts 1000 below).
  assert.equal(delta.keys, UNCOUNTED_KEYS);
  assert.ok(
    delta.stateBytes * 50 < base.stateBytes,
    `delta ${delta.stateBytes} B vs base ${base.stateBytes} B`,
  );
  s.store.put('after', v('wal only'));
  await s.close();

  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, delta.id);
  assert.equal(r.stats.recordsReplayed, 3, 'marker + the put after the checkpoint + clean-shutdown');
  const state = asObject(r.state);
  assert.equal(state.k1, 'changed twice');
  assert.equal(state.k2, undefined);
  assert.equal(state.new, 'n');
  assert.equal(state.after, 'wal only');
  assert.equal(state.k999, 'v999');
  const loaded = await loadCheckpoint(await checkpointStore(dir), delta.id);
  assert.deepEqual(loaded.chain, [base.id, delta.id]);
  assert.equal(loaded.state.size, 1000, '1000 − k2 + new');
});

test('past maxChainLength deltas the next checkpoint is a fresh base (compaction), and the old chain is pruned', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({
    dir,
    maxRetained: 1,
    checkpoint: { maxChainLength: 2, minRetainedBases: 1 },
  }).open();
  for (let i = 0; i < 100; i++) s.store.put(`k${i}`, v('x'));
  const kinds: string[] = [];
  for (let round = 0; round < 7; round++) {
    s.store.put(`k${round}`, v(`r${round}`));
    kinds.push((await s.checkpoint()).kind);
  }
  assert.deepEqual(kinds, ['base', 'delta', 'delta', 'base', 'delta', 'delta', 'base']);
  // maxRetained 1: the newest checkpoint (a base) is all that is needed.
  assert.deepEqual(await (await checkpointStore(dir)).list(), [7]);
  await s.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(asObject(r.state).k6, 'r6');
  assert.equal(r.state.size, 100);
});

test('a base follows once the deltas outgrow maxDeltaRatio of the base', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({
    dir,
    checkpoint: { maxChainLength: 100, maxDeltaRatio: 0.25 },
  }).open();
  for (let i = 0; i < 100; i++) s.store.put(`k${i}`, v('x'.repeat(20)));
  const kinds: string[] = [];
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < 10; i++) s.store.put(`k${round * 10 + i}`, v('y'.repeat(20)));
    kinds.push((await s.checkpoint()).kind);
  }
  // Each delta is ~10 % of the base: after three of them (30 % > 25 %) comes a base.
  assert.deepEqual(kinds, ['base', 'delta', 'delta', 'delta', 'base', 'delta']);
  await s.close();
});

test('incremental: false writes a base every time', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir, checkpoint: { incremental: false } }).open();
  s.store.put('a', v('1'));
  s.store.put('b', v('1'));
  assert.equal((await s.checkpoint()).kind, 'base');
  s.store.put('a', v('2'));
  assert.equal((await s.checkpoint()).kind, 'base');
  await s.close();
});

test('retention keeps maxRetained recoverable checkpoints and every base and delta their chains need', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({
    dir,
    maxRetained: 2,
    checkpoint: { maxChainLength: 3, minRetainedBases: 1 },
  }).open();
  for (let i = 0; i < 50; i++) s.store.put(`k${i}`, v('x'));
  const store = await checkpointStore(dir);
  const lists: number[][] = [];
  for (let round = 0; round < 6; round++) {
    s.store.put(`k${round}`, v(`r${round}`));
    await s.checkpoint();
    lists.push(await store.list());
  }
  // 1 base, 2-4 deltas on it, 5 base, 6 delta. Keeping 2 recoverable ones keeps their chains.
  assert.deepEqual(lists, [[1], [1, 2], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4, 5], [5, 6]]);
  for (const id of await store.list()) assert.equal((await validateCheckpointChain(store, id)).valid, true);
  await s.close();
});

test('cleanupOrphans removes half-written checkpoint directories and temporary files, and nothing complete', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir }).open();
  s.store.put('a', v('1'));
  await s.checkpoint();
  const ck = await dir.subdirectory(CHECKPOINT_DIR_NAME);
  const half = await ck.subdirectory(checkpointName(9));
  await half.writeFileAtomic('state.base', v('partial'));
  await ck.writeFileAtomic('latest.tmp', v('x'));
  const removed = await s.checkpoints.cleanupOrphans();
  assert.deepEqual(removed.sort(), [checkpointName(9), 'latest.tmp']);
  assert.equal(await (await checkpointStore(dir)).nextId(), 10, 'the removed orphan id is burned');
  assert.deepEqual(await (await checkpointStore(dir)).list(), [1]);
  // A half-written directory still counts for the next id, and so does a removed one (9 was
  // burned before it was removed), so ids never repeat.
  await ck.subdirectory(checkpointName(5));
  s.store.put('b', v('2'));
  assert.equal((await s.checkpoint()).id, 10);
  await s.close();
});

test('operator state round-trips inline and through the sidecar, and is carried forward when not given', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir, checkpoint: { inlineOperatorStateBytes: 16 } }).open();
  s.store.put('a', v('1'));
  const big = new Uint8Array(5000).map((_, i) => i % 251);
  await s.checkpoint({
    operators: { small: v('tiny'), big },
    connectors: { kafka: { offsets: { 'partition-0': '1234' }, epoch: 1, metadata: { topic: 't' } } },
    sinkEpochs: { out: 1 },
    sinkCommitStatuses: { out: { state: 'pending' } },
    sourceWatermarks: { kafka: 99 },
  });
  s.store.put('b', v('2'));
  const second = await s.checkpoint();
  assert.equal(second.kind, 'delta');
  await s.close();
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, second.id);
  assert.equal(Buffer.from(r.operators.get('small')!).toString(), 'tiny');
  assert.deepEqual(r.operators.get('big'), big);
  assert.equal(r.checkpoint?.operators.big?.external, true);
  assert.equal(r.checkpoint?.operators.small?.external, false);
  assert.equal(r.checkpoint?.connectors.kafka?.offsets['partition-0'], '1234');
  assert.deepEqual(r.checkpoint?.sinkCommitStatuses, { out: { state: 'pending' } });
  assert.deepEqual(r.checkpoint?.sourceWatermarks, { kafka: 99 });
});

test('a manifest keeps unknown fields, defaults missing optional ones, and refuses a newer major version', () => {
  const bytes = fs.readFileSync(
    new URL('../fixtures/golden-v2/checkpoint-0000000000000002/manifest.json', import.meta.url),
  );
  const m = decodeManifest(bytes, 'golden') as unknown as Record<string, unknown>;
  const { crc32c: _c, ...plain } = JSON.parse(bytes.toString()) as Record<string, unknown>;

  const withUnknown = encodeManifest({ ...plain, futureField: { x: 1 } } as never);
  assert.deepEqual((decodeManifest(withUnknown, 't') as unknown as Record<string, unknown>).futureField, {
    x: 1,
  });

  const {
    connectors: _a,
    operators: _b,
    sinkEpochs: _d,
    sourceWatermarks: _e,
    perCoreWalPositions: _f,
    ...bare
  } = plain;
  const defaulted = decodeManifest(encodeManifest(bare as never), 't');
  assert.deepEqual(defaulted.connectors, {});
  assert.deepEqual(defaulted.operators, {});
  assert.deepEqual(defaulted.perCoreWalPositions, {});
  assert.deepEqual(defaulted.sourceWatermarks, {});
  assert.equal(defaulted.kind, m.kind);

  assert.throws(() => decodeManifest(encodeManifest({ ...plain, version: 3 } as never), 'newer'), {
    code: 'TIDEMARK_UNSUPPORTED_VERSION',
  });
  const { walPosition: _w, ...noRequired } = plain;
  assert.throws(() => decodeManifest(encodeManifest(noRequired as never), 'broken'), {
    code: 'TIDEMARK_CORRUPTION',
  });
});

test('every single-bit flip of every file of a chain (manifests, base, delta, sidecar) is detected by validation', async () => {
  const dir = new MemoryDirectory();
  const s = await new RecoveryManager({ dir, checkpoint: { inlineOperatorStateBytes: 4 } }).open();
  for (let i = 0; i < 5; i++) s.store.put(`k${i}`, v(`v${i}`));
  await s.checkpoint({ operators: { op: v('operator-state') } });
  s.store.put('k1', v('x'));
  s.store.delete('k2');
  const delta = await s.checkpoint();
  assert.equal(delta.kind, 'delta');
  await s.close();
  const store = await checkpointStore(dir);
  assert.equal((await validateCheckpointChain(store, 2)).valid, true);
  const ck = await dir.subdirectory(CHECKPOINT_DIR_NAME);
  let flips = 0;
  for (const id of [1, 2]) {
    const sub = await ck.subdirectory(checkpointName(id));
    for (const name of await sub.list()) {
      const original = await sub.readFile(name, 1 << 20);
      for (let bit = 0; bit < original.length * 8; bit++) {
        const bytes = Uint8Array.from(original);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        await sub.writeFileAtomic(name, bytes);
        // The checkpoint owning the file fails; so does the delta when the file is one it depends on.
        const owner = await validateCheckpointChain(store, id);
        assert.equal(owner.valid, false, `${checkpointName(id)}/${name} bit ${bit}`);
        assert.ok(
          owner.problems.every((p) =>
            ['TIDEMARK_CORRUPTION', 'TIDEMARK_UNSUPPORTED_VERSION'].includes(p.code),
          ),
        );
        if (name !== 'operators.bin') assert.equal((await validateCheckpointChain(store, 2)).valid, false);
        flips++;
      }
      await sub.writeFileAtomic(name, original);
    }
  }
  assert.ok(flips > 5000, `${flips} flips`);
  assert.equal((await validateCheckpointChain(store, 2)).valid, true);
});

test('validateCheckpoint(dir) on disk reports a truncated file, a missing file and a missing parent with paths', async () => {
  const dir = tmpDir('validate');
  const s = await new RecoveryManager({ dir }).open();
  for (let i = 0; i < 20; i++) s.store.put(`k${i}`, v('x'));
  await s.checkpoint();
  s.store.put('k0', v('y'));
  await s.checkpoint();
  await s.close();
  const ck = path.join(dir, CHECKPOINT_DIR_NAME);
  const c1 = path.join(ck, checkpointName(1));
  const c2 = path.join(ck, checkpointName(2));
  assert.equal((await validateCheckpoint(c2)).valid, true);

  const base = path.join(c1, 'state.base');
  const baseBytes = fs.readFileSync(base);
  fs.writeFileSync(base, baseBytes.subarray(0, baseBytes.length - 3));
  let r = await validateCheckpoint(c2);
  assert.equal(r.valid, false);
  assert.deepEqual(r.chain, [1, 2]);
  assert.equal(r.problems[0]?.checkpointId, 1);
  assert.equal(r.problems[0]?.path, base);
  assert.equal(r.problems[0]?.offset, baseBytes.length - 3);

  fs.rmSync(base);
  r = await validateCheckpoint(c2);
  assert.match(r.problems[0]!.message, /missing/);

  fs.rmSync(c1, { recursive: true });
  r = await validateCheckpoint(c2);
  assert.equal(r.valid, false);
  assert.match(r.problems[0]!.message, /parent checkpoint 1 is missing|does not exist/);
  await assert.rejects(validateCheckpoint(path.join(dir, WAL_DIR_NAME)), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
});

test('recoverLatestValidated walks back past an invalid delta and says why; with nothing valid and a truncated WAL it refuses', async () => {
  const dir = tmpDir('walkback');
  const s = await new RecoveryManager({ dir, maxRetained: 3, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 0; i < 100; i++) s.store.put(`k${i}`, v('x'.repeat(40)));
  await s.checkpoint();
  s.store.put('k1', v('one'));
  await s.checkpoint();
  s.store.put('k2', v('two'));
  await s.checkpoint();
  s.store.put('k3', v('three'));
  await s.close();
  const ck = path.join(dir, CHECKPOINT_DIR_NAME);
  const delta3 = path.join(ck, checkpointName(3), 'state.delta');
  const b = fs.readFileSync(delta3);
  b[20]! ^= 0x10;
  fs.writeFileSync(delta3, b);
  const r = await new RecoveryManager({ dir }).recoverLatestValidated();
  assert.equal(r.stats.checkpointId, 2);
  assert.equal(r.stats.checkpointsSkipped[0]?.id, 3);
  assert.equal(r.stats.checkpointsSkipped[0]?.code, 'TIDEMARK_CORRUPTION');
  const state = asObject(r.state);
  assert.deepEqual(
    [state.k1, state.k2, state.k3],
    ['one', 'two', 'three'],
    'the WAL still covers from checkpoint 2',
  );

  // Break the base: every checkpoint depends on it, and the WAL no longer starts at LSN 1.
  const base = path.join(ck, checkpointName(1), 'state.base');
  const bb = fs.readFileSync(base);
  bb[30]! ^= 1;
  fs.writeFileSync(base, bb);
  await assert.rejects(
    new RecoveryManager({ dir }).recoverLatestValidated(),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, 'TIDEMARK_DATA_LOSS');
      assert.match(e.message, /no valid checkpoint is left/);
      return true;
    },
  );
  await assert.rejects(new RecoveryManager({ dir }).open(), { code: 'TIDEMARK_DATA_LOSS' });
});

test('checkpoint options are checked, and the config builder is immutable', () => {
  assert.throws(() => resolveCheckpointOptions({ maxChainLength: 0 }), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  assert.throws(() => resolveCheckpointOptions({ maxDeltaRatio: -1 }), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  const a = new CheckpointConfig('/data/checkpoints');
  const b = a.withWalPath('/data/wal').withIntervalMs(60_000).withMaxRetained(3);
  assert.equal(a.options.maxRetained, 2);
  assert.equal(b.options.maxRetained, 3);
  assert.equal(b.options.intervalMs, 60_000);
  assert.equal(b.walDir, '/data/wal');
});

test('state file trailers are masked, so a whole-file checksum tells files apart', () => {
  for (const x of [0, 1, 0xffffffff, 0x12345678, 0xdeadbeef]) assert.equal(unmaskCrc32c(maskCrc32c(x)), x);
  const a = v('checkpoint a');
  const b = v('checkpoint b');
  const withPlain = (m: Buffer) => Buffer.concat([m, Buffer.from(new Uint32Array([crc32c(m)]).buffer)]);
  assert.equal(crc32c(withPlain(a)), crc32c(withPlain(b)), 'the residue property that masking avoids');
  const withMasked = (m: Buffer) =>
    Buffer.concat([m, Buffer.from(new Uint32Array([maskCrc32c(crc32c(m))]).buffer)]);
  assert.notEqual(crc32c(withMasked(a)), crc32c(withMasked(b)));
});

test('a checkpoint directory in the retired flat layout is refused with TIDEMARK_UNSUPPORTED_VERSION', async () => {
  const dir = new MemoryDirectory();
  const ck = await dir.subdirectory(CHECKPOINT_DIR_NAME);
  await ck.writeFileAtomic('checkpoint-0000000000000001.manifest.json', v('{}'));
  await assert.rejects(new RecoveryManager({ dir }).recover(), { code: 'TIDEMARK_UNSUPPORTED_VERSION' });
  assert.equal(CHECKPOINT_MANIFEST_NAME, 'manifest.json');
});
