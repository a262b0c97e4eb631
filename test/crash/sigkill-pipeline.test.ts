import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/pipeline-writer-child.ts', import.meta.url));
const ROUNDS = Number(process.env.TIDEMARK_CRASH_ROUNDS ?? 25);
const SEED = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);

function runAndKill(
  dir: string,
  seed: number,
  killAfterMs: number,
): Promise<{ maxAck: number; openedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(seed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let maxAck = 0;
    let openedAt = -1;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, value] = line.split(' ');
        if (kind === 'open') {
          openedAt = Number(value);
          setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else if (kind === 'ack') maxAck = Math.max(maxAck, Number(value));
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited without SIGKILL (${signal})`));
      else resolve({ maxAck, openedAt });
    });
  });
}

test(`SIGKILL through the Ring 0 / Ring 1 pipeline over ${ROUNDS} rounds: every commit the durable watermark passed survives, exactly once (seed ${SEED})`, async () => {
  const dir = tmpDir('sigkill-pipe');
  let seed = SEED;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  let acknowledged = 0;
  let checkpointsUsed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { maxAck, openedAt } = await runAndKill(
      dir,
      Math.floor(rand() * 1e9),
      20 + Math.floor(rand() * 250),
    );
    assert.ok(
      openedAt >= acknowledged,
      `round ${round}: reopened at ${openedAt}, below acknowledged ${acknowledged}`,
    );
    acknowledged = Math.max(acknowledged, maxAck);
    const r = await new RecoveryManager({ dir, transactional: true }).recover();
    if (r.stats.checkpointId !== undefined) checkpointsUsed++;
    const src = r.sourceOffsets.src ?? 0;
    assert.ok(
      src >= acknowledged,
      `round ${round} (seed ${SEED}): acknowledged ${acknowledged}, recovered ${src}`,
    );
    assert.equal(r.state.size, src, `round ${round}: exactly the keys k1..k${src}, no more, no fewer`);
    for (let n = 1; n <= src; n++) {
      const value = r.state.get(`k${n}`);
      assert.ok(
        value && Buffer.from(value).equals(payloadFor(n)),
        `round ${round}: k${n} is what was written`,
      );
    }
  }
  assert.ok(acknowledged > ROUNDS, 'the writer made progress');
  assert.ok(checkpointsUsed > 0, 'recovery started from a Ring 1 checkpoint at least once');
});
