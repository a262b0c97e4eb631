/**
 * Local checkpoint files compressed (`checkpoint.compression`): both engines write framed state
 * files whose manifest entries name codec and uncompressed size, recover exactly from them
 * (streaming base merges included), and report damage as `TIDEMARK_CORRUPTION` naming the file
 * and offset — never decompressed garbage.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  checkpointName,
  FileSystemCheckpointStore,
  loadLatestCheckpoint,
  validateCheckpoint,
} from '../../src/checkpoint/index.ts';
import { runInspect } from '../../src/cli/inspect.ts';
import { runVerify } from '../../src/cli/verify.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { decodeManifest, encodeManifest } from '../../src/format/checkpoint-manifest.ts';
import { isCodecFrame } from '../../src/format/codec.ts';
import { Codecs } from '../../src/io/codecs.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager } from '../../src/recovery/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const v = (s: string) => Buffer.from(s);
const asObject = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, val]) => [k, Buffer.from(val).toString()]));
/** A compressible value. */
const value = (round: number, i: number) => v(`round ${round} value of key ${i} `.repeat(4));

async function localStore(dir: string): Promise<FileSystemCheckpointStore> {
  return new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)));
}

/** Path of the state file of checkpoint `id` in data directory `dir`. */
function stateFileOf(dir: string, id: number): string {
  const ck = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(id));
  return path.join(ck, fs.readdirSync(ck).find((f) => f.startsWith('state.'))!);
}

for (const codec of ['zstd', 'lz4'] as const) {
  test(`RecoveryManager with ${codec}-compressed local checkpoints (bases, deltas, merged bases) recovers the exact state`, async () => {
    const dir = tmpDir(`lcomp-rm-${codec}`);
    const expected = new Map<string, Uint8Array>();
    const s = await new RecoveryManager({
      dir,
      maxRetained: 3,
      checkpoint: { compression: codec, maxChainLength: 2 },
    }).open();
    for (let round = 1; round <= 5; round++) {
      // Round 1 writes every key (a base); later rounds change a few (deltas, then a merged base).
      const keys = round === 1 ? 400 : 20;
      for (let i = 0; i < keys; i++) {
        s.store.put(`k${(i * round) % 400}`, value(round, i));
        expected.set(`k${(i * round) % 400}`, value(round, i));
      }
      s.store.delete(`k${round}`);
      expected.delete(`k${round}`);
      await s.checkpoint();
    }
    s.store.put('after', v('the last checkpoint'));
    expected.set('after', v('the last checkpoint'));
    await s.close();

    const store = await localStore(dir);
    const ids = await store.list();
    const kinds = new Set<string>();
    for (const id of ids) {
      const m = await store.loadManifest(id);
      kinds.add(m.kind);
      const state = m.files.find((f) => f.role === m.kind)!;
      assert.equal(state.codec, codec, `checkpoint ${id} names its codec`);
      assert.ok(state.uncompressedBytes! > state.sizeBytes, 'compressed files are smaller');
      assert.ok(isCodecFrame(fs.readFileSync(stateFileOf(dir, id))), 'the stored file is a frame');
      const validation = await validateCheckpoint(path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(id)));
      assert.deepEqual(validation.problems, [], `checkpoint ${id} validates`);
    }
    assert.deepEqual([...kinds].sort(), ['base', 'delta'], `ids ${ids.join(',')}`);
    // The newest base came from a streaming merge of the compressed chain (maxChainLength 2).
    assert.ok((await store.loadManifest(ids.at(-1)!)).baseId > 1, 'a base was merged from the chain');

    const r = await new RecoveryManager({ dir }).recover();
    assert.equal(r.stats.checkpointId, ids.at(-1));
    assert.deepEqual(r.stats.checkpointsSkipped, []);
    assert.deepEqual(asObject(r.state), asObject(expected));
  });

  test(`openChangelogAwareStore with ${codec}-compressed local checkpoints recovers the exact state through both engines`, async () => {
    const dir = tmpDir(`lcomp-pipe-${codec}`);
    const { store } = await openChangelogAwareStore({
      dir,
      transactional: true,
      checkpoint: { compression: { codec, ...(codec === 'zstd' ? { level: 5 } : {}) }, maxChainLength: 1 },
    });
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < (round === 1 ? 300 : 10); i++) store.put(`k${i * round}`, value(round, i));
      store.commit({ src: round });
      await store.checkpoint();
    }
    const expected = asObject(store.entries());
    await store.close();

    const local = await localStore(dir);
    for (const id of await local.list()) {
      const m = await local.loadManifest(id);
      assert.equal(m.files.find((f) => f.role === m.kind)!.codec, codec);
    }
    const viaRecovery = await new RecoveryManager({ dir }).recover();
    assert.deepEqual(viaRecovery.stats.checkpointsSkipped, []);
    assert.deepEqual(asObject(viaRecovery.state), expected);
    const again = await openChangelogAwareStore({ dir, checkpoint: { compression: codec } });
    assert.deepEqual(asObject(again.recovered.state), expected);
    for (let i = 0; i < 50; i++) again.store.put(`later${i}`, value(9, i));
    await again.store.flushed(again.store.lastSequenceNumber);
    const withLater = asObject(again.store.entries());
    await again.store.close();

    // The checkpoint written on open (a long replay) is compressed too.
    const third = await openChangelogAwareStore({
      dir,
      checkpoint: { compression: codec, recoveryCheckpointRecords: 10 },
    });
    const onOpen = third.recoveryCheckpoint;
    assert.ok(onOpen, 'a checkpoint was written on open');
    await third.store.close();
    const m = await local.loadManifest(onOpen.id);
    assert.equal(m.files.find((f) => f.role === m.kind)!.codec, codec);
    const last = await new RecoveryManager({ dir }).recover();
    assert.equal(last.stats.checkpointId, onOpen.id);
    assert.deepEqual(asObject(last.state), withLater);
  });
}

