// Golden files pin the on-disk format v1 (docs/FORMAT.md): the writer must produce these exact
// bytes and the reader must decode them. A change that alters them is a format change: bump the
// version. Regenerate only deliberately, with TIDEMARK_UPDATE_GOLDEN=1.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  decodeManifest,
  decodeStateFile,
  encodeManifest,
  encodeStateFile,
} from '../../src/checkpoint/index.ts';
import {
  ABORT_ENCODER,
  CheckpointMarkerEncoder,
  CommitEncoder,
  DeleteEncoder,
  decodeEntry,
  PutEncoder,
} from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { segmentFileName, WalReader, WriteAheadLog } from '../../src/wal/index.ts';

const DIR = fileURLToPath(new URL('../fixtures/golden-v1/', import.meta.url));
const UPDATE = process.env.TIDEMARK_UPDATE_GOLDEN === '1';

function golden(name: string, bytes: Uint8Array): Buffer {
  if (UPDATE) fs.writeFileSync(DIR + name, bytes);
  return fs.readFileSync(DIR + name);
}

const MANIFEST = {
  version: 1,
  id: 1,
  epoch: 1,
  walPosition: { lsn: 3 },
  sourceOffsets: { flights: 2 },
  watermark: 978307260000,
  createdAtMs: 1795000000000,
  stateFile: { name: 'checkpoint-0000000000000001.state', sizeBytes: 54, crc32c: 1214729159, entries: 2 },
};

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

test('the state file and manifest codecs produce and read the golden v1 files', () => {
  const state = new Map<string, Uint8Array>([
    ['o:ATL', Uint8Array.of(1, 2, 3)],
    ['r:ATL-SAV', Uint8Array.of(9)],
  ]);
  const stateBytes = encodeStateFile(state);
  assert.deepEqual(stateBytes, golden('checkpoint-0000000000000001.state', stateBytes));
  assert.deepEqual(
    decodeStateFile(fs.readFileSync(`${DIR}checkpoint-0000000000000001.state`), 'golden'),
    state,
  );
  const manifestBytes = encodeManifest(MANIFEST);
  assert.deepEqual(
    Buffer.from(manifestBytes),
    golden('checkpoint-0000000000000001.manifest.json', manifestBytes),
  );
  assert.deepEqual(
    decodeManifest(fs.readFileSync(`${DIR}checkpoint-0000000000000001.manifest.json`), 'golden'),
    MANIFEST,
  );
});

test('the golden manifest describes the golden state file (size and CRC32C)', async () => {
  const { crc32c } = await import('../../src/format/index.ts');
  const state = fs.readFileSync(`${DIR}checkpoint-0000000000000001.state`);
  assert.equal(MANIFEST.stateFile.sizeBytes, state.length);
  assert.equal(MANIFEST.stateFile.crc32c, crc32c(state));
});
