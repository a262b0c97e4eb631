// Point-in-time recovery by commit time (WAL format version 4): a restore to a time between two
// commits holds exactly the state of a replay up to the last batch committed at or before it.
// The object store is a file:// one (no S3 server needed).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseUntilTime, runRecover } from '../../src/cli/recover.ts';
import { isTidemarkError } from '../../src/errors.ts';
import { PutEncoder, SEGMENT_VERSION_OFFSET } from '../../src/format/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { examineDataDirectory, RecoveryManager, restoreFromObjectStore } from '../../src/recovery/index.ts';
import { lsnAtCommitTime } from '../../src/recovery/point-in-time.ts';
import { segmentFileName, WriteAheadLog } from '../../src/wal/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const root = tmpDir('pitr-time');

function asText(state: { entries(): Iterable<[string, Uint8Array]> }): Record<string, string> {
  return Object.fromEntries([...state.entries()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
}

/**
 * Writes 12 awaited commits of a few puts each, 2 ms apart, with a checkpoint after the 4th and
 * the 8th, archiving to a file:// store. Returns the store URL, the time each commit was
 * acknowledged and the model state then.
 */
async function writeHistory(label: string): Promise<{
  url: string;
  commits: { ackedAtMs: number; lsn: number; state: Map<string, Uint8Array> }[];
  startedAtMs: number;
}> {
  const url = `file://${path.join(root, `${label}-store`)}`;
  const startedAtMs = Date.now();
  await sleep(3);
  const s = await new RecoveryManager({
    objectStore: url,
    dir: path.join(root, `${label}-writer`),
    archiveIntervalMs: 0,
    wal: { segmentSizeBytes: 4096 },
    maxRetained: 100,
  }).open();
  const model = new Map<string, Uint8Array>();
  const commits: { ackedAtMs: number; lsn: number; state: Map<string, Uint8Array> }[] = [];
  for (let c = 1; c <= 12; c++) {
    let lsn = 0;
    for (let i = 0; i < 5; i++) {
      const key = `k${(c * 7 + i) % 23}`;
      const value = payloadFor(c * 100 + i);
      lsn = s.store.put(key, value);
      model.set(key, value);
    }
    await s.store.flushed(lsn);
    commits.push({ ackedAtMs: Date.now(), lsn, state: new Map(model) });
    // The next commit is sealed strictly after this one was acknowledged (ms resolution).
    await sleep(3);
    if (c === 4 || c === 8) {
      await s.checkpoint();
      await sleep(3);
    }
  }
  await s.close();
  return { url, commits, startedAtMs };
}

test('point-in-time recovery to a commit time restores exactly the batches committed at or before it, base checkpoint + archived WAL', async () => {
  const { url, commits, startedAtMs } = await writeHistory('exact');
  // Targets: just after commits before, between and after the checkpoints (a commit's ack time
  // is at or after its batch's commit time, and before the next batch's).
  for (const i of [0, 2, 3, 5, 8, 10]) {
    const c = commits[i]!;
    const dir = path.join(root, `exact-${i}`);
    const r0 = await restoreFromObjectStore({ from: url, dir, untilTimeMs: c.ackedAtMs });
    assert.equal(r0.targetLsn, c.lsn, `commit ${i + 1}`);
    const r = await new RecoveryManager({ dir }).recover();
    assert.equal(r.lsn, c.lsn, `commit ${i + 1}`);
    assert.deepEqual(asText(r.state), asText(c.state), `commit ${i + 1}`);
  }
  // The CLI: tidemark recover --from file://… --until-time ISO.
  const cliTarget = commits[6]!;
  const cli = await runRecover(
    {
      dir: path.join(root, 'exact-cli'),
      from: url,
      transactional: false,
      mode: 'tolerate-torn-tail',
      out: undefined,
      format: 'state',
      json: true,
      untilTimeMs: parseUntilTime(new Date(cliTarget.ackedAtMs).toISOString()),
    },
    () => {},
  );
  assert.deepEqual(asText(cli!.recovered.state), asText(cliTarget.state));
  // inspect reports the span of commit times of each (version 4) segment restored.
  const report = await examineDataDirectory(path.join(root, 'exact-cli'));
  const last = report.segments.findLast((seg) => seg.records > 0)!;
  assert.equal(last.version, 4);
  assert.ok(last.firstCommitTimeMs! <= last.lastCommitTimeMs!);
  assert.ok(last.lastCommitTimeMs! <= cliTarget.ackedAtMs);
  // Before the first commit (and every checkpoint): the empty state, from the archive at LSN 1.
  const before = path.join(root, 'exact-before');
  const r0 = await restoreFromObjectStore({ from: url, dir: before, untilTimeMs: startedAtMs });
  assert.equal(r0.targetLsn, 0);
  assert.equal(r0.checkpointId, undefined);
  assert.equal((await new RecoveryManager({ dir: before }).recover()).state.size, 0);
  // After the end of the archive: nothing says no commit was lost between its end and the
  // target, so the restore refuses (as PostgreSQL's "recovery ended before the target").
  await assert.rejects(
    restoreFromObjectStore({
      from: url,
      dir: path.join(root, 'exact-after'),
      untilTimeMs: Date.now() + 60_000,
    }),
    (err) => isTidemarkError(err, 'TIDEMARK_DATA_LOSS'),
  );
});

test('a WAL written before commit times existed (format version 3) is refused for a time target with TIDEMARK_INVALID_ARGUMENT, never approximated; its timed continuation resolves', async () => {
  // The golden v3 segment, continued by this build: untimed batches in it until it rotates,
  // then version 4 segments with commit times.
  const dir = await FsDirectory.open(path.join(root, 'v3'));
  fs.copyFileSync(
    new URL('../fixtures/golden-wal-v3/wal-0000000000000001.log', import.meta.url),
    path.join(dir.path, segmentFileName(1)),
  );
  const wal = await WriteAheadLog.open(dir, { segmentSizeBytes: 4096 });
  const put = new PutEncoder();
  let lastUntimed = 0;
  while (wal.segmentList().length === 1) {
    const lsn = wal.append(put.set(`k${wal.lastLsn}`, payloadFor(wal.lastLsn)));
    await wal.flushed(lsn);
    if (wal.segmentList().length === 1) lastUntimed = lsn;
  }
  await sleep(3);
  const timedFrom = wal.lastLsn + 1;
  const lsn = wal.append(put.set('timed', payloadFor(1)));
  await wal.flushed(lsn);
  const ackedAtMs = Date.now();
  await sleep(3);
  await wal.close();
  const seg1 = fs.readFileSync(path.join(dir.path, segmentFileName(1)));
  assert.equal(seg1.readUInt16LE(SEGMENT_VERSION_OFFSET), 3, 'the continued segment stays version 3');
  // Any record the resolver must look at without a commit time: refused, with the reason.
  await assert.rejects(lsnAtCommitTime(dir, { afterLsn: 0, untilTimeMs: ackedAtMs }), (err) => {
    assert.ok(isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'));
    assert.match(err.message, /predates WAL format version 4/);
    return true;
  });
  // A base checkpoint past the untimed records: the rest is timed and resolves exactly.
  assert.equal(await lsnAtCommitTime(dir, { afterLsn: lastUntimed, untilTimeMs: ackedAtMs }), lsn);
  assert.ok(timedFrom <= lsn);
});

test('a point-in-time target on a per-core store is refused, not silently ignored by restoring everything', async () => {
  const dir = path.join(root, 'per-core-target');
  const from = pathToFileURL(path.join(root, 'per-core-store')).href;
  for (const target of [{ untilLsn: 5 }, { untilTimeMs: Date.now() }]) {
    await assert.rejects(
      runRecover(
        {
          dir,
          from,
          cores: 2,
          transactional: false,
          mode: 'tolerate-torn-tail',
          out: undefined,
          format: 'state',
          json: true,
          ...target,
        },
        () => {},
      ),
      (err: unknown) => {
        assert.ok(isTidemarkError(err, 'TIDEMARK_INVALID_ARGUMENT'), String(err));
        assert.match(err.message, /per-core/);
        return true;
      },
    );
  }
  assert.equal(fs.existsSync(dir), false, 'nothing was touched');
});
