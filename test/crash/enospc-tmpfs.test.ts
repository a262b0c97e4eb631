// A real full disk: a 1 MiB tmpfs (fails at exactly 1,048,576 bytes). Nothing that did not fit is
// acknowledged, the tail is cut back to a record boundary when space is freed, and a checkpoint
// that does not fit never deletes WAL.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { isTidemarkError } from '../../src/errors.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';

const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-enospc-'));
let why: string | undefined = process.getuid?.() === 0 ? undefined : 'not root: mounting a tmpfs needs root';
const mount = (size: string) => execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
const remount = (size: string) => execFileSync('mount', ['-o', `remount,size=${size}`, mnt]);

before(() => {
  if (why === undefined) {
    try {
      mount('1m');
    } catch (err) {
      why = `mount -t tmpfs failed: ${String(err)}`;
    }
  }
});
after(() => {
  if (why === undefined) execFileSync('umount', [mnt]);
  fs.rmSync(mnt, { recursive: true, force: true });
});

function requireMount(t: { skip: (m: string) => void }): boolean {
  if (why === undefined) return true;
  if (process.env.TIDEMARK_SKIP_POWERCUT === '1') {
    t.skip(`ENOSPC TESTS NOT RUN: ${why}`);
    return false;
  }
  assert.fail(`this machine cannot mount a tmpfs (${why}); set TIDEMARK_SKIP_POWERCUT=1 to skip knowingly`);
}

const OPTIONS = { transactional: true, wal: { segmentSizeBytes: 64 * 1024, groupCommitDelayMs: 0 } };

test('a full tmpfs: no acknowledgement for what did not fit, and after space is freed the log reopens cut back to a record boundary', async (t) => {
  if (!requireMount(t)) return;
  remount('1m');
  const dir = path.join(mnt, 'wal-full');
  const s = await new RecoveryManager({ dir, ...OPTIONS }).open();
  let acked = 0;
  let failure: unknown;
  const value = Buffer.alloc(900, 7);
  try {
    for (let b = 1; b < 10_000; b++) {
      for (let i = 0; i < 4; i++) s.store.put(`k${b}-${i}`, value);
      await s.store.flushed(s.store.commit({ src: b }));
      acked = b;
    }
  } catch (err) {
    failure = err;
  }
  assert.ok(isTidemarkError(failure, 'TIDEMARK_NO_SPACE'), String(failure));
  assert.ok(acked > 100, `${acked} batches fitted`);
  assert.throws(
    () => s.store.put('after', value),
    (e: unknown) => isTidemarkError(e, 'TIDEMARK_NO_SPACE'),
  );
  await assert.rejects(s.close(), (e: unknown) => isTidemarkError(e, 'TIDEMARK_NO_SPACE'));

  remount('8m'); // space freed
  const r = await new RecoveryManager({ dir, ...OPTIONS }).open();
  const n = r.recovered.sourceOffsets.src ?? 0;
  assert.ok(n >= acked && n <= acked + 1, `recovered ${n}, acknowledged ${acked}`);
  assert.equal([...r.store.entries()].length, n * 4);
  r.store.put('after-space', value);
  await r.store.flushed(r.store.commit({ src: n + 1 }));
  await r.close();
  const again = await new RecoveryManager({ dir, ...OPTIONS, mode: 'absolute-consistency' }).recover();
  assert.equal(again.sourceOffsets.src, n + 1, 'the cut log is whole and carries on');
  fs.rmSync(dir, { recursive: true });
});

test('a checkpoint that does not fit fails with TIDEMARK_NO_SPACE and deletes no WAL; with space, the next one succeeds', async (t) => {
  if (!requireMount(t)) return;
  remount('1m');
  const dir = path.join(mnt, 'ckpt-full');
  const s = await new RecoveryManager({ dir, ...OPTIONS, maxRetained: 1 }).open();
  const value = Buffer.alloc(1000, 3);
  for (let b = 1; b <= 110; b++) {
    for (let i = 0; i < 5; i++) s.store.put(`k${b}-${i}`, value); // ~550 KB of distinct keys
    s.store.commit({ src: b });
  }
  await s.store.durable();
  // Segments only: a preallocated next segment (next-segment.prealloc) may come and go.
  const walFiles = () =>
    fs
      .readdirSync(path.join(dir, 'wal'))
      .filter((f) => /^wal-\d+\.log$/.test(f))
      .sort();
  const before = walFiles();
  assert.ok(before.length > 3);
  await assert.rejects(s.checkpoint(), (e: unknown) => isTidemarkError(e, 'TIDEMARK_NO_SPACE'));
  assert.deepEqual(walFiles(), before, 'no WAL segment deleted');
  remount('8m');
  const meta = await s.checkpoint();
  assert.equal(meta.kind, 'base');
  assert.ok(walFiles().length < before.length, 'the successful checkpoint truncated the WAL');
  await s.close();
  const r = await new RecoveryManager({ dir, ...OPTIONS }).recover();
  assert.equal(r.sourceOffsets.src, 110);
  assert.equal(r.state.size, 550);
});
