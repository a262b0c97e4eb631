/**
 * A writer record (`writers/<epoch>`) carries a CRC32C of its JSON: a flipped digit that still
 * parses — a cutoff read one too high would make a fenced writer's objects visible — is
 * TIDEMARK_CORRUPTION naming the record, and records written before the checksum still read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isTidemarkError } from '../../src/errors.ts';
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';
import { parseObjectStoreUrl } from '../../src/io/object-store-config.ts';
import { WriterFence, WriterHistory, writerKey } from '../../src/io/writer-epoch.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('a writer record whose cutoff digit flipped still parses but is TIDEMARK_CORRUPTION, not a wider visibility', async () => {
  const root = tmpDir('writer-crc');
  const storage = new FileObjectStorage(parseObjectStoreUrl(pathToFileURL(root).href));
  await WriterFence.claim(storage, { cutoffOf: async () => ({ checkpoint: 4, segment: 17 }) });
  assert.deepEqual((await WriterHistory.read(storage)).records, [
    { epoch: 1, cutoff: { checkpoint: 4, segment: 17 } },
  ]);

  const text = Buffer.from(await storage.get(writerKey(1), 1 << 20)).toString('utf8');
  assert.match(text, /"crc32c":\d+\}\n$/);
  // The stored object is replaced whole (a new file with its own valid store checksum), so only
  // the record's own checksum can tell.
  await storage.put(writerKey(1), Buffer.from(text.replace('"segment":17', '"segment":18')));
  await assert.rejects(WriterHistory.read(storage), (err: unknown) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_CORRUPTION'), String(err));
    assert.match(err.message, /writers\/00000000000000000001/);
    return true;
  });

  // A record from before the checksum (no crc32c member) is read as it was.
  const legacy = JSON.parse(text) as Record<string, unknown>;
  delete legacy.crc32c;
  await storage.put(writerKey(1), Buffer.from(`${JSON.stringify(legacy)}\n`));
  assert.deepEqual((await WriterHistory.read(storage)).records, [
    { epoch: 1, cutoff: { checkpoint: 4, segment: 17 } },
  ]);
});
