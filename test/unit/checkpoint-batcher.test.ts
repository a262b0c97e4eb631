/**
 * CheckpointBatcher: a small checkpoint's files go up as one object (one PUT), large files stay
 * objects of their own, the buffer is bounded, and a packed file reads back — through its slice,
 * the manifest check and the codec frame — exactly as written, or as TIDEMARK_CORRUPTION.
 * (The object store itself is covered on radosgw by test/conformance/object-store-s3.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  type BatchUploader,
  CheckpointBatcher,
  contentOf,
  sliceOfObject,
} from '../../src/checkpoint/checkpoint-batcher.ts';
import { verifyCheckpointFile } from '../../src/checkpoint/checkpoint-store.ts';
import { isTidemarkError } from '../../src/errors.ts';
import type { CheckpointFileEntry } from '../../src/format/checkpoint-manifest.ts';
import { crc32c } from '../../src/format/crc32c.ts';
import { encodeStateFile, StateFileKind } from '../../src/format/index.ts';

/** Objects kept in memory, every upload counted. */
function memoryUploader(): BatchUploader & { objects: Map<string, Buffer>; puts: number } {
  const objects = new Map<string, Buffer>();
  const self = {
    objects,
    puts: 0,
    async put(key: string, body: Uint8Array) {
      self.puts++;
      objects.set(key, Buffer.from(body));
      return { sizeBytes: body.length, crc32c: crc32c(body) };
    },
    async putChunks(key: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>) {
      const parts: Uint8Array[] = [];
      for await (const c of chunks) parts.push(c);
      return self.put(key, Buffer.concat(parts));
    },
  };
  return self as BatchUploader & { objects: Map<string, Buffer>; puts: number };
}

/** A delta of `keys` changed keys, as the checkpointer writes it. */
function deltaFile(keys: number): Uint8Array {
  const entries = Array.from(
    { length: keys },
    (_, i) => [`op${i % 8}:key:${String(i).padStart(6, '0')}`, Buffer.from(`value-${i * 31}`)] as const,
  );
  return encodeStateFile(StateFileKind.Delta, entries.length, entries);
}

async function readBack(
  up: ReturnType<typeof memoryUploader>,
  file: CheckpointFileEntry,
): Promise<Uint8Array> {
  const key = file.object ?? file.name;
  const stored = await verifyCheckpointFile(key, file, () =>
    sliceOfObject(file, key, async () => up.objects.get(key)!),
  );
  return contentOf(stored, key);
}

test('a small checkpoint (1,000 changed keys over 8 operators) goes up in one PUT and reads back', async () => {
  const up = memoryUploader();
  const batcher = new CheckpointBatcher(up, (n) => n, { compression: { codec: 'zstd', level: 3 } });
  const state = deltaFile(1000);
  const operators = Buffer.concat(
    Array.from({ length: 8 }, (_, i) => Buffer.from(`operator ${i} state `.repeat(20))),
  );
  await batcher.add({ name: 'state.delta', role: 'delta', chunks: [state] });
  await batcher.add({ name: 'operators.bin', role: 'operators', chunks: [operators] });
  const entries = await batcher.finish();
  assert.equal(up.puts, 1);
  assert.deepEqual(batcher.stats().puts, 1);
  assert.deepEqual(
    entries.map((e) => [e.name, e.object, e.codec]),
    [
      ['state.delta', 'batch-0.bin', 'zstd'],
      ['operators.bin', 'batch-0.bin', 'zstd'],
    ],
  );
  assert.equal(entries[0]!.uncompressedBytes, state.length);
  assert.ok(entries[0]!.sizeBytes < state.length, 'compressed');
  assert.deepEqual(Buffer.from(await readBack(up, entries[0]!)), Buffer.from(state));
  assert.deepEqual(Buffer.from(await readBack(up, entries[1]!)), operators);
});

test('a file compressed past smallFileBytes is an object of its own; the small ones still share one', async () => {
  const up = memoryUploader();
  const batcher = new CheckpointBatcher(up, (n) => n, {
    compression: { codec: 'lz4', level: 0 },
    smallFileBytes: 4096,
  });
  const big = randomBytes(64 * 1024); // incompressible: stored as `none`, 64 KiB
  await batcher.add({ name: 'state.base', role: 'base', chunks: [big] });
  await batcher.add({ name: 'operators.bin', role: 'operators', chunks: [Buffer.from('small')] });
  const entries = await batcher.finish();
  assert.equal(entries[0]!.object, undefined);
  assert.equal(entries[0]!.codec, 'none');
  assert.equal(entries[1]!.object, 'batch-0.bin');
  assert.equal(up.puts, 2);
  assert.deepEqual(Buffer.from(await readBack(up, entries[0]!)), big);
  assert.deepEqual(batcher.stats(), {
    puts: 2,
    filesBatched: 1,
    filesAlone: 1,
    uncompressedBytes: big.length + 5,
    storedBytes: entries[0]!.sizeBytes + entries[1]!.sizeBytes,
  });
});

test('the buffer is bounded: a full one is flushed before it overflows maxBufferBytes', async () => {
  const up = memoryUploader();
  const batcher = new CheckpointBatcher(up, (n) => n, {
    compression: { codec: 'none', level: 0 },
    maxBufferBytes: 1000,
  });
  const files = ['base', 'operators'] as const;
  for (const [i, role] of files.entries())
    await batcher.add({ name: `f${i}`, role, chunks: [Buffer.alloc(600, i)] });
  const entries = await batcher.finish();
  assert.deepEqual(
    entries.map((e) => e.object),
    ['batch-0.bin', 'batch-1.bin'],
  );
  for (const body of up.objects.values()) assert.ok(body.length <= 1000);
  assert.deepEqual(Buffer.from(await readBack(up, entries[1]!)), Buffer.alloc(600, 1));
});

test('a packed file whose slice was damaged is TIDEMARK_CORRUPTION naming the object and the file', async () => {
  const up = memoryUploader();
  const batcher = new CheckpointBatcher(up, (n) => n, { compression: { codec: 'zstd', level: 3 } });
  await batcher.add({ name: 'state.delta', role: 'delta', chunks: [deltaFile(100)] });
  await batcher.add({ name: 'operators.bin', role: 'operators', chunks: [Buffer.from('ops'.repeat(100))] });
  const entries = await batcher.finish();
  const body = up.objects.get('batch-0.bin')!;
  body[entries[1]!.offset! + 30]! ^= 0x01;
  await assert.rejects(readBack(up, entries[1]!), (err: unknown) =>
    isTidemarkError(err, 'TIDEMARK_CORRUPTION'),
  );
  // The neighbour in the same object is untouched and still reads.
  assert.ok((await readBack(up, entries[0]!)).length > 0);
});

test('bad batcher options are TIDEMARK_INVALID_ARGUMENT, before anything is uploaded', () => {
  const up = memoryUploader();
  assert.throws(
    () =>
      new CheckpointBatcher(up, (n) => n, { compression: { codec: 'none', level: 0 }, maxBufferBytes: 0 }),
    (err: unknown) => isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'),
  );
  assert.equal(up.puts, 0);
});
