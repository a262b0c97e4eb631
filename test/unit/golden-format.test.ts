// Golden files pin the on-disk formats (WAL v4, checkpoints v2 with state files v3; WAL v1/v2 WAL v3 and state files v1/v2 still read) (docs/FORMAT.md): the writer must produce these exact
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
  CLEAN_MARKER_FILE_NAME,
  CommitEncoder,
  crc32c,
  DeleteEncoder,
  decodeCleanMarker,
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
/** WAL format version 2: the v1 records plus the CleanShutdown record, and the `CLEAN` marker. */
const DIR_WAL2 = fileURLToPath(new URL('../fixtures/golden-wal-v2/', import.meta.url));
const UPDATE = process.env.TIDEMARK_UPDATE_GOLDEN === '1';
/** WAL format version 3: record batches (one header and CRC32C per batch). */
const DIR_WAL3 = fileURLToPath(new URL('../fixtures/golden-wal-v3/', import.meta.url));

/** WAL format version 4: record batches with commit times (segment base time, per-batch offset). */
const DIR_WAL4 = fileURLToPath(new URL('../fixtures/golden-wal-v4/', import.meta.url));

function goldenWal4(name: string, bytes: Uint8Array): Buffer {
  if (UPDATE) {
    fs.mkdirSync(DIR_WAL4, { recursive: true });
    fs.writeFileSync(DIR_WAL4 + name, bytes);
  }
  return fs.readFileSync(DIR_WAL4 + name);
}

/** The records of the golden segments; the v2 writer ends the log with a CleanShutdown record. */
function appendGoldenRecords(wal: WriteAheadLog): void {
  wal.append(new PutEncoder().set('o:ATL', Buffer.from([1, 2, 3])));
  wal.append(new DeleteEncoder().set('o:SAV'));
  wal.append(new CommitEncoder(1, { flights: 2 }, 978307260000));
  wal.append(new CheckpointMarkerEncoder(1, 1, 3));
  wal.append(ABORT_ENCODER);
}

const GOLDEN_ENTRIES = [
  [1, { type: 'put', key: 'o:ATL', value: Buffer.from([1, 2, 3]) }],
  [2, { type: 'delete', key: 'o:SAV' }],
  [3, { type: 'commit', epoch: 1, sourceOffsets: { flights: 2 }, watermark: 978307260000 }],
  [4, { type: 'checkpoint', checkpointId: 1, epoch: 1, lsn: 3 }],
  [5, { type: 'abort' }],
];

async function readEntries(dir: MemoryDirectory): Promise<unknown[]> {
  const entries: unknown[] = [];
  await WalReader.read(dir, { fromLsn: 1 }, (record) => entries.push([record.lsn, decodeEntry(record)]));
  return entries;
}

test('a golden v1 segment (written before the clean-shutdown record existed) still reads, and a writer continues it', async () => {
  const fixtureDir = new MemoryDirectory();
  await fixtureDir.writeFileAtomic(segmentFileName(1), fs.readFileSync(DIR + segmentFileName(1)));
  assert.deepEqual(await readEntries(fixtureDir), GOLDEN_ENTRIES);
  // A version 1 segment takes no CleanShutdown record (a v1 reader would take it for damage):
  // close() writes only the marker; the next segment the writer starts is version 2.
  const wal = await WriteAheadLog.open(fixtureDir);
  assert.equal(wal.lastLsn, 5);
  wal.append(new PutEncoder().set('o:BOS', Buffer.from([7])));
  await wal.close();
  assert.deepEqual(decodeCleanMarker(await fixtureDir.readFile(CLEAN_MARKER_FILE_NAME, 64), 'CLEAN'), {
    segment: 1,
    lsn: 6,
    endOffset: fs.statSync(DIR + segmentFileName(1)).size + 20 + 4 + 5 + 1,
  });
  const again = await WriteAheadLog.open(fixtureDir);
  assert.equal(again.lastLsn, 6);
  await again.close();
});

test('a golden v2 segment (one frame per record, ending in a clean-shutdown record) and its CLEAN marker still read', async () => {
  const fixtureDir = new MemoryDirectory();
  for (const name of [segmentFileName(1), CLEAN_MARKER_FILE_NAME])
    await fixtureDir.writeFileAtomic(name, fs.readFileSync(DIR_WAL2 + name));
  const v2Size = fs.statSync(DIR_WAL2 + segmentFileName(1)).size;
  assert.deepEqual(await readEntries(fixtureDir), [
    ...GOLDEN_ENTRIES,
    [6, { type: 'clean-shutdown', lastLsn: 5, segment: 1, offset: v2Size - 44 }],
  ]);
  assert.deepEqual(decodeCleanMarker(fs.readFileSync(DIR_WAL2 + CLEAN_MARKER_FILE_NAME), 'CLEAN'), {
    segment: 1,
    lsn: 6,
    endOffset: v2Size,
  });
  // A writer continues a version 2 segment with frames (a segment never mixes framings).
  const wal = await WriteAheadLog.open(fixtureDir);
  wal.append(new PutEncoder().set('o:BOS', Buffer.from([7])));
  await wal.close();
  const size = (await fixtureDir.readFile(segmentFileName(1), 1 << 20)).length;
  assert.equal(size, v2Size + (20 + 4 + 5 + 1) + (20 + 24));
  const again = await WriteAheadLog.open(fixtureDir);
  assert.equal(again.lastLsn, 8);
  await again.close();
});

