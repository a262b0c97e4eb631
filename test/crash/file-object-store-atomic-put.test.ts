/**
 * A file:// object store never shows an object without its metadata, whenever the writer dies:
 * archived segments carry their writer epoch and first LSN there, and an object published before
 * its metadata (the earlier layout wrote a sidecar after the object) was read as an epoch-0
 * segment of unknown position (a takeover then refused the directory with TIDEMARK_DATA_LOSS).
 * An object and its metadata are now one file published by one link(). A child process puts
 * objects create-only in a loop and is SIGKILLed at random moments; after each kill every listed
 * object must read back with its metadata and checksum, and a create-only put of the next key
 * must succeed (nothing left behind blocks it).
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileObjectStorage } from '../../src/io/file-object-storage.ts';
import { mulberry32 } from '../../src/testing/prng.ts';
import { tmpDir } from '../helpers/tmp.ts';

const ROUNDS = 12;

test(`a writer SIGKILLed mid-put ${ROUNDS} times never leaves an object visible without its metadata`, async () => {
  const seed = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
  console.log(`# seed ${seed} (TIDEMARK_SEED=${seed} to replay)`);
  const random = mulberry32(seed);
  const root = tmpDir('file-store-atomic-put');
  const storage = new FileObjectStorage({ bucket: 'file', prefix: '', directory: root });
  let next = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const child = fork(new URL('../helpers/file-store-put-loop.ts', import.meta.url), [root, String(next)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await once(child, 'message');
    await sleep(20 + Math.floor(random() * 80));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const listed = await storage.list('wal/');
    for (const o of listed) {
      const info = await storage.head(o.key);
      const i = Number(o.key.slice('wal/obj-'.length));
      assert.equal(
        info?.metadata['tidemark-epoch'],
        String(i),
        `${o.key}: visible without its metadata (round ${round})`,
      );
      assert.equal(o.sizeBytes, 64 * 1024, `${o.key}: listed with its body size`);
      assert.equal((await storage.get(o.key, 1 << 20)).length, 64 * 1024);
    }
    next = listed.length === 0 ? next : Number(listed.at(-1)!.key.slice('wal/obj-'.length)) + 1;
    // Nothing the killed put left behind (a temporary file) blocks the next create-only put.
    await storage.put(`wal/obj-${String(next).padStart(8, '0')}`, Buffer.alloc(64 * 1024, 7), {
      createOnly: true,
      metadata: { 'tidemark-epoch': String(next) },
    });
    next++;
  }
  assert.ok(next > ROUNDS, `the writer made progress (${next} objects)`);
});
