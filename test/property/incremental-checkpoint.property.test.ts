// Model test of incremental checkpoints: random puts, deletes, checkpoints (with random
// compaction thresholds and retention), crashes and reopenings. After every step that a crash
// could follow, recovery from what is on disk must equal the model. The seed is printed; replay a
// failure with TIDEMARK_FC_SEED=<seed> (and TIDEMARK_FC_RUNS for more runs).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryDirectory } from '../../src/io/index.ts';
import { type OpenedStore, RecoveryManager } from '../../src/recovery/index.ts';

type Op =
  | { type: 'put'; key: number; value: number }
  | { type: 'delete'; key: number }
  | { type: 'checkpoint' }
  | { type: 'crash' }
  | { type: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({ type: fc.constant('put' as const), key: fc.nat(60), value: fc.nat(1000) }),
  },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('delete' as const), key: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.constant({ type: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'crash' as const }) },
  { weight: 1, arbitrary: fc.constant({ type: 'reopen' as const }) },
);

const configArb = fc.record({
  incremental: fc.boolean(),
  maxChainLength: fc.integer({ min: 1, max: 4 }),
  maxDeltaRatio: fc.constantFrom(0.1, 0.5, 2),
  maxRetained: fc.integer({ min: 1, max: 3 }),
  segmentSizeBytes: fc.constantFrom(4096, 16384),
});

const text = (m: Iterable<[string, Uint8Array]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString()]).sort());

const seed = Number(process.env.TIDEMARK_FC_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.TIDEMARK_FC_RUNS ?? 100);

test(`recovered state equals the model after any sequence of writes, checkpoints, compactions and crashes (seed ${seed})`, async () => {
  console.log(`# fast-check seed ${seed} (TIDEMARK_FC_SEED=${seed} replays), ${numRuns} runs`);
  let checkpointsTaken = 0;
  let deltasTaken = 0;
  let recoveriesChecked = 0;
  await fc.assert(
    fc.asyncProperty(
      configArb,
      fc.array(opArb, { minLength: 1, maxLength: 200, size: 'max' }),
      async (config, ops) => {
        const dir = new MemoryDirectory();
        const manager = new RecoveryManager({
          dir,
          maxRetained: config.maxRetained,
          wal: { segmentSizeBytes: config.segmentSizeBytes },
          checkpoint: {
            incremental: config.incremental,
            maxChainLength: config.maxChainLength,
            maxDeltaRatio: config.maxDeltaRatio,
          },
        });
        const model = new Map<string, string>();
        let s: OpenedStore = await manager.open();
        const check = async () => {
          await s.store.durable();
          // What is on disk now is what a crash would leave: recover it read-only.
          const r = await manager.recover();
          assert.deepEqual(text(r.state), Object.fromEntries([...model].sort()));
          recoveriesChecked++;
        };
        try {
          for (const op of ops) {
            switch (op.type) {
              case 'put':
                s.store.put(`k${op.key}`, Buffer.from(`v${op.value}`));
                model.set(`k${op.key}`, `v${op.value}`);
                break;
              case 'delete':
                s.store.delete(`k${op.key}`);
                model.delete(`k${op.key}`);
                break;
              case 'checkpoint': {
                const meta = await s.checkpoint();
                checkpointsTaken++;
                if (meta.kind === 'delta') deltasTaken++;
                // A base counts its keys exactly; a delta's writer holds only the changes (-1).
                assert.equal(meta.keys, meta.kind === 'base' ? model.size : -1);
                await check();
                break;
              }
              case 'crash':
                await check();
                break;
              case 'reopen':
                await s.close();
                s = await manager.open();
                assert.deepEqual(text(s.recovered.state), Object.fromEntries([...model].sort()));
                break;
            }
          }
          await check();
        } finally {
          await s.close();
        }
      },
    ),
    { seed, numRuns },
  );
  console.log(
    `# ${checkpointsTaken} checkpoints (${deltasTaken} deltas), ${recoveriesChecked} recoveries checked`,
  );
  assert.ok(deltasTaken > 0 && checkpointsTaken > deltasTaken, 'both kinds were exercised');
});
