// A new base is a streaming merge of the previous base file, the deltas since and the pending
// changes — it must equal the state a Map would compute, and must read the files in bounded
// chunks, never whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type MergeResult, mergeChainIntoBase } from '../../src/checkpoint/base-merge.ts';
import {
  type CheckpointStore,
  FileSystemCheckpointStore,
  loadChainManifests,
} from '../../src/checkpoint/index.ts';
import { findLatestVerifiedChain } from '../../src/checkpoint/stream-chain.ts';
import {
  type CheckpointManifest,
  decodeStateFile,
  encodeStateFile,
  MANIFEST_VERSION,
  STATE_BLOCK_TARGET_BYTES,
  StateFileKind,
  sortStateEntries,
  UNCOUNTED_KEYS,
} from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { baseManifestDraft } from '../helpers/checkpoint-drafts.ts';
import { tmpDir } from '../helpers/tmp.ts';

function deltaManifest(id: number, parent: CheckpointManifest, entries: number, tombstones: number) {
  return {
    ...baseManifestDraft(id),
    version: MANIFEST_VERSION,
    kind: 'delta' as const,
    parentId: parent.id,
    baseId: parent.baseId,
    chainLength: parent.chainLength + 1,
    state: {
      keys: UNCOUNTED_KEYS,
      entriesWritten: entries,
      tombstones,
      baseBytes: 0,
      deltaBytesSinceBase: 0,
    },
  };
}

/** Values as hex, so Buffer and Uint8Array values compare equal. */
function hex(m: Map<string, Uint8Array | undefined>): Map<string, string | undefined> {
  return new Map([...m].map(([k, v]) => [k, v && Buffer.from(v).toString('hex')]));
}

/** Counts whole-file reads, so a test can tell the merge streamed. */
function spied(store: FileSystemCheckpointStore): {
  store: CheckpointStore;
  wholeReads: () => number;
  maxChunk: () => number;
} {
  let wholeReads = 0;
  let maxChunk = 0;
  const s = Object.create(store) as FileSystemCheckpointStore;
  s.readFile = (m, f) => {
    wholeReads++;
    return store.readFile(m, f);
  };
  s.readFileChunks = async function* (m, f, n) {
    for await (const c of store.readFileChunks(m, f, n)) {
      maxChunk = Math.max(maxChunk, c.length);
      yield c;
    }
  };
  return { store: s, wholeReads: () => wholeReads, maxChunk: () => maxChunk };
}

async function mergeToMap(
  store: CheckpointStore,
  chain: CheckpointManifest[],
  changes: Map<string, Uint8Array | undefined>,
): Promise<{ state: Map<string, Uint8Array | undefined>; result: MergeResult; largestChunk: number }> {
  const result: MergeResult = { keys: 0, bytes: 0 };
  const chunks: Uint8Array[] = [];
  for await (const c of mergeChainIntoBase({ store, chain, changes: sortStateEntries(changes), result }))
    chunks.push(c);
  const file = Buffer.concat(chunks);
  assert.equal(file.length, result.bytes);
  const decoded = decodeStateFile(file, 'merged');
  assert.equal(decoded.kind, StateFileKind.Base);
  return { state: decoded.state, result, largestChunk: Math.max(...chunks.map((c) => c.length)) };
}

