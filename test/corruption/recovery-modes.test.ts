// The named WAL recovery modes, each shown in pairs: what it keeps and what it refuses.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { segmentFileName, type WalRecoveryMode } from '../../src/wal/index.ts';
import { tmpDir } from '../helpers/tmp.ts';

const RECORDS = 400;

/** A data directory of RECORDS puts `k<i>` = `v<i>` over several 4 KiB segments. */
async function writeData(label: string): Promise<{ dir: string; wal: string; segments: string[] }> {
  const dir = path.join(tmpDir(label), 'data');
  // Not preallocated: the final segment's file ends where its data does (the tests append to it).
  const s = await new RecoveryManager({
    dir,
    wal: { segmentSizeBytes: 4096, preallocateSegments: false },
  }).open();
  // Awaited every 5 puts: batches of 5 records (or fewer where a segment ends), several per segment.
  for (let i = 1; i <= RECORDS; i++) {
    s.store.put(`k${i}`, Buffer.from(`v${i}-${'x'.repeat(40)}`));
    if (i % 5 === 0) await s.store.durable();
  }
  await s.close();
  const wal = path.join(dir, 'wal');
  const segments = fs
    .readdirSync(wal)
    .filter((f) => f.endsWith('.log'))
    .sort();
  assert.ok(segments.length >= 5, `${segments.length} segments`);
  return { dir, wal, segments };
}

const recoverWith = (dir: string, mode: WalRecoveryMode) => new RecoveryManager({ dir, mode }).recover();
const keys = (state: { keys(): Iterable<string> }) =>
  [...state.keys()].map((k) => Number(k.slice(1))).sort((a, b) => a - b);

async function refuses(p: Promise<unknown>, code: string, pathPart?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTidemarkError(err), String(err));
    assert.equal(err.code, code, err.message);
    if (pathPart) assert.ok(err.path?.includes(pathPart), `${err.path} names ${pathPart}`);
    return true;
  });
}

test('tolerate-torn-tail (default) keeps everything before a torn write at the end; absolute-consistency refuses it', async () => {
  const { dir, wal, segments } = await writeData('modes-torn');
  const last = path.join(wal, segments.at(-1)!);
  const bytes = fs.readFileSync(last);
  fs.writeFileSync(last, Buffer.concat([bytes, Buffer.alloc(700, 0xab)])); // garbage after the last record
  await refuses(recoverWith(dir, 'absolute-consistency'), 'TIDEMARK_CORRUPTION', segments.at(-1));
  await refuses(new RecoveryManager({ dir, mode: 'absolute-consistency' }).open(), 'TIDEMARK_CORRUPTION');
  assert.equal(fs.statSync(last).size, bytes.length + 700, 'absolute-consistency cut nothing');

  const r = await recoverWith(dir, 'tolerate-torn-tail');
  assert.equal(r.state.size, RECORDS, 'every record kept');
  assert.equal(r.stats.tornTail?.bytesDropped, 700);
  const opened = await new RecoveryManager({ dir }).open();
  assert.equal(opened.recovered.stats.tornTail?.offset, bytes.length);
  assert.equal(fs.statSync(last).size, bytes.length, 'open cut exactly the torn bytes');
  await opened.close();
  assert.equal((await recoverWith(dir, 'absolute-consistency')).state.size, RECORDS, 'clean after the cut');
});

test('damage in a sealed segment: tolerate-torn-tail and absolute-consistency refuse it, naming the file and offset, and cut nothing', async () => {
  const { dir, wal, segments } = await writeData('modes-sealed');
  const victim = path.join(wal, segments[2]!);
  const bytes = fs.readFileSync(victim);
  bytes[200]! ^= 0x04;
  fs.writeFileSync(victim, bytes);
  for (const mode of ['tolerate-torn-tail', 'absolute-consistency'] as const) {
    await refuses(recoverWith(dir, mode), 'TIDEMARK_CORRUPTION', segments[2]);
    await refuses(new RecoveryManager({ dir, mode }).open(), 'TIDEMARK_CORRUPTION', segments[2]);
  }
  assert.deepEqual(
    fs
      .readdirSync(wal)
      .filter((f) => f.endsWith('.log'))
      .sort(),
    segments,
    'no segment removed',
  );
});

