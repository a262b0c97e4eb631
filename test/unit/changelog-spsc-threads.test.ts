import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StateChangelogBuffer } from '../../src/changelog/index.ts';
import { spscKey, spscPayloadCrc, spscValue } from '../helpers/spsc-pattern.ts';
import { startTsWorker } from '../helpers/ts-worker.ts';

const TOTAL = Number(process.env.TIDEMARK_SPSC_ENTRIES ?? 10_000_000);
const CONSUMER = fileURLToPath(new URL('../helpers/spsc-consumer.ts', import.meta.url));

test(`${TOTAL} entries of 4..330 bytes cross from a producer thread to a consumer thread intact and in order`, async () => {
  // A small ring and arena so both wrap thousands of times and the producer often finds them full.
  const ring = StateChangelogBuffer.create({ capacityEntries: 1024, arenaBytes: 64 * 1024 });
  const worker = startTsWorker(CONSUMER, { shared: ring.shared, total: TOTAL });
  const result = new Promise<{ seq: number; checksum: number; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  let expected = 0;
  let fullEvents = 0;
  for (let seq = 1; seq <= TOTAL; seq++) {
    const key = spscKey(seq);
    const value = spscValue(seq);
    while (!ring.pushPut(key, value, 0)) {
      fullEvents++;
      ring.wakeConsumer();
    }
    expected = (Math.imul(expected, 0x9e3779b1) ^ spscPayloadCrc(seq)) >>> 0;
  }
  ring.wakeConsumer();
  const got = await result;
  await worker.terminate();
  assert.equal(got.error, undefined, got.error);
  assert.equal(got.seq, TOTAL);
  assert.equal(got.checksum, expected, 'order-sensitive checksum of every payload CRC');
  assert.ok(fullEvents > 0, 'the producer met a full ring at least once');
});
