/**
 * Object stores named by URL: `s3://BUCKET/PREFIX`, `file:///PATH` (a directory on a local or
 * mounted file system), refused schemes with their reason. A `file://` store does everything an
 * S3 store does for a data directory: compressed checkpoints, the WAL archive, restore on an
 * empty machine.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ObjectStoreCheckpointStore } from '../../src/checkpoint/index.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { isCodecFrame } from '../../src/format/codec.ts';
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';
import { objectStoreUrl, parseObjectStoreUrl } from '../../src/io/object-store-config.ts';
import { RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { listArchivedSegments } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

function invalid(message: RegExp) {
  return (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'), String(err));
    assert.match(err.message, message);
    return true;
  };
}

test('s3:// and file:// URLs parse into configs; their location prints back', () => {
  assert.deepEqual(parseObjectStoreUrl('s3://my-bucket/a/b/'), { bucket: 'my-bucket', prefix: 'a/b' });
  const file = parseObjectStoreUrl('file:///var/lib/tidemark/store/');
  assert.equal(file.directory, '/var/lib/tidemark/store');
  assert.equal(objectStoreUrl(file), 'file:///var/lib/tidemark/store');
  assert.equal(parseObjectStoreUrl('file:///a%20b').directory, '/a b');
});

test('an unknown scheme is TIDEMARK_INVALID_ARGUMENT listing the accepted forms', () => {
  assert.throws(
    () => parseObjectStoreUrl('ftp://host/x'),
    invalid(/unknown object store scheme ftp:\/\/.*s3:\/\/.*file:\/\//),
  );
  assert.throws(() => parseObjectStoreUrl('/just/a/path'), invalid(/not an object store URL/));
  assert.throws(() => parseObjectStoreUrl('file://host/relative'), invalid(/file:\/\/\/ABSOLUTE\/PATH/));
});

test('gs:// and az:// are refused with what to use instead', () => {
  assert.throws(
    () => parseObjectStoreUrl('gs://bucket/p'),
    invalid(/not supported.*storage\.googleapis\.com/),
  );
  assert.throws(() => parseObjectStoreUrl('az://container/p'), invalid(/not supported.*Azure/));
  assert.throws(() => parseObjectStoreUrl('abfss://c@acct.dfs.core.windows.net/p'), invalid(/Azure/));
});

test('a RecoveryManager opened with a file:// store rejects a bad URL before touching the directory', async () => {
  const dir = path.join(tmpDir('url-bad'), 'data');
  assert.throws(() => new RecoveryManager({ dir, objectStore: 'gs://b/p' }), invalid(/not supported/));
  assert.equal(fs.existsSync(dir), false);
});

test('a file:// store: a create-only write races lose with TIDEMARK_CONFLICT, and a damaged object is TIDEMARK_CORRUPTION', async () => {
  const root = tmpDir('url-file');
  const storage = new FileObjectStorage(parseObjectStoreUrl(pathToFileURL(root).href));
  await storage.put('a/b.bin', Buffer.from('first'), { createOnly: true });
  await assert.rejects(storage.put('a/b.bin', Buffer.from('second'), { createOnly: true }), (err: unknown) =>
    isTidemarkError(err, 'TIDEMARK_CONFLICT'),
  );
  assert.equal(Buffer.from(await storage.get('a/b.bin', 100)).toString(), 'first');
  assert.deepEqual(
    (await storage.list('a/')).map((o) => o.key),
    ['a/b.bin'],
  );
  // One byte of the body (the file's last bytes, after the header) flipped on disk.
  const onDisk = fs.readFileSync(path.join(root, 'a/b.bin'));
  onDisk[onDisk.length - 2] = onDisk[onDisk.length - 2]! ^ 0x40;
  fs.writeFileSync(path.join(root, 'a/b.bin'), onDisk);
  await assert.rejects(storage.get('a/b.bin', 100), (err: unknown) =>
    isTidemarkError(err, 'TIDEMARK_CORRUPTION'),
  );
  await storage.delete(['a/b.bin']);
  assert.equal(await storage.head('a/b.bin'), undefined);
});

test('a data directory on a file:// store checkpoints and archives compressed, and restores on an empty machine', async () => {
  const root = tmpDir('url-restore');
  const url = pathToFileURL(path.join(root, 'store')).href;
  const model = new Map<string, Buffer>();
  const s = await new RecoveryManager({
    dir: path.join(root, 'writer'),
    objectStore: url,
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
  }).open();
  for (let i = 0; i < 300; i++) {
    const v = payloadFor(i);
    s.store.put(`k${i % 120}`, v);
    model.set(`k${i % 120}`, v);
  }
  await s.store.wal.sync();
  await s.checkpoint();
  for (let i = 300; i < 400; i++) {
    const v = payloadFor(i);
    s.store.put(`k${i % 120}`, v);
    model.set(`k${i % 120}`, v);
  }
  await s.close();

  const store = new ObjectStoreCheckpointStore(parseObjectStoreUrl(url));
  const [id] = await store.list();
  const manifest = await store.loadManifest(id!);
  assert.ok(manifest.files.every((f) => f.codec !== undefined && f.uncompressedBytes !== undefined));
  const archived = await listArchivedSegments(store.storage);
  assert.ok(archived.length >= 3, `${archived.length} archived segments`);
  const first = await store.storage.get(
    `wal/${path.basename(`wal-${String(archived[0]!.number).padStart(16, '0')}.log`)}`,
    1e6,
  );
  assert.ok(isCodecFrame(first), 'archived segments are framed');
  store.close();

  const restored = await restoreFromObjectStore({ from: url, dir: path.join(root, 'new-machine') });
  assert.equal(restored.checkpointId, id);
  const r = await new RecoveryManager({ dir: path.join(root, 'new-machine') }).recover();
  assert.deepEqual(new Map([...r.state].map(([k, v]) => [k, Buffer.from(v)])), model);
});
