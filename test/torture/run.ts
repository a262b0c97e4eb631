/**
 * `npm run torture`: every crash state of the enumerated crash-point workload, for several seeds
 * and both sync methods. Prints its seeds (replay one with `-- --seed N`); `-- --json` prints one
 * {"name","value","unit"} line per figure. Exits 1 when anything acknowledged was lost.
 *
 *   npm run torture                       4 seeds from a random start, 2,000 ops each
 *   npm run torture -- --seed 7 --seeds 1 --ops 5000
 */
import { Command, InvalidArgumentError } from 'commander';
import { enumerateCrashPoints } from './crash-points.ts';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
};
const o = new Command()
  .option('--seed <n>', 'first seed (default: random)', int)
  .option('--seeds <k>', 'seeds to run', int, 4)
  .option('--ops <n>', 'workload operations per seed', int, 2_000)
  .option('--json', 'one JSON object per figure', false)
  .parse(process.argv)
  .opts();

const first = o.seed ?? 1 + Math.floor(Math.random() * 1_000_000);
const totals = { crash_states_checked: 0, acknowledged_lost: 0, holes: 0, recovery_failed: 0 };
const t0 = performance.now();
if (!o.json)
  console.log(
    `torture: seeds ${first}..${first + o.seeds - 1}, ${o.ops} ops each (replay: npm run torture -- --seed N --seeds 1)`,
  );
for (let seed = first; seed < first + o.seeds; seed++) {
  for (const syncMethod of ['fdatasync', 'o_dsync'] as const) {
    const r = await enumerateCrashPoints({ seed, ops: o.ops, syncMethod });
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r[k];
    if (!o.json)
      console.log(
        `seed ${seed} ${syncMethod.padEnd(9)} ${r.crash_states_checked} crash states over ${r.diskCalls} disk calls, ${r.batchesAcknowledged} batches acknowledged: lost ${r.acknowledged_lost}, holes ${r.holes}, recovery failed ${r.recovery_failed}`,
      );
    for (const f of r.failures)
      console.log(`  FAIL seed ${seed} ${syncMethod} call ${f.call} ${f.variant}: ${f.problem}`);
  }
}
const seconds = (performance.now() - t0) / 1000;
if (o.json) {
  for (const [name, value] of Object.entries(totals))
    console.log(JSON.stringify({ name, value, unit: 'count' }));
  console.log(JSON.stringify({ name: 'first_seed', value: first, unit: 'seed' }));
  console.log(JSON.stringify({ name: 'torture_duration_s', value: Number(seconds.toFixed(1)), unit: 's' }));
} else {
  console.log(
    `total: ${totals.crash_states_checked} crash states in ${seconds.toFixed(1)} s; acknowledged_lost ${totals.acknowledged_lost}, holes ${totals.holes}, recovery_failed ${totals.recovery_failed}`,
  );
}
process.exitCode = totals.acknowledged_lost + totals.holes + totals.recovery_failed === 0 ? 0 : 1;
