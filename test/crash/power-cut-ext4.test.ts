// Real power cuts on a loop-mounted ext4 image (see power-cut-helpers.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { powerCutCycles, powerCutUnavailable } from './power-cut-helpers.ts';

const CYCLES = Number(process.env.TIDEMARK_POWERCUT_CYCLES ?? 50);
const SEED = Number(process.env.TIDEMARK_SEED ?? 1);

test('real power cuts on ext4 (xfs_io shutdown under a live writer): nothing acknowledged is lost, the state is an exact prefix', async (t) => {
  const why = powerCutUnavailable('ext4');
  if (why !== undefined) {
    if (process.env.TIDEMARK_SKIP_POWERCUT === '1') {
      t.skip(`POWER-CUT TESTS NOT RUN: ${why}`);
      return;
    }
    assert.fail(
      `this machine cannot run real power cuts (${why}); set TIDEMARK_SKIP_POWERCUT=1 to skip them knowingly`,
    );
  }
  const r = await powerCutCycles('ext4', CYCLES, SEED);
  t.diagnostic(
    `ext4: ${r.cycles} power cuts, up to ${r.batchesAcknowledged} batches acknowledged; lost ${r.lost}, holes ${r.holes} (seed ${SEED})`,
  );
  assert.equal(r.cycles, CYCLES);
  assert.equal(r.lost, 0);
  assert.equal(r.holes, 0);
  assert.ok(r.batchesAcknowledged > 100);
});
