import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FsDirectory } from '../../src/io/index.ts';
import { openChangelogAwareStore } from '../../src/pipeline/index.ts';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { readSegmentHead } from '../../src/wal/segment-files.ts';
import { segmentFileName } from '../../src/wal/segment-name.ts';
import { asText, buildCheckpointedDir } from '../helpers/checkpointed-dir.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Both engines' open, and read-only recover, all refuse with `code` and a message matching `message`. */
async function allRefuse(dir: string, code: string, message?: RegExp): Promise<void> {
  const expect = message === undefined ? { code } : { code, message };
  await assert.rejects(new RecoveryManager({ dir }).recover(), expect);
  await assert.rejects(new RecoveryManager({ dir }).open(), expect);
  await assert.rejects(openChangelogAwareStore({ dir }), expect);
}

function segmentNumbers(walDir: string): number[] {
  return fs
    .readdirSync(walDir)
    .map((n) => /^wal-(\d+)\.log$/.exec(n)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

test('a deleted wal/ after a checkpoint is TIDEMARK_DATA_LOSS naming the missing LSNs, in both engines, never a silent start from the checkpoint', async () => {
  const d = await buildCheckpointedDir(tmpDir('no-wal'));
  fs.rmSync(d.walDir, { recursive: true });
  await allRefuse(d.dir, 'TIDEMARK_DATA_LOSS', /records from LSN 366 on/);
  // An emptied wal/ (the directory kept) is the same.
  fs.mkdirSync(d.walDir, { recursive: true });
  await allRefuse(d.dir, 'TIDEMARK_DATA_LOSS', /holds no segment/);
});

test('a deleted middle WAL segment is TIDEMARK_DATA_LOSS naming the segments and LSNs lost', async () => {
  const d = await buildCheckpointedDir(tmpDir('gap'));
  const numbers = segmentNumbers(d.walDir);
  assert.ok(numbers.length >= 3, `segments ${numbers}`);
  const middle = numbers[numbers.length - 2]!;
  const next = (await readSegmentHead(await FsDirectory.open(d.walDir), middle + 1)).header;
  assert.ok(typeof next !== 'string');
  fs.rmSync(path.join(d.walDir, segmentFileName(middle)));
  await allRefuse(
    d.dir,
    'TIDEMARK_DATA_LOSS',
    new RegExp(`segments ${middle}\\.\\.${middle} are missing.* up to LSN ${next.firstLsn - 1} are lost`),
  );
});

test('damage in a retained WAL segment before the newest checkpoint makes open refuse with TIDEMARK_CORRUPTION naming the file, before any fallback relies on it', async () => {
  const d = await buildCheckpointedDir(tmpDir('history'));
  const numbers = segmentNumbers(d.walDir);
  const first = numbers[0]!;
  // The first segment lies wholly before the replay start (newest checkpoint: LSN 365).
  const second = (await readSegmentHead(await FsDirectory.open(d.walDir), first + 1)).header;
  assert.ok(typeof second !== 'string' && second.firstLsn <= 366, 'segment 1 is history only');
  const file = path.join(d.walDir, segmentFileName(first));
  const bytes = fs.readFileSync(file);
  bytes[bytes.length >> 1]! ^= 0x40;
  fs.writeFileSync(file, bytes);
  await allRefuse(d.dir, 'TIDEMARK_CORRUPTION', new RegExp(segmentFileName(first)));
  const err = await new RecoveryManager({ dir: d.dir }).recover().catch((e: unknown) => e);
  assert.equal((err as { path?: string }).path, file);
  assert.equal(typeof (err as { offset?: number }).offset, 'number');
  // The modes that accept losing damaged records report it instead.
  const salvaged = await new RecoveryManager({ dir: d.dir, mode: 'salvage' }).recover();
  assert.equal(salvaged.stats.walDamage[0]?.path, file);
  assert.deepEqual(asText(salvaged.state), d.expected);
});

test('the undamaged directory opens in both engines with every acknowledged write', async () => {
  const d = await buildCheckpointedDir(tmpDir('clean'));
  const r = await new RecoveryManager({ dir: d.dir }).recover();
  assert.deepEqual(asText(r.state), d.expected);
  const { store, recovered } = await openChangelogAwareStore({ dir: d.dir });
  assert.deepEqual(asText(recovered.state), d.expected);
  await store.close();
});
