import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  checkpointName,
  FileSystemCheckpointStore,
  resolveCheckpointOptions,
} from '../../src/checkpoint/index.ts';
import { encodeManifest } from '../../src/format/checkpoint-manifest.ts';
import { STATE_FILE_VERSION, STATE_FILE_VERSION_OFFSET } from '../../src/format/constants.ts';
import { crc32c, maskCrc32c } from '../../src/format/crc32c.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager } from '../../src/recovery/index.ts';
import { asText } from '../helpers/checkpointed-dir.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Checkpoints base 1, deltas 2-3, base 4, deltas 5-6, base 7, delta 8, then writes no checkpoint covers. */
async function buildTwoNewestInOneChain(dir: string): Promise<Record<string, string>> {
  const expected: Record<string, string> = {};
  const s = await new RecoveryManager({
    dir,
    wal: { segmentSizeBytes: 4096 },
    checkpoint: { maxChainLength: 2, maxDeltaRatio: 100 },
  }).open();
  const put = (key: string, value: string) => {
    s.store.put(key, Buffer.from(value));
    expected[key] = value;
  };
  for (let i = 0; i < 100; i++) put(`k${i}`, `v${i}-${'x'.repeat(60)}`);
  const kinds: string[] = [];
  for (let r = 0; r < 8; r++) {
    for (let i = 0; i < 25; i++) put(`k${(r * 13 + i) % 100}`, `r${r}-${i}-${'y'.repeat(60)}`);
    kinds.push((await s.checkpoint()).kind);
  }
  assert.deepEqual(kinds, ['base', 'delta', 'delta', 'base', 'delta', 'delta', 'base', 'delta']);
  for (let i = 0; i < 25; i++) put(`tail${i}`, `t${i}`);
  await s.close();
  return expected;
}

test('one damaged newest base falls back to the older chain plus WAL and loses nothing acknowledged, in both engines', async () => {
  const dir = tmpDir('fallback');
  const expected = await buildTwoNewestInOneChain(dir);
  const ck = path.join(dir, CHECKPOINT_DIR_NAME);
  // maxRetained 2 keeps 8 and 7 (one base); minRetainedBases 2 keeps the older chain 4-6 too.
  const kept = fs
    .readdirSync(ck)
    .filter((n) => n.startsWith('checkpoint-'))
    .sort();
  assert.deepEqual(kept, [4, 5, 6, 7, 8].map(checkpointName));
  const base = path.join(ck, checkpointName(7), 'state.base');
  const bytes = fs.readFileSync(base);
  bytes[bytes.length >> 1]! ^= 0x01;
  fs.writeFileSync(base, bytes);

  const r = await new RecoveryManager({ dir }).recover();
  assert.equal(r.stats.checkpointId, 6);
  assert.deepEqual(
    r.stats.checkpointsSkipped.map((s) => s.id),
    [8, 7],
  );
  assert.deepEqual(asText(r.state), expected);
  const { store, recovered } = await openChangelogAwareStore({ dir });
  assert.deepEqual(asText(recovered.state), expected);
  await store.close();
  const opened = await new RecoveryManager({ dir }).open();
  assert.deepEqual(asText(opened.recovered.state), expected);
  await opened.close();
});

test('minRetainedBases below 1 is refused before anything is touched', () => {
  assert.throws(() => resolveCheckpointOptions({ minRetainedBases: 0 }), {
    code: 'TIDEMARK_INVALID_ARGUMENT',
  });
  assert.equal(resolveCheckpointOptions().minRetainedBases, 2);
});

test('a checkpoint id is never handed out twice, even after open() removed a half-written checkpoint', async () => {
  const dir = tmpDir('ids');
  let s = await new RecoveryManager({ dir }).open();
  s.store.put('a', Buffer.from('1'));
  assert.equal((await s.checkpoint()).id, 1);
  await s.close();
  // A crash while checkpoint 2 was being written leaves a directory without a manifest.
  const orphan = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(2));
  fs.mkdirSync(orphan);
  fs.writeFileSync(path.join(orphan, 'state.base'), 'partial');
  s = await new RecoveryManager({ dir }).open();
  await s.checkpoints.idle();
  assert.equal(fs.existsSync(orphan), false, 'open removed the half-written checkpoint');
  await s.close();
  s = await new RecoveryManager({ dir }).open();
  s.store.put('b', Buffer.from('2'));
  assert.equal((await s.checkpoint()).id, 3, 'id 2 was burned, not reused');
  await s.close();
  // The changelog-aware engine (Ring 1) takes ids from the same store.
  const { store } = await openChangelogAwareStore({ dir });
  store.put('c', Buffer.from('3'));
  assert.equal((await store.checkpoint()).id, 4);
  await store.close();
});