test('a golden v3 segment (batches without commit times) and its CLEAN marker still read, and a writer continues it with untimed batches', async () => {
  const fixtureDir = new MemoryDirectory();
  for (const name of [segmentFileName(1), CLEAN_MARKER_FILE_NAME])
    await fixtureDir.writeFileAtomic(name, fs.readFileSync(DIR_WAL3 + name));
  const v3Size = fs.statSync(DIR_WAL3 + segmentFileName(1)).size;
  // The clean-shutdown batch: 32-byte batch header, 5-byte record header, 24-byte payload.
  const times: (number | undefined)[] = [];
  const entries: unknown[] = [];
  await WalReader.read(fixtureDir, { fromLsn: 1 }, (record) => {
    entries.push([record.lsn, decodeEntry(record)]);
    times.push(record.commitTimeMs);
  });
  assert.deepEqual(entries, [
    ...GOLDEN_ENTRIES,
    [6, { type: 'clean-shutdown', lastLsn: 5, segment: 1, offset: v3Size - 61 }],
  ]);
  assert.ok(
    times.every((t) => t === undefined),
    'a version 3 batch has no commit time',
  );
  assert.deepEqual(decodeCleanMarker(fs.readFileSync(DIR_WAL3 + CLEAN_MARKER_FILE_NAME), 'CLEAN'), {
    segment: 1,
    lsn: 6,
    endOffset: v3Size,
  });
  const golden = fs.readFileSync(DIR_WAL3 + segmentFileName(1));
  assert.equal(golden.readUInt16LE(4), 3, 'segment format version 3');
  assert.equal(golden.readUInt32LE(32 + 8), 5, 'the first batch holds the five records');
  assert.equal(golden.readUInt32LE(v3Size - 61 + 8), 1, 'the second batch holds the clean-shutdown record');
  // A writer continues a version 3 segment with untimed batches (reserved field zero) until it rotates.
  const wal = await WriteAheadLog.open(fixtureDir);
  wal.append(new PutEncoder().set('o:BOS', Buffer.from([7])));
  await wal.close();
  const grown = Buffer.from(await fixtureDir.readFile(segmentFileName(1), 1 << 20));
  assert.equal(grown.readUInt16LE(4), 3, 'still a version 3 segment');
  assert.equal(
    grown.readUInt32LE(v3Size + 12),
    0,
    'an appended batch of a v3 segment keeps its reserved field zero',
  );
  const again = await WriteAheadLog.open(fixtureDir);
  assert.equal(again.lastLsn, 8);
  await again.close();
});