/** A data directory with two zstd-compressed checkpoints (ids 1, 2) and WAL after both. */
async function twoCompressedCheckpoints(
  label: string,
): Promise<{ dir: string; expected: Record<string, string> }> {
  const dir = tmpDir(label);
  const s = await new RecoveryManager({
    dir,
    checkpoint: { compression: 'zstd', incremental: false },
  }).open();
  for (let i = 0; i < 200; i++) s.store.put(`k${i}`, value(1, i));
  await s.checkpoint();
  for (let i = 0; i < 200; i += 2) s.store.put(`k${i}`, value(2, i));
  await s.checkpoint();
  s.store.put('tail', v('after both'));
  const expected = asObject(s.store.entries());
  await s.close();
  return { dir, expected };
}

test('a flipped byte in a compressed local state file is TIDEMARK_CORRUPTION naming the file, and recovery falls back to the older checkpoint with the exact state', async () => {
  const { dir, expected } = await twoCompressedCheckpoints('lcomp-flip');
  const file = stateFileOf(dir, 2);
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
  fs.writeFileSync(file, bytes);

  const store = await localStore(dir);
  const m = await store.loadManifest(2);
  await assert.rejects(store.readFile(m, m.files[0]!), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_CORRUPTION'), String(err));
    assert.equal(err.path, `${store.location}/${checkpointName(2)}/state.base`);
    assert.equal(typeof err.offset, 'number');
    return true;
  });
  const validation = await validateCheckpoint(path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(2)));
  assert.equal(validation.valid, false);
  assert.equal(validation.problems[0]?.code, 'TIDEMARK_CORRUPTION');

  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, 1);
  assert.equal(r.stats.checkpointsSkipped[0]?.id, 2);
  assert.equal(r.stats.checkpointsSkipped[0]?.code, 'TIDEMARK_CORRUPTION');
  assert.deepEqual(asObject(r.state), expected);
});

test('a compressed local file whose frame decompresses to another length than the manifest says is TIDEMARK_CORRUPTION at the length field', async () => {
  const { dir } = await twoCompressedCheckpoints('lcomp-length');
  const manifestPath = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(2), 'manifest.json');
  const m = decodeManifest(fs.readFileSync(manifestPath), manifestPath);
  m.files[0]!.uncompressedBytes! += 1;
  fs.writeFileSync(manifestPath, encodeManifest(m));
  const store = await localStore(dir);
  const loaded = await store.loadManifest(2);
  await assert.rejects(
    store.readFile(loaded, loaded.files[0]!),
    (err: unknown) => isTidemarkError(err, 'TIDEMARK_CORRUPTION') && err.offset === 8,
  );
  // The streamed read (base merges) checks the same before handing out a chunk.
  const chunks = store.readFileChunks(loaded, loaded.files[0]!, 1024);
  await assert.rejects(chunks.next(), { code: 'TIDEMARK_CORRUPTION' });
});