test('a base merged from a 200k-key base file, a delta and pending changes equals the Map-computed state, reading the files in bounded chunks', async () => {
  const fsStore = new FileSystemCheckpointStore(await FsDirectory.open(tmpDir('base-merge')));
  const model = new Map<string, Uint8Array>();
  for (let i = 0; i < 200_000; i++) model.set(`key:${i}`, Buffer.from(`value-${i}-${'x'.repeat(i % 40)}`));
  const baseDraft = baseManifestDraft(1);
  baseDraft.state = { ...baseDraft.state, keys: model.size, entriesWritten: model.size };
  const m1 = await fsStore.save({
    manifest: baseDraft,
    files: [{ role: 'base', chunks: [encodeStateFile(StateFileKind.Base, model.size, model)] }],
  });
  // Delta: updates, deletes (some of keys that never existed), new keys — 1 % of the state.
  const delta = new Map<string, Uint8Array | undefined>();
  for (let i = 0; i < 2000; i++) {
    const k = `key:${(i * 97) % 200_000}`;
    delta.set(k, i % 3 === 0 ? undefined : Buffer.from(`d${i}`));
  }
  delta.set('absent', undefined);
  delta.set('\u{1F600}new', Buffer.from('emoji'));
  let tombstones = 0;
  for (const v of delta.values()) if (v === undefined) tombstones++;
  await fsStore.save({
    manifest: deltaManifest(2, m1, delta.size, tombstones),
    files: [{ role: 'delta', chunks: [encodeStateFile(StateFileKind.Delta, delta.size, delta)] }],
  });
  for (const [k, v] of delta) {
    if (v === undefined) model.delete(k);
    else model.set(k, v);
  }
  const changes = new Map<string, Uint8Array | undefined>([
    ['key:0', Buffer.from('latest')],
    ['key:1', undefined],
    ['\uFFFDlast', Buffer.from('bmp')],
    ['absent', Buffer.from('back')],
  ]);
  for (const [k, v] of changes) {
    if (v === undefined) model.delete(k);
    else model.set(k, v);
  }

  const spy = spied(fsStore);
  const chain = await loadChainManifests(spy.store, 2);
  const { state, result, largestChunk } = await mergeToMap(spy.store, chain, changes);
  assert.equal(result.keys, model.size);
  assert.deepEqual(hex(state), hex(model));
  assert.equal(spy.wholeReads(), 0, 'no state file was read whole');
  assert.ok(spy.maxChunk() <= 1024 * 1024, `read chunks ≤ 1 MiB, got ${spy.maxChunk()}`);
  assert.ok(largestChunk <= STATE_BLOCK_TARGET_BYTES + 16, `written chunks ≤ one block, got ${largestChunk}`);
});

test('a chain whose files are old unsorted version 2 files folds into a sorted base (read whole, once)', async () => {
  const dir = fileURLToPath(new URL('../fixtures/golden-v2/', import.meta.url));
  const store = new FileSystemCheckpointStore(await FsDirectory.open(dir));
  const chain = await loadChainManifests(store, 2);
  const { state, result } = await mergeToMap(
    store,
    chain,
    new Map([
      ['a', Buffer.from('new')],
      ['o:ATL', undefined],
    ]),
  );
  assert.deepEqual(hex(state), new Map([['a', '6e6577']]));
  assert.equal(result.keys, 1);
});

test('a damaged block in the previous base fails the merge with TIDEMARK_CORRUPTION naming the file', async () => {
  const root = tmpDir('base-merge-damage');
  const fsStore = new FileSystemCheckpointStore(await FsDirectory.open(root));
  const entries = new Map<string, Uint8Array>();
  for (let i = 0; i < 20_000; i++) entries.set(`k${i}`, Buffer.alloc(100, i));
  const draft = baseManifestDraft(1);
  draft.state = { ...draft.state, keys: entries.size, entriesWritten: entries.size };
  const m1 = await fsStore.save({
    manifest: draft,
    files: [{ role: 'base', chunks: [encodeStateFile(StateFileKind.Base, entries.size, entries)] }],
  });
  const fs = await import('node:fs');
  const p = `${root}/checkpoint-0000000000000001/state.base`;
  const bytes = fs.readFileSync(p);
  bytes[100_000]! ^= 0x40;
  fs.writeFileSync(p, bytes);
  await assert.rejects(
    mergeToMap(fsStore, [m1], new Map()),
    (err: Error & { code?: string; path?: string }) => {
      assert.equal(err.code, 'TIDEMARK_CORRUPTION');
      assert.equal(err.path, p);
      return true;
    },
  );
});

test('without a verified checkpoint to build on, the manager streams the chains and falls back past a damaged newest one', async () => {
  const root = tmpDir('stream-chain-fallback');
  const fsStore = new FileSystemCheckpointStore(await FsDirectory.open(root));
  const entries = (n: number) => new Map([...Array(n).keys()].map((i) => [`k${i}`, Buffer.from(`v${i}`)]));
  for (const id of [1, 2]) {
    const draft = baseManifestDraft(id);
    draft.state = { ...draft.state, keys: id * 1000, entriesWritten: id * 1000 };
    await fsStore.save({
      manifest: draft,
      files: [{ role: 'base', chunks: [encodeStateFile(StateFileKind.Base, id * 1000, entries(id * 1000))] }],
    });
  }
  assert.deepEqual(
    (await findLatestVerifiedChain(fsStore))?.chain.map((m) => m.id),
    [2],
  );
  const fs = await import('node:fs');
  const p = `${root}/checkpoint-0000000000000002/state.base`;
  const bytes = fs.readFileSync(p);
  bytes[40]! ^= 1;
  fs.writeFileSync(p, bytes);
  const spy = spied(fsStore);
  assert.deepEqual(
    (await findLatestVerifiedChain(spy.store))?.chain.map((m) => m.id),
    [1],
  );
  assert.equal(spy.wholeReads(), 0, 'verified by streaming, not by loading');
});
