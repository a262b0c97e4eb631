import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { RecoveryManager, readWal, type WalRecord } from '../../src/index.js';
import { tmpDir } from '../helpers/tmp.js';

/** A data directory whose WAL spans several 4 KiB segments: `count` puts, then a commit. */
async function writeLog(count: number): Promise<string> {
  const dir = tmpDir('read-wal');
  const { store, close } = await new RecoveryManager({ dir, wal: { segmentSizeBytes: 4096 } }).open();
  for (let i = 0; i < count; i++) store.put(`k${i}`, new TextEncoder().encode(`value-${i}`));
  store.delete('k0');
  await store.flushed(store.commit({ src: count }, 0));
  await close();
  return path.join(dir, 'wal');
}

test('for await over readWal yields every record in LSN order, with values that stay valid after the loop moves on', async () => {
  const walDir = await writeLog(600);
  assert.ok(fs.readdirSync(walDir).filter((n) => n.endsWith('.log')).length >= 3, 'several segments');
  const records: WalRecord[] = [];
  for await (const r of readWal(walDir)) records.push(r);
  const puts = records.filter((r) => r.type === 'put');
  assert.equal(puts.length, 600);
  for (let i = 0; i < records.length; i++) assert.equal(records[i]!.lsn, records[0]!.lsn + i);
  // Values held across segments are copies, not views of a reused buffer.
  for (const [i, r] of puts.entries()) {
    assert.equal(r.key, `k${i}`);
    assert.equal(new TextDecoder().decode(r.value), `value-${i}`);
  }
  assert.ok(records.some((r) => r.type === 'delete' && r.key === 'k0'));
  const commit = records.find((r) => r.type === 'commit');
  assert.deepEqual(commit?.type === 'commit' && commit.sourceOffsets, { src: 600 });
  assert.equal(records.at(-1)!.type, 'clean-shutdown');
});

test('readWal starts at fromLsn and stops after untilLsn', async () => {
  const walDir = await writeLog(100);
  const lsns: number[] = [];
  for await (const r of readWal(walDir, { fromLsn: 40, untilLsn: 60 })) lsns.push(r.lsn);
  assert.deepEqual(
    lsns,
    Array.from({ length: 21 }, (_, i) => 40 + i),
  );
});

test('an early break from readWal ends the read without an unhandled rejection, and the log reads again', async () => {
  const walDir = await writeLog(600);
  let seen = 0;
  for await (const r of readWal(walDir)) {
    seen++;
    if (r.lsn === 5) break;
  }
  assert.equal(seen, 5);
  // A throw inside the loop also stops the reader.
  await assert.rejects(
    (async () => {
      for await (const _ of readWal(walDir)) throw new Error('consumer failed');
    })(),
    /consumer failed/,
  );
  let again = 0;
  for await (const _ of readWal(walDir)) again++;
  assert.ok(again > 300);
});

test('readWal with an aborted signal rejects TIDEMARK_ABORTED, and a malformed option is TIDEMARK_INVALID_ARGUMENT', async () => {
  const walDir = await writeLog(600);
  const controller = new AbortController();
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of readWal(walDir, { signal: controller.signal })) {
        seen++;
        if (seen === 3) controller.abort(new Error('enough'));
      }
    })(),
    (err: Error & { code?: string; cause?: unknown }) =>
      err.code === 'TIDEMARK_ABORTED' && (err.cause as Error).message === 'enough',
  );
  assert.ok(seen < 300, `stopped early (saw ${seen})`);
  for (const bad of [{ fromLsn: 0 }, { fromLsn: 1.5 }, { mode: 'nope' }, { signal: 'x' }]) {
    await assert.rejects(readWal(walDir, bad as never).next(), { code: 'TIDEMARK_INVALID_ARGUMENT' });
  }
  await assert.rejects(readWal(path.join(walDir, 'missing')).next(), { code: 'TIDEMARK_NOT_FOUND' });
});