test('reading a zstd-compressed local checkpoint without zstd-napi is TIDEMARK_MISSING_DEPENDENCY, not corruption', async () => {
  const { dir } = await twoCompressedCheckpoints('lcomp-missing');
  const without = new Codecs({
    loaders: {
      zstd: async () => {
        throw Object.assign(new Error("Cannot find package 'zstd-napi'"), { code: 'ERR_MODULE_NOT_FOUND' });
      },
    },
  });
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)), {
    codecs: without,
  });
  const m = await store.loadManifest(2);
  await assert.rejects(store.readFile(m, m.files[0]!), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_MISSING_DEPENDENCY'), String(err));
    assert.match(err.message, /zstd-napi/);
    return true;
  });
  // Recovery does not fall back past it as if it were damaged (that would drop what it holds).
  await assert.rejects(loadLatestCheckpoint(store), { code: 'TIDEMARK_MISSING_DEPENDENCY' });
});

test('plain local checkpoints stay readable after compression is turned on, and the new ones are framed', async () => {
  const dir = tmpDir('lcomp-mixed');
  const plain = await new RecoveryManager({ dir, checkpoint: { maxChainLength: 4 } }).open();
  for (let i = 0; i < 100; i++) plain.store.put(`k${i}`, value(1, i));
  await plain.checkpoint();
  await plain.close();
  const s = await new RecoveryManager({ dir, checkpoint: { compression: 'lz4', maxChainLength: 4 } }).open();
  for (let i = 0; i < 10; i++) s.store.put(`k${i}`, value(2, i));
  await s.checkpoint();
  const expected = asObject(s.store.entries());
  await s.close();
  const store = await localStore(dir);
  const [first, second] = await Promise.all([store.loadManifest(1), store.loadManifest(2)]);
  assert.equal(first.files[0]!.codec, undefined, 'written plain, no codec fields');
  assert.equal(second.kind, 'delta');
  assert.equal(second.files[0]!.codec, 'lz4');
  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, 2);
  assert.deepEqual(asObject(r.state), expected);
});

test('a malformed checkpoint.compression is TIDEMARK_INVALID_ARGUMENT before the data directory is touched', async () => {
  const dir = path.join(tmpDir('lcomp-bad'), 'data');
  for (const compression of ['gzip', { codec: 'zstd', level: 99 }, 3]) {
    const checkpoint = { compression } as never;
    assert.throws(() => new RecoveryManager({ dir, checkpoint }), { code: 'TIDEMARK_INVALID_ARGUMENT' });
    await assert.rejects(async () => openChangelogAwareStore({ dir, checkpoint }), {
      code: 'TIDEMARK_INVALID_ARGUMENT',
    });
    assert.throws(() => new FileSystemCheckpointStore(new MemoryDirectory(), { compression } as never), {
      code: 'TIDEMARK_INVALID_ARGUMENT',
    });
  }
  assert.equal(fs.existsSync(dir), false);
});

test('tidemark verify reports the codec and stored against uncompressed bytes of local checkpoint files', async () => {
  const { dir } = await twoCompressedCheckpoints('lcomp-verify');
  const lines: string[] = [];
  const code = await runVerify({ dir, store: undefined, json: false }, (l) => lines.push(l));
  assert.equal(code, 0, lines.join('\n'));
  const line = lines.find((l) => l.startsWith('checkpoint files'));
  assert.match(line ?? '', /2 files, [\d,]+ B stored, [\d,]+ B uncompressed \([\d.]+x; zstd 2\)/);
  const json: string[] = [];
  await runVerify({ dir, store: undefined, json: true }, (l) => json.push(l));
  const report = JSON.parse(json[0]!) as { checkpointFiles: { codecs: Record<string, number> } };
  assert.deepEqual(report.checkpointFiles.codecs, { zstd: 2 });
  const inspected: string[] = [];
  assert.equal(await runInspect({ dir, store: undefined, json: false }, (l) => inspected.push(l)), 0);
  const checkpointLines = inspected.filter((l) => /^ {2}checkpoint +\d/.test(l));
  assert.equal(checkpointLines.length, 2, inspected.join('\n'));
  for (const l of checkpointLines) assert.match(l, /state\.base [\d,]+ B \(zstd, [\d,]+ B uncompressed\)/);
});