test('point-in-time keeps the consistent prefix before the first damage, reports what it dropped, and open() cuts the log there', async () => {
  const { dir, wal, segments } = await writeData('modes-pit');
  const victim = path.join(wal, segments[2]!);
  const bytes = fs.readFileSync(victim);
  bytes[1000]! ^= 0x04; // inside a batch after the segment's first
  fs.writeFileSync(victim, bytes);

  const r = await recoverWith(dir, 'point-in-time');
  const kept = keys(r.state);
  assert.ok(kept.length > 10 && kept.length < RECORDS / 2, `${kept.length} records kept`);
  assert.deepEqual(
    kept,
    Array.from({ length: kept.length }, (_, i) => i + 1),
    'a prefix, no holes',
  );
  const damage = r.stats.walDamage[0]!;
  assert.ok(damage.path.endsWith(segments[2]!));
  assert.ok(damage.offset <= 1000 && damage.offset > 32, `offset ${damage.offset}`);
  assert.match(damage.reason, /later segment\(s\) dropped/);

  const opened = await new RecoveryManager({ dir, mode: 'point-in-time' }).open();
  assert.deepEqual(keys(opened.recovered.state), kept);
  assert.equal(opened.recovered.stats.walDamage[0]?.offset, damage.offset);
  opened.store.put('after', Buffer.from('cut'));
  await opened.close();
  assert.deepEqual(
    fs
      .readdirSync(wal)
      .filter((f) => f.endsWith('.log'))
      .sort(),
    segments.slice(0, 3),
    'later segments removed',
  );
  const after = fs.readFileSync(victim);
  assert.ok(after.subarray(0, damage.offset).equals(bytes.subarray(0, damage.offset)), 'intact prefix kept');
  assert.ok(after.length < bytes.length, 'damaged segment cut at the damage (the new record follows)');
  const again = await recoverWith(dir, 'absolute-consistency');
  assert.equal(again.state.size, kept.length + 1, 'the cut log is whole, and the new record follows it');
});

test('salvage keeps every intact record around the damage and reports what it skipped; open() refuses salvage', async () => {
  const { dir, wal, segments } = await writeData('modes-salvage');
  const victim = path.join(wal, segments[2]!);
  const bytes = fs.readFileSync(victim);
  bytes[1000]! ^= 0x04; // inside a batch after the segment's first
  fs.writeFileSync(victim, bytes);

  const r = await recoverWith(dir, 'salvage');
  const kept = keys(r.state);
  // A batch is whole or not: salvage loses the damaged record's batch (at most 5 records) only.
  assert.ok(
    kept.length >= RECORDS - 5 && kept.length < RECORDS,
    `all but the damaged batch (${kept.length})`,
  );
  assert.ok(r.stats.walDamage.length >= 1);
  assert.ok(r.stats.walDamage.some((d) => d.path.endsWith(segments[2]!) && d.bytesSkipped > 0));
  await refuses(new RecoveryManager({ dir, mode: 'salvage' }).open(), 'TIDEMARK_INVALID_ARGUMENT');
  assert.equal(fs.readFileSync(victim).length, bytes.length, 'salvage changed nothing on disk');

  // A whole segment whose header is destroyed: salvage skips it and keeps the others.
  const headerVictim = path.join(wal, segmentFileName(4));
  const h = fs.readFileSync(headerVictim);
  h[3]! ^= 0xff;
  fs.writeFileSync(headerVictim, h);
  const r2 = await recoverWith(dir, 'salvage');
  assert.ok(r2.state.size < kept.length && r2.state.size > RECORDS / 2, `${r2.state.size} kept`);
  assert.ok(r2.stats.walDamage.some((d) => d.path.endsWith(segmentFileName(4)) && /header/.test(d.reason)));
});
