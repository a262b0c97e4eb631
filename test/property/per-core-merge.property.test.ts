// Merge determinism: the same per-core histories, appended in any interleaving across cores,
// merge to the same order — and that order is sorted by (epoch, timestampNs, coreId, sequence).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { comparePerCoreEntries } from '../../src/format/index.ts';
import { MemoryDirectory } from '../../src/io/index.ts';
import { PerCoreWalManager } from '../../src/wal/index.ts';

const SEED = Number(process.env.TIDEMARK_FC_SEED ?? Date.now() % 1_000_000);
const RUNS = Number(process.env.TIDEMARK_FC_RUNS ?? 60);

type Op = { kind: 'put' | 'delete' | 'barrier' | 'commit'; key: number; ts: number };

const coreHistory = fc.array(
  fc.record({
    kind: fc.constantFrom('put', 'put', 'put', 'delete', 'barrier', 'commit'),
    key: fc.nat(20),
    ts: fc.integer({ min: -5, max: 30 }), // clock steps, backwards too
  }),
  { maxLength: 40 },
) as fc.Arbitrary<Op[]>;

/** Appends each core's history in the order `schedule` picks cores; returns the merged rendering. */
async function run(histories: Op[][], schedule: number[]): Promise<string[]> {
  const clocks = histories.map(() => 1_000n);
  const cursor = histories.map(() => 0);
  let current = 0;
  const m = await PerCoreWalManager.open({
    dir: new MemoryDirectory(),
    cores: histories.length,
    clock: () => clocks[current]!,
  });
  const epochs = histories.map(() => 0);
  const step = (core: number) => {
    const op = histories[core]![cursor[core]!]!;
    cursor[core] = cursor[core]! + 1;
    current = core;
    clocks[core] = clocks[core]! + BigInt(op.ts); // per-core clock, independent of the interleaving
    const w = m.writer(core);
    if (op.kind === 'put') w.appendPut(`k${op.key}`, Buffer.from([op.key]));
    else if (op.kind === 'delete') w.appendDelete(`k${op.key}`);
    else if (op.kind === 'commit') w.appendCommit({ src: cursor[core]! });
    else {
      epochs[core] = epochs[core]! + 1;
      w.appendEpochBarrier(epochs[core]!);
    }
  };
  for (const core of schedule) if (cursor[core]! < histories[core]!.length) step(core);
  for (let c = 0; c < histories.length; c++) while (cursor[c]! < histories[c]!.length) step(c);
  await m.syncAll();
  const merged = await m.mergeSegments();
  await m.close();
  for (let i = 1; i < merged.length; i++)
    assert.ok(comparePerCoreEntries(merged[i - 1]!, merged[i]!) < 0, 'sorted, no ties');
  return merged.map((e) => `${e.epoch}/${e.timestampNs}/${e.coreId}/${e.sequence}/${e.operation.type}`);
}

test(`any interleaving of appends across cores merges to the same order (seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(coreHistory, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat(3), { maxLength: 200 }),
      fc.array(fc.nat(3), { maxLength: 200 }),
      async (histories, a, b) => {
        const n = histories.length;
        const first = await run(
          histories,
          a.map((c) => c % n),
        );
        const second = await run(
          histories,
          b.map((c) => c % n),
        );
        assert.deepEqual(first, second);
        assert.equal(
          first.length,
          histories.reduce((s, h) => s + h.length, 0),
        );
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
});
