/**
 * Create-only puts of one key racing in a file:// store: exactly one wins, every other one is
 * TIDEMARK_CONFLICT, and the stored object is the winner's body with the winner's metadata (a
 * loser never replaces or damages it), with no temporary file left behind.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('of racing create-only puts of one file:// key exactly one wins and the losers leave its body and metadata intact', async () => {
  const root = tmpDir('file-race');
  const writers = Array.from(
    { length: 8 },
    () => new FileObjectStorage({ bucket: 'file', prefix: '', directory: root }),
  );
  const outcomes = await Promise.allSettled(
    writers.map((w, i) =>
      w.put('writers/00000000000000000001', Buffer.alloc(4096 + i, i), {
        createOnly: true,
        metadata: { writer: String(i) },
      }),
    ),
  );
  const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
  assert.equal(won.length, 1, `exactly one winner, got ${won.join(', ')}`);
  for (const o of outcomes)
    if (o.status === 'rejected') assert.ok(isTidemarkError(o.reason, 'TIDEMARK_CONFLICT'), String(o.reason));
  const winner = won[0]!;
  const info = await writers[0]!.head('writers/00000000000000000001');
  assert.deepEqual(info?.metadata, { writer: String(winner) });
  assert.deepEqual(
    Buffer.from(await writers[0]!.get('writers/00000000000000000001', 1 << 20)),
    Buffer.alloc(4096 + winner, winner),
  );
  assert.deepEqual(fs.readdirSync(path.join(root, 'writers')), ['00000000000000000001']);
});
