/**
 * A file:// store written by the earlier layout (raw object files, metadata in a sidecar
 * `.meta/<key>.json`) still reads with its metadata and checksum after the move to one file per
 * object (header + body); new writes never create sidecars; rewriting the class converts an old
 * object and keeps its metadata.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { crc32c } from '../../src/format/crc32c.ts';
import { FILE_OBJECT_MAGIC } from '../../src/io/file-object-layout.ts';
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Writes `key` as the earlier layout did: the raw bytes, then (optionally) a sidecar. */
function writeLegacy(root: string, key: string, body: Buffer, sidecar?: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(path.join(root, key)), { recursive: true });
  fs.writeFileSync(path.join(root, key), body);
  if (sidecar === undefined) return;
  const file = path.join(root, '.meta', `${key}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(sidecar));
}

test('an object of the earlier raw-file-plus-sidecar layout still reads with its metadata, and a damaged one is still TIDEMARK_CORRUPTION', async () => {
  const root = tmpDir('file-legacy');
  const storage = new FileObjectStorage({ bucket: 'file', prefix: '', directory: root });
  const body = Buffer.from('an archived segment of the earlier layout');
  writeLegacy(root, 'wal/wal-0000000000000001.log', body, {
    sizeBytes: body.length,
    crc32c: crc32c(body),
    metadata: { 'tidemark-epoch': '3', 'tidemark-first-lsn': '17' },
    storageClass: 'STANDARD',
    tags: { 'tidemark-tier': 'hot' },
  });
  writeLegacy(root, 'wal/archived.json', Buffer.from('{"segment":1}')); // no sidecar: read unchecked

  assert.deepEqual(await storage.list('wal/'), [
    { key: 'wal/archived.json', sizeBytes: 13 },
    { key: 'wal/wal-0000000000000001.log', sizeBytes: body.length },
  ]);
  const info = await storage.head('wal/wal-0000000000000001.log');
  assert.deepEqual(info?.metadata, { 'tidemark-epoch': '3', 'tidemark-first-lsn': '17' });
  assert.equal(info?.crc32c, crc32c(body));
  assert.equal(info?.storageClass, 'STANDARD');
  assert.deepEqual(await storage.tagsOf('wal/wal-0000000000000001.log'), { 'tidemark-tier': 'hot' });
  assert.deepEqual(Buffer.from(await storage.get('wal/wal-0000000000000001.log', 1000)), body);
  assert.equal(Buffer.from(await storage.get('wal/archived.json', 1000)).toString(), '{"segment":1}');
  assert.deepEqual((await storage.head('wal/archived.json'))?.metadata, {});

  // The sidecar's checksum is still enforced.
  const damaged = Buffer.from(body);
  damaged[5] = damaged[5]! ^ 1;
  writeLegacy(root, 'wal/wal-0000000000000002.log', damaged, {
    sizeBytes: body.length,
    crc32c: crc32c(body),
    metadata: {},
  });
  await assert.rejects(storage.get('wal/wal-0000000000000002.log', 1000), (err: unknown) =>
    isTidemarkError(err, 'TIDEMARK_CORRUPTION'),
  );

  // Deleting removes the sidecar too, so a later put of that key starts clean.
  await storage.delete(['wal/wal-0000000000000002.log']);
  assert.equal(fs.existsSync(path.join(root, '.meta/wal/wal-0000000000000002.log.json')), false);
  assert.equal(await storage.head('wal/wal-0000000000000002.log'), undefined);
});

test('rewriting the class of an earlier-layout object converts it to one file, keeping its metadata and checksum', async () => {
  const root = tmpDir('file-legacy-rewrite');
  const storage = new FileObjectStorage({ bucket: 'file', prefix: '', directory: root });
  const body = Buffer.from('checkpoint bytes');
  writeLegacy(root, 'checkpoints/c/state.base', body, {
    sizeBytes: body.length,
    crc32c: crc32c(body),
    metadata: { 'tidemark-epoch': '2' },
  });
  await storage.rewriteClass('checkpoints/c/state.base', { storageClass: 'GLACIER_IR', tags: { t: 'cold' } });

  const file = fs.readFileSync(path.join(root, 'checkpoints/c/state.base'));
  assert.ok(file.subarray(0, 8).equals(FILE_OBJECT_MAGIC), 'rewritten in the one-file layout');
  assert.equal(fs.existsSync(path.join(root, '.meta/checkpoints/c/state.base.json')), false);
  const info = await storage.head('checkpoints/c/state.base');
  assert.deepEqual(info?.metadata, { 'tidemark-epoch': '2' });
  assert.equal(info?.storageClass, 'GLACIER_IR');
  assert.deepEqual(info?.tags, { t: 'cold' });
  assert.equal(info?.sizeBytes, body.length);
  assert.deepEqual(Buffer.from(await storage.get('checkpoints/c/state.base', 1000)), body);
});

test('a put never creates a sidecar, and rewriting the class keeps the body and metadata of a one-file object', async () => {
  const root = tmpDir('file-one-file');
  const storage = new FileObjectStorage({ bucket: 'file', prefix: 'p', directory: root });
  const body = Buffer.alloc(10_000, 3);
  await storage.put('wal/x', body, {
    createOnly: true,
    metadata: { 'tidemark-epoch': '9' },
    tags: { a: 'b' },
  });
  assert.equal(fs.existsSync(path.join(root, 'p', '.meta')), false);
  assert.deepEqual(await storage.list(''), [{ key: 'wal/x', sizeBytes: body.length }]);
  await storage.rewriteClass('wal/x', { storageClass: 'STANDARD_IA', tags: { a: 'c' } });
  const info = await storage.head('wal/x');
  assert.deepEqual(info?.metadata, { 'tidemark-epoch': '9' });
  assert.equal(info?.storageClass, 'STANDARD_IA');
  assert.deepEqual(info?.tags, { a: 'c' });
  assert.deepEqual(Buffer.from(await storage.get('wal/x', body.length)), body);
  await assert.rejects(storage.get('wal/x', body.length - 1), (err: unknown) =>
    isTidemarkError(err, 'TIDEMARK_LIMIT'),
  );
  assert.deepEqual(fs.readdirSync(path.join(root, 'p', 'wal')), ['x'], 'no temporary file left behind');
});
