// A SIGKILL crash loop of the changelog-aware store (a supervisor restarting a process that is
// killed again within 5–300 ms): the WAL replayed at each open must stay bounded, checkpoints must
// keep completing, and every acknowledged commit must survive.
//
// Without a checkpoint on open, Ring 1's first checkpoint of each run (periodic, every 250 ms,
// after loading the latest checkpoint and replaying the WAL again) rarely completes before the
// kill, so each restart replays everything every earlier run wrote — and takes longer still.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { mulberry32 } from '../../src/testing/prng.ts';
import { tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/crash-loop-child.mjs', import.meta.url));
const LONG = process.env.TIDEMARK_LONG === '1';
const ROUNDS = Number(process.env.TIDEMARK_CRASH_ROUNDS ?? (LONG ? 600 : 100));
const SEED = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);
/** `checkpoint.recoveryCheckpointRecords` of the child: a replay this long is checkpointed on open. */
const RECOVERY_CHECKPOINT_RECORDS = 1000;
/** WAL records one run of the child pushes at most (it then idles until killed). */
const MAX_RECORDS_PER_RUN = 1500;
/**
 * Records a run adds beyond its cap: the last transaction's overshoot (≤ 60 puts + a Commit),
 * the Abort fencing an uncommitted tail, and checkpoint markers (the recovery checkpoint's and
 * Ring 1's, at most a few per run).
 */
const SLACK_RECORDS = 200;
/**
 * The bound on records replayed at any open. By induction over the runs: a replay of at least
 * RECOVERY_CHECKPOINT_RECORDS is checkpointed before the store opens, so the next replay holds at
 * most what one run appends after it; a shorter replay (< RECOVERY_CHECKPOINT_RECORDS) grows by at
 * most one run's records; a run killed before it opened appends nothing. One run appends at most
 * MAX_RECORDS_PER_RUN + SLACK_RECORDS.
 */
const MAX_REPLAY = RECOVERY_CHECKPOINT_RECORDS + MAX_RECORDS_PER_RUN + SLACK_RECORDS;
/** Rounds per window: the checkpoint in use must advance in every window. */
const WINDOW = 20;

const valueFor = (n: number) => Buffer.from(`v${n}:${'x'.repeat(n % 97)}`);

interface Run {
  /** `open` line: src recovered, records replayed, checkpoint id used, recovery checkpoint id. */
  open: { src: number; replayed: number; checkpointId: number; recoveryCheckpointId: number } | undefined;
  maxAck: number;
}

/** Runs the child and SIGKILLs it `killAfterMs` after it prints `anchor` (`start` or `open`). */
function runAndKill(args: string[], anchor: 'start' | 'open', killAfterMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const run: Run = { open: undefined, maxAck: 0 };
    let buffered = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, ...v] = line.split(' ');
        if (kind === anchor) setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
        if (kind === 'open') {
          const [src, replayed, checkpointId, recoveryCheckpointId] = v.map(Number) as [
            number,
            number,
            number,
            number,
          ];
          run.open = { src, replayed, checkpointId, recoveryCheckpointId };
        } else if (kind === 'ack') run.maxAck = Math.max(run.maxAck, Number(v[0]));
      }
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited without SIGKILL (code ${code}, ${signal})`));
      else resolve(run);
    });
  });
}

test(`a SIGKILL crash loop of the changelog-aware store (${ROUNDS} runs killed 5–300 ms in) keeps checkpointing, replays at most ${MAX_REPLAY} records at any open, and loses no acknowledged commit (seed ${SEED})`, async () => {
  const dir = tmpDir('crash-loop');
  const rand = mulberry32(SEED);
  let acknowledged = 0;
  let maxReplay = 0;
  let newest = 0; // newest checkpoint id seen in use or written on open
  let newestAtWindowStart = 0;
  let recoveryCheckpoints = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Mostly timed from the open (the store is writing); one run in five from the process start,
    // so kills also land in recovery and in the checkpoint written on open.
    const anchor = rand() < 0.2 ? 'start' : 'open';
    const killAfterMs = 5 + Math.floor(rand() * 296);
    const run = await runAndKill(
      [
        dir,
        String(Math.floor(rand() * 2 ** 32)),
        String(RECOVERY_CHECKPOINT_RECORDS),
        String(MAX_RECORDS_PER_RUN),
      ],
      anchor,
      killAfterMs,
    );
    const where = `round ${round} (seed ${SEED}, kill ${killAfterMs} ms after ${anchor})`;
    if (run.open) {
      const o = run.open;
      assert.ok(
        o.src >= acknowledged,
        `${where}: reopened at src ${o.src}, below acknowledged ${acknowledged}`,
      );
      assert.ok(
        o.replayed <= MAX_REPLAY,
        `${where}: replayed ${o.replayed} WAL records at open, over the bound ${MAX_REPLAY}`,
      );
      maxReplay = Math.max(maxReplay, o.replayed);
      newest = Math.max(newest, o.checkpointId, o.recoveryCheckpointId);
      if (o.recoveryCheckpointId > 0) recoveryCheckpoints++;
    }
    acknowledged = Math.max(acknowledged, run.maxAck);
    if ((round + 1) % WINDOW === 0) {
      assert.ok(
        newest > newestAtWindowStart,
        `${where}: no checkpoint completed in rounds ${round + 1 - WINDOW}..${round} (newest ${newest})`,
      );
      newestAtWindowStart = newest;
    }
  }
  console.log(
    `seed ${SEED}: ${ROUNDS} runs, largest replay ${maxReplay} records (bound ${MAX_REPLAY}), newest checkpoint ${newest}, ${recoveryCheckpoints} written on open, ${acknowledged} commits acknowledged`,
  );

  const r = await new RecoveryManager({ dir, transactional: true }).recover();
  assert.ok(r.stats.recordsReplayed <= MAX_REPLAY, `final recovery replayed ${r.stats.recordsReplayed}`);
  const src = r.sourceOffsets.src ?? 0;
  assert.ok(src >= acknowledged, `acknowledged ${acknowledged}, recovered ${src} (seed ${SEED})`);
  assert.equal(r.state.size, src, 'exactly the keys k1..k<src>, no more, no fewer');
  for (let n = 1; n <= src; n++) {
    const value = r.state.get(`k${n}`);
    assert.ok(value && Buffer.from(value).equals(valueFor(n)), `k${n} is what was written`);
  }
  assert.ok(acknowledged > ROUNDS, 'the writer made progress');
});
