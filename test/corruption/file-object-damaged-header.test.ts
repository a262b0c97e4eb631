/**
 * A file:// object's header (its size, CRC32C and metadata, before the body in the same file) is
 * checked: a flipped byte in it — which could otherwise silently change an archived segment's
 * writer epoch — a length field that cannot fit, a body cut short, or a newer layout version is
 * refused with a code naming the object and the offset, never read as other metadata.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isTidemarkError, type TidemarkErrorCode } from '../../src/errors.ts';
import {
  FILE_OBJECT_HEADER_BYTES_OFFSET,
  FILE_OBJECT_PREFIX_BYTES,
  FILE_OBJECT_VERSION_OFFSET,
} from '../../src/io/file-object-layout.ts';
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';
import { tmpDir } from '../helpers/tmp.ts';

const KEY = 'wal/wal-0000000000000007.log';

async function damaged(label: string, damage: (bytes: Buffer) => Buffer) {
  const root = tmpDir(label);
  const storage = new FileObjectStorage({ bucket: 'file', prefix: '', directory: root });
  await storage.put(KEY, Buffer.alloc(1000, 5), { metadata: { 'tidemark-epoch': '4' } });
  const file = path.join(root, KEY);
  fs.writeFileSync(file, damage(fs.readFileSync(file)));
  return storage;
}

const rejected = (code: TidemarkErrorCode, offset: number) => (err: unknown) => {
  assert.ok(isTidemarkError(err, code), String(err));
  assert.match(err.path ?? '', /wal-0000000000000007\.log$/);
  assert.equal(err.offset, offset);
  return true;
};

test('a file:// object whose header metadata has a flipped byte is TIDEMARK_CORRUPTION, not another writer epoch', async () => {
  const storage = await damaged('fo-header-flip', (b) => {
    const at = b.indexOf('"4"') + 1; // the epoch digit: still valid JSON once flipped
    b[at] = '5'.charCodeAt(0);
    return b;
  });
  await assert.rejects(storage.head(KEY), rejected('TIDEMARK_CORRUPTION', FILE_OBJECT_PREFIX_BYTES));
  await assert.rejects(storage.get(KEY, 1 << 20), rejected('TIDEMARK_CORRUPTION', FILE_OBJECT_PREFIX_BYTES));
});

test('a file:// object whose header length cannot fit in the file is TIDEMARK_CORRUPTION, also when listed', async () => {
  const storage = await damaged('fo-header-length', (b) => {
    b.writeUInt32LE(0xfffffff0, FILE_OBJECT_HEADER_BYTES_OFFSET);
    return b;
  });
  await assert.rejects(
    storage.get(KEY, 1 << 20),
    rejected('TIDEMARK_CORRUPTION', FILE_OBJECT_HEADER_BYTES_OFFSET),
  );
  await assert.rejects(
    storage.list('wal/'),
    rejected('TIDEMARK_CORRUPTION', FILE_OBJECT_HEADER_BYTES_OFFSET),
  );
});

test('a file:// object whose body was cut short is TIDEMARK_CORRUPTION at the end of its header', async () => {
  let headerEnd = 0;
  const storage = await damaged('fo-body-short', (b) => {
    headerEnd = FILE_OBJECT_PREFIX_BYTES + b.readUInt32LE(FILE_OBJECT_HEADER_BYTES_OFFSET);
    return b.subarray(0, b.length - 1);
  });
  await assert.rejects(storage.get(KEY, 1 << 20), rejected('TIDEMARK_CORRUPTION', headerEnd));
});

test('a file:// object of a newer layout version is TIDEMARK_UNSUPPORTED_VERSION', async () => {
  const storage = await damaged('fo-header-version', (b) => {
    b.writeUInt32LE(2, FILE_OBJECT_VERSION_OFFSET);
    return b;
  });
  await assert.rejects(
    storage.head(KEY),
    rejected('TIDEMARK_UNSUPPORTED_VERSION', FILE_OBJECT_VERSION_OFFSET),
  );
});