test('the WAL writer produces the golden v4 segment (base time in the header, a commit time per batch) and CLEAN marker byte for byte', async () => {
  const dir = new MemoryDirectory();
  // 2001-01-01T00:01:00.250Z: the base time is its whole second, each batch's time counts from it.
  const t0 = Date.UTC(2001, 0, 1, 0, 1, 0, 250);
  let now = t0;
  const wal = await WriteAheadLog.open(dir, { clock: () => now });
  appendGoldenRecords(wal);
  now = t0 + 1234;
  await wal.sync();
  now = t0 + 5678;
  await wal.close();
  const bytes = await dir.readFile(segmentFileName(1), 1 << 20);
  assert.deepEqual(Buffer.from(bytes), goldenWal4(segmentFileName(1), bytes));
  const marker = await dir.readFile(CLEAN_MARKER_FILE_NAME, 64);
  assert.deepEqual(Buffer.from(marker), goldenWal4(CLEAN_MARKER_FILE_NAME, marker));

  const fixtureDir = new MemoryDirectory();
  for (const name of [segmentFileName(1), CLEAN_MARKER_FILE_NAME])
    await fixtureDir.writeFileAtomic(name, fs.readFileSync(DIR_WAL4 + name));
  const v4Size = fs.statSync(DIR_WAL4 + segmentFileName(1)).size;
  const entries: unknown[] = [];
  await WalReader.read(fixtureDir, { fromLsn: 1 }, (record) =>
    entries.push([record.lsn, decodeEntry(record), record.commitTimeMs]),
  );
  assert.deepEqual(entries, [
    ...GOLDEN_ENTRIES.map(([lsn, entry]) => [lsn, entry, t0 + 1234]),
    [6, { type: 'clean-shutdown', lastLsn: 5, segment: 1, offset: v4Size - 61 }, t0 + 5678],
  ]);
  const golden = fs.readFileSync(DIR_WAL4 + segmentFileName(1));
  assert.equal(golden.readUInt16LE(4), 4, 'segment format version 4');
  assert.equal(golden.readUInt32LE(24), Math.floor(t0 / 1000), 'the base time, whole seconds');
  assert.equal(golden.readUInt32LE(32 + 12), 1484, 'the first batch: 1484 ms after the base');
  assert.equal(
    golden.readUInt32LE(v4Size - 61 + 12),
    5928,
    'the clean-shutdown batch: 5928 ms after the base',
  );
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

test('golden v2 base and delta files (unsorted, written before version 3) still load as one chain', async () => {
  const base = fs.readFileSync(`${DIR2}checkpoint-0000000000000001/state.base`);
  const delta = fs.readFileSync(`${DIR2}checkpoint-0000000000000002/state.delta`);
  assert.equal(decodeStateFile(base, 'golden').version, 2);
  assert.equal(decodeStateFile(delta, 'golden').version, 2);
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
  const e1 = Buffer.from(encodeManifest(m1));
  const e2 = Buffer.from(encodeManifest(m2));
  assert.deepEqual(e1, golden2('checkpoint-0000000000000001/manifest.json', e1));
  assert.deepEqual(e2, golden2('checkpoint-0000000000000002/manifest.json', e2));
  assert.deepEqual(decodeManifest(e2, 'golden'), m2);

  const store = new FileSystemCheckpointStore(await FsDirectory.open(DIR2));
  const loaded = await loadCheckpoint(store, 2);
  assert.deepEqual(loaded.chain, [1, 2]);
  assert.deepEqual(
    [...loaded.state].map(([k, v]) => [k, [...v]]),
    [['o:ATL', [4]]],
  );
  assert.equal(loaded.manifest.connectors.flights?.offsets.row, '4');
});

const DIR3 = fileURLToPath(new URL('../fixtures/golden-v3/', import.meta.url));

function golden3(name: string, bytes: Uint8Array): Buffer {
  if (UPDATE) {
    fs.mkdirSync(path.dirname(DIR3 + name), { recursive: true });
    fs.writeFileSync(DIR3 + name, bytes);
  }
  return fs.readFileSync(DIR3 + name);
}

test('a base and a delta checkpoint are written byte for byte as the golden v3 files (sorted by UTF-8 key bytes), and load as one chain', async () => {
  // Given out of order, with a key past U+FFFF: UTF-16 order would put "\u{1F600}" before "\uFFFD".
  const base = encodeStateFile(StateFileKind.Base, 3, [
    ['r:ATL-SAV', Uint8Array.of(9)],
    ['\u{1F600}', Uint8Array.of(5)],
    ['o:ATL', Uint8Array.of(1, 2, 3)],
  ]);
  const delta = encodeStateFile(StateFileKind.Delta, 3, [
    ['r:ATL-SAV', undefined],
    ['\uFFFD', Uint8Array.of(6)],
    ['o:ATL', Uint8Array.of(4)],
  ]);
  const keys = [...decodeStateFile(base, 'golden').state.keys()];
  assert.deepEqual(keys, ['o:ATL', 'r:ATL-SAV', '\u{1F600}']);
  assert.deepEqual([...decodeStateFile(delta, 'golden').state.keys()], ['o:ATL', 'r:ATL-SAV', '\uFFFD']);
  assert.equal(decodeStateFile(base, 'golden').version, 3);
  const m1 = manifestV2(
    1,
    'base',
    { sizeBytes: base.length, crc32c: crc32c(base) },
    { keys: 3, entriesWritten: 3, tombstones: 0, baseBytes: base.length, deltaBytesSinceBase: 0 },
  );
  const m2 = manifestV2(
    2,
    'delta',
    { sizeBytes: delta.length, crc32c: crc32c(delta) },
    { keys: 3, entriesWritten: 3, tombstones: 1, baseBytes: base.length, deltaBytesSinceBase: delta.length },
  );
  assert.deepEqual(base, golden3('checkpoint-0000000000000001/state.base', base));
  assert.deepEqual(delta, golden3('checkpoint-0000000000000002/state.delta', delta));
  golden3('checkpoint-0000000000000001/manifest.json', encodeManifest(m1));
  golden3('checkpoint-0000000000000002/manifest.json', encodeManifest(m2));

  const store = new FileSystemCheckpointStore(await FsDirectory.open(DIR3));
  const loaded = await loadCheckpoint(store, 2);
  assert.deepEqual(loaded.chain, [1, 2]);
  assert.deepEqual(
    new Map([...loaded.state.entries()].map(([k, v]) => [k, Uint8Array.from(v)])),
    new Map([
      ['o:ATL', Uint8Array.of(4)],
      ['\u{1F600}', Uint8Array.of(5)],
      ['\uFFFD', Uint8Array.of(6)],
    ]),
  );
});