test('a newer manifest version is TIDEMARK_UNSUPPORTED_VERSION in both engines, never a fallback past it', async () => {
  const dir = tmpDir('newer');
  const s = await new RecoveryManager({ dir }).open();
  s.store.put('a', Buffer.from('1'));
  await s.checkpoint();
  s.store.put('b', Buffer.from('2'));
  await s.checkpoint();
  await s.close();
  const file = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(2), 'manifest.json');
  const m = JSON.parse(fs.readFileSync(file, 'utf8'));
  delete m.crc32c;
  m.version = 3;
  fs.writeFileSync(file, encodeManifest(m));
  const expect = { code: 'TIDEMARK_UNSUPPORTED_VERSION', path: file };
  await assert.rejects(new RecoveryManager({ dir }).recover(), expect);
  await assert.rejects(new RecoveryManager({ dir }).open(), expect);
  await assert.rejects(openChangelogAwareStore({ dir }), { code: 'TIDEMARK_UNSUPPORTED_VERSION' });
});

test('a flat-layout checkpoint file of any id width is refused as the retired version 1', async () => {
  for (const name of [
    'checkpoint-1.manifest.json',
    'checkpoint-0000000000000001.manifest.json',
    'checkpoint-12.state',
  ]) {
    const dir = tmpDir('flat');
    fs.mkdirSync(path.join(dir, CHECKPOINT_DIR_NAME));
    fs.writeFileSync(path.join(dir, CHECKPOINT_DIR_NAME, name), '{}');
    await assert.rejects(
      new RecoveryManager({ dir }).recover(),
      { code: 'TIDEMARK_UNSUPPORTED_VERSION' },
      name,
    );
  }
});

test('stray and half-written files in checkpoints/ do not block open, and half-written ones are cleaned', async () => {
  const dir = tmpDir('strays');
  let s = await new RecoveryManager({ dir }).open();
  s.store.put('a', Buffer.from('1'));
  await s.checkpoint();
  await s.close();
  const ck = path.join(dir, CHECKPOINT_DIR_NAME);
  fs.writeFileSync(path.join(ck, 'manifest.json.tmp'), '{"half');
  fs.writeFileSync(path.join(ck, checkpointName(1), 'manifest.json.tmp'), '{"half');
  fs.writeFileSync(path.join(ck, 'README'), 'notes');
  fs.mkdirSync(path.join(ck, 'checkpoint-abc'));
  s = await new RecoveryManager({ dir }).open();
  assert.deepEqual(asText(s.recovered.state), { a: '1' });
  await s.checkpoints.idle();
  await s.close();
  assert.equal(fs.existsSync(path.join(ck, 'manifest.json.tmp')), false);
  assert.equal(fs.existsSync(path.join(ck, checkpointName(1), 'manifest.json.tmp')), false);
  const { store, recovered } = await openChangelogAwareStore({ dir });
  assert.deepEqual(asText(recovered.state), { a: '1' });
  await store.close();
});

test('a newer state-file version is TIDEMARK_UNSUPPORTED_VERSION naming the file, never a fallback to an older checkpoint', async () => {
  const dir = tmpDir('newer-state');
  const s = await new RecoveryManager({ dir, checkpoint: { incremental: false } }).open();
  s.store.put('a', Buffer.from('1'));
  await s.checkpoint();
  s.store.put('b', Buffer.from('2'));
  await s.checkpoint();
  await s.close();
  // Checkpoint 2's base rewritten as a (valid) newer-version file, its manifest updated to match.
  const cdir = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(2));
  const file = path.join(cdir, 'state.base');
  const b = fs.readFileSync(file);
  b.writeUInt16LE(STATE_FILE_VERSION + 1, STATE_FILE_VERSION_OFFSET);
  b.writeUInt32LE(maskCrc32c(crc32c(b, 0, b.length - 4)), b.length - 4);
  fs.writeFileSync(file, b);
  const mfile = path.join(cdir, 'manifest.json');
  const m = JSON.parse(fs.readFileSync(mfile, 'utf8'));
  delete m.crc32c;
  m.files[0].crc32c = crc32c(b);
  fs.writeFileSync(mfile, encodeManifest(m));
  await assert.rejects(new RecoveryManager({ dir }).recover(), {
    code: 'TIDEMARK_UNSUPPORTED_VERSION',
    path: file,
  });
  await assert.rejects(openChangelogAwareStore({ dir }), { code: 'TIDEMARK_UNSUPPORTED_VERSION' });
});

test('a state file the manifest names but the disk lacks is corruption whose cause is the node:fs error itself', async () => {
  const dir = tmpDir('missing-file');
  const s = await new RecoveryManager({ dir }).open();
  s.store.put('a', Buffer.from('1'));
  await s.checkpoint();
  await s.close();
  const file = path.join(dir, CHECKPOINT_DIR_NAME, checkpointName(1), 'state.base');
  fs.rmSync(file);
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)));
  const m = await store.loadManifest(1);
  const err = await store.readFile(m, m.files[0]!).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'TIDEMARK_CORRUPTION');
  assert.equal((err as { path?: string }).path, file);
  assert.equal(((err as Error).cause as { code?: string }).code, 'ENOENT');
});
