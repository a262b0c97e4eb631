// Golden files pin the on-disk formats (WAL v1, checkpoints v2) (docs/FORMAT.md): the writer must produce these exact
// bytes and the reader must decode them. A change that alters them is a format change: bump the
// version. Regenerate only deliberately, with TIDEMARK_UPDATE_GOLDEN=1.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileSystemCheckpointStore, loadCheckpoint } from '../../src/checkpoint/index.ts';
import {
  ABORT_ENCODER,
  type CheckpointManifest,
  CheckpointMarkerEncoder,
  CommitEncoder,
  crc32c,
  DeleteEncoder,
  decodeEntry,
  decodeManifest,
  decodeStateFile,
  encodeManifest,
  encodeStateFile,
  PutEncoder,
  StateFileKind,
} from '../../src/format/index.ts';
import { FsDirectory, MemoryDirectory } from '../../src/io/index.ts';
import { segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';

const DIR = fileURLToPath(new URL('../fixtures/golden-v1/', import.meta.url));
const UPDATE = process.env.TIDEMARK_UPDATE_GOLDEN === '1';

function golden(name: string, bytes: Uint8Array): Buffer {
  if (UPDATE) fs.writeFileSync(DIR + name, bytes);
  return fs.readFileSync(DIR + name);
}

test('the WAL writer produces the golden v1 segment byte for byte and the reader decodes it', async () => {
  const dir = new MemoryDirectory();
  const wal = await WriteAheadLog.open(dir);
  wal.append(new PutEncoder().set('o:ATL', Buffer.from([1, 2, 3])));
  wal.append(new DeleteEncoder().set('o:SAV'));
  wal.append(new CommitEncoder(1, { flights: 2 }, 978307260000));
  wal.append(new CheckpointMarkerEncoder(1, 1, 3));
  wal.append(ABORT_ENCODER);
  await wal.close();
  const bytes = await dir.readFile(segmentFileName(1), 1 << 20);
  assert.deepEqual(Buffer.from(bytes), golden(segmentFileName(1), bytes));

  const fixtureDir = new MemoryDirectory();
  await fixtureDir.writeFileAtomic(segmentFileName(1), fs.readFileSync(DIR + segmentFileName(1)));
  const entries: unknown[] = [];
  await WalReader.read(fixtureDir, 1, (lsn, type, buf, s, n) =>
    entries.push([lsn, decodeEntry(type, buf, s, n, 'golden', 0)]),
  );
  assert.deepEqual(entries, [
    [1, { type: 'put', key: 'o:ATL', value: Buffer.from([1, 2, 3]) }],
    [2, { type: 'delete', key: 'o:SAV' }],
    [3, { type: 'commit', epoch: 1, sourceOffsets: { flights: 2 }, watermark: 978307260000 }],
    [4, { type: 'checkpoint', checkpointId: 1, epoch: 1, lsn: 3 }],
    [5, { type: 'abort' }],
  ]);
});

test('a version 1 state file (the flat layout) still reads as a base; a version 1 manifest is refused', () => {
  const v1 = decodeStateFile(fs.readFileSync(`${DIR}checkpoint-0000000000000001.state`), 'golden');
  assert.equal(v1.kind, StateFileKind.Base);
  assert.equal(v1.version, 1);
  assert.deepEqual(
    v1.state,
    new Map([
      ['o:ATL', Uint8Array.of(1, 2, 3)],
      ['r:ATL-SAV', Uint8Array.of(9)],
    ]),
  );
  assert.throws(
    () => decodeManifest(fs.readFileSync(`${DIR}checkpoint-0000000000000001.manifest.json`), 'golden'),
    { code: 'TIDEMARK_UNSUPPORTED_VERSION' },
  );
});

const DIR2 = fileURLToPath(new URL('../fixtures/golden-v2/', import.meta.url));

function golden2(name: string, bytes: Uint8Array): Buffer {
  if (UPDATE) {
    fs.mkdirSync(path.dirname(DIR2 + name), { recursive: true });
    fs.writeFileSync(DIR2 + name, bytes);
  }
  return fs.readFileSync(DIR2 + name);
}

function manifestV2(
  id: number,
  kind: 'base' | 'delta',
  file: { sizeBytes: number; crc32c: number },
  state: CheckpointManifest['state'],
): CheckpointManifest {
  return {
    version: 2,
    id,
    epoch: id,
    createdAtMs: 1795000000000 + id,
    kind,
    parentId: kind === 'base' ? null : id - 1,
    baseId: 1,
    chainLength: id - 1,
    walPosition: { lsn: 3 * id },
    perCoreWalPositions: {},
    sourceOffsets: { flights: 2 * id },
    connectors: { flights: { offsets: { row: String(2 * id) }, epoch: id, metadata: { kind: 'parquet' } } },
    operators: {},
    sinkEpochs: { out: id },
    sinkCommitStatuses: { out: { state: 'committed' } },
    watermark: 978307260000,
    sourceWatermarks: { flights: 978307260000 },
    state,
    files: [{ name: kind === 'base' ? 'state.base' : 'state.delta', role: kind, ...file }],
    sizeBytes: file.sizeBytes,
  };
}

test('a base and a delta checkpoint are written byte for byte as the golden v2 files, and load as one chain', async () => {
  const base = encodeStateFile(StateFileKind.Base, 2, [
    ['o:ATL', Uint8Array.of(1, 2, 3)],
    ['r:ATL-SAV', Uint8Array.of(9)],
  ]);
  const delta = encodeStateFile(StateFileKind.Delta, 2, [
    ['o:ATL', Uint8Array.of(4)],
    ['r:ATL-SAV', undefined],
  ]);
  const m1 = manifestV2(
    1,
    'base',
    { sizeBytes: base.length, crc32c: crc32c(base) },
    {
      keys: 2,
      entriesWritten: 2,
      tombstones: 0,
      baseBytes: base.length,
      deltaBytesSinceBase: 0,
    },
  );
  const m2 = manifestV2(
    2,
    'delta',
    { sizeBytes: delta.length, crc32c: crc32c(delta) },
    {
      keys: 1,
      entriesWritten: 2,
      tombstones: 1,
      baseBytes: base.length,
      deltaBytesSinceBase: delta.length,
    },
  );
  assert.deepEqual(base, golden2('checkpoint-0000000000000001/state.base', base));
  assert.deepEqual(delta, golden2('checkpoint-0000000000000002/state.delta', delta));
  const e1 = Buffer.from(encodeManifest(m1));
  const e2 = Buffer.from(encodeManifest(m2));
  assert.deepEqual(e1, golden2('checkpoint-0000000000000001/manifest.json', e1));
  assert.deepEqual(e2, golden2('checkpoint-0000000000000002/manifest.json', e2));
  assert.deepEqual(decodeManifest(e2, 'golden'), m2);

  const store = new FileSystemCheckpointStore(await FsDirectory.open(DIR2));
  const loaded = await loadCheckpoint(store, 2);
  assert.deepEqual(loaded.chain, [1, 2]);
  assert.deepEqual(loaded.state, new Map([['o:ATL', Uint8Array.of(4)]]));
  assert.equal(loaded.manifest.connectors.flights?.offsets.row, '4');
});
