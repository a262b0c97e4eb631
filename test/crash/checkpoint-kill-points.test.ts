// SIGKILL at every step of publishing a checkpoint — after the data file is written, after its
// fdatasync, after the manifest commit, after the pointer update, after the WAL marker, after
// pruning, after WAL truncation — for a first base, a delta, and a compaction base that also
// prunes the old chain. After each kill: recovery gives exactly the acknowledged state, from the
// new checkpoint if its manifest was committed and from the old one otherwise; every checkpoint
// left validates; and a writer reopening the directory carries on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CHECKPOINT_STEPS,
  checkpointName,
  FileSystemCheckpointStore,
  validateCheckpointChain,
} from '../../src/checkpoint/index.ts';
import { FsDirectory } from '../../src/io/index.ts';
import { CHECKPOINT_DIR_NAME, RecoveryManager } from '../../src/recovery/index.ts';
import { modelAfter } from '../helpers/checkpoint-workload.ts';
import { tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/checkpoint-kill-child.ts', import.meta.url));

function runChild(args: string[]): Promise<{ signal: string | null; acks: number[]; checkpoints: string[] }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (signal === null && code !== 0) reject(new Error(`child exited with ${code}`));
      const lines = out.split('\n').filter(Boolean);
      resolve({
        signal,
        acks: lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4))),
        checkpoints: lines.filter((l) => l.startsWith('checkpoint ')),
      });
    });
  });
}

const text = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString()]).sort());

// Checkpoint 0 is the first base, 1 a delta, 3 the compaction base (maxChainLength 2).
const KILL_STEPS = CHECKPOINT_STEPS.filter((s) => s !== 'published');
const COMMITTED_FROM = CHECKPOINT_STEPS.indexOf('manifest-committed');
const cases = [0, 1, 3].flatMap((checkpoint) => KILL_STEPS.map((step) => ({ checkpoint, step })));

test(`SIGKILL at each of ${cases.length} checkpoint publish steps leaves the old or the new checkpoint valid and loses nothing acknowledged`, async () => {
  for (const { checkpoint, step } of cases) {
    const label = `checkpoint ${checkpoint}, kill after ${step}`;
    const dir = tmpDir('ckpt-kill');
    const killed = await runChild([dir, '0', '5', step, String(checkpoint)]);
    assert.equal(killed.signal, 'SIGKILL', label);
    const acked = Math.max(...killed.acks);
    assert.equal(acked, checkpoint, `${label}: every round up to the checkpoint was acknowledged`);
    const kinds = killed.checkpoints.map((l) => l.split(' ')[2]);
    assert.deepEqual(
      kinds,
      ['base', 'delta', 'delta'].slice(0, checkpoint),
      `${label}: kinds before the kill`,
    );

    const r = await new RecoveryManager({ dir }).recover();
    assert.deepEqual(text(r.state), modelAfter(acked), `${label}: recovered state`);
    assert.deepEqual(r.sourceOffsets, { workload: acked + 1 }, `${label}: source offsets`);
    const committed = CHECKPOINT_STEPS.indexOf(step) >= COMMITTED_FROM;
    const expectedId = committed ? checkpoint + 1 : checkpoint === 0 ? undefined : checkpoint;
    assert.equal(r.stats.checkpointId, expectedId, `${label}: recovered from checkpoint`);
    assert.deepEqual(r.stats.checkpointsSkipped, [], `${label}: nothing invalid`);
    const store = new FileSystemCheckpointStore(await FsDirectory.open(path.join(dir, CHECKPOINT_DIR_NAME)));
    for (const id of await store.list()) {
      const v = await validateCheckpointChain(store, id);
      assert.ok(v.valid, `${label}: ${checkpointName(id)} ${JSON.stringify(v.problems)}`);
    }

    // A writer carries on from there: two more rounds and checkpoints, then a clean exit.
    const more = await runChild([dir, String(acked + 1), String(acked + 2), 'none', '-1']);
    assert.equal(more.signal, null, label);
    assert.equal(more.checkpoints.length, 2, label);
    const after = await new RecoveryManager({ dir }).recover();
    assert.deepEqual(text(after.state), modelAfter(acked + 2), `${label}: state after carrying on`);
    const latest = after.stats.checkpointId!;
    assert.ok((await validateCheckpointChain(store, latest)).valid, `${label}: latest valid`);
  }
});
