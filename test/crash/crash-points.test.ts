// Simulated power loss before every disk call of a seeded workload (see test/torture/crash-points.ts).
// The default run checks a sample; `npm run torture` checks every crash state of several seeds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enumerateCrashPoints } from '../torture/crash-points.ts';

const SEED = Number(process.env.TIDEMARK_SEED ?? 1);

for (const syncMethod of ['fdatasync', 'o_dsync'] as const) {
  test(`a crash before any disk call (${syncMethod}) loses no acknowledged batch and recovers an exact prefix`, async (t) => {
    const report = await enumerateCrashPoints({ seed: SEED, ops: 2_000, stride: 5, syncMethod });
    t.diagnostic(
      `seed ${SEED}: ${report.crash_states_checked} crash states over ${report.diskCalls} disk calls; lost ${report.acknowledged_lost}, holes ${report.holes}, recovery failed ${report.recovery_failed} (replay: TIDEMARK_SEED=${SEED})`,
    );
    assert.ok(report.crash_states_checked >= 2_000, `${report.crash_states_checked} states`);
    assert.ok(report.batchesAcknowledged > 100);
    assert.deepEqual(report.failures, []);
    assert.equal(report.acknowledged_lost, 0);
    assert.equal(report.holes, 0);
    assert.equal(report.recovery_failed, 0);
  });
}

test('the oracle notices a disk whose fdatasync lies: acknowledged batches go missing', async () => {
  const report = await enumerateCrashPoints({ seed: SEED, ops: 400, stride: 3, lyingSync: true });
  assert.ok(report.acknowledged_lost + report.recovery_failed > 0, JSON.stringify(report));
});
