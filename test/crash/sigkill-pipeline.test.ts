import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecoveryManager } from '../../src/recovery/index.ts';
import { runAndKill } from '../helpers/kill-child.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

const CHILD = fileURLToPath(new URL('../helpers/pipeline-writer-child.ts', import.meta.url));
const ROUNDS = Number(process.env.TIDEMARK_CRASH_ROUNDS ?? 25);
const SEED = Number(process.env.TIDEMARK_SEED ?? Date.now() % 1_000_000);

test(`SIGKILL through the Ring 0 / Ring 1 pipeline over ${ROUNDS} rounds: every commit the durable watermark passed survives, exactly once (seed ${SEED})`, async () => {
  const dir = tmpDir('sigkill-pipe');
  let seed = SEED;
  const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  let acknowledged = 0;
  let checkpointsUsed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { maxAck, openedAt } = await runAndKill(
      CHILD,
      [dir, String(Math.floor(rand() * 1e9))],
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
