// API fuzz test of both stores: random sequences of put / delete / commit / flushed / durable /
// checkpoint / writable / close (twice, or racing other calls) / calls after close / reopen (with
// either store: both read the same directory), with valid and invalid arguments. For every
// sequence: every call settles within a bound, nothing rejects unhandled, every error is a
// TidemarkError with a code the call may give (bad arguments exactly TIDEMARK_INVALID_ARGUMENT or
// TIDEMARK_LIMIT, and a refused call changes nothing), recovery after each reopen and after the
// final close equals the model (a read-only recovery while open is the model as of a point at or
// after the last acknowledgment), and `verify` (examineDataDirectory) reports the directory
// clean exactly when recovery succeeds. See test/helpers/api-fuzz-runner.ts for the checks.
//
// The seed is printed; replay with TIDEMARK_FUZZ_SEED=<seed>. More runs: TIDEMARK_FUZZ_RUNS=20000
// (the changelog-store property gets a fiftieth of them, each opening a Ring 1 worker).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import {
  extrasArb,
  keyArb,
  offsetsArb,
  positionArb,
  valueArb,
  watermarkArb,
} from '../helpers/api-fuzz-args.ts';
import { codesSeen, FuzzRun, type Op, type Sequence, type SimpleOp } from '../helpers/api-fuzz-runner.ts';

const seed = Number(process.env.TIDEMARK_FUZZ_SEED ?? Date.now() % 2 ** 31);
const runs = Number(process.env.TIDEMARK_FUZZ_RUNS ?? 2000);
const changelogRuns = Math.max(12, Math.round(runs / 50));

const simpleOpArb: fc.Arbitrary<SimpleOp> = fc.oneof(
  { weight: 14, arbitrary: fc.record({ t: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('delete' as const), key: keyArb }) },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('commit' as const), offsets: offsetsArb, watermark: watermarkArb }),
  },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('flushed' as const), pos: positionArb }) },
  { weight: 2, arbitrary: fc.constant({ t: 'durable' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('checkpoint' as const), extras: extrasArb }) },
  { weight: 1, arbitrary: fc.constant({ t: 'writable' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), twice: fc.boolean() }) },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: simpleOpArb },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('burst' as const), n: fc.integer({ min: 8, max: 40 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ t: 'crash-check' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('race' as const),
      first: fc.constantFrom('close' as const, 'checkpoint' as const, 'durable' as const),
      second: simpleOpArb,
      delay: fc.constantFrom('sync' as const, 'microtask' as const, 'macrotask' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('reopen' as const), other: fc.boolean() }) },
);

function sequenceArb(
  kind: 'simple' | 'changelog',
  minLength: number,
  maxLength: number,
): fc.Arbitrary<Sequence> {
  return fc.record({
    spec: fc.record({
      kind: fc.constant(kind),
      transactional: fc.boolean(),
      smallRing: fc.boolean(),
      backpressure: fc.constantFrom('wait' as const, 'throw' as const),
      maxQueuedBytes: fc.constantFrom(undefined, 1024),
      smallSegments: fc.boolean(),
    }),
    ops: fc.array(opArb, { minLength, maxLength, size: 'max' }),
  });
}

/**
 * Where the sequences' directories go: the fuzzer checks the API, not the disk (the crash and
 * power-cut tests do), so a tmpfs (/dev/shm) keeps thousands of fdatasyncs cheap when there is
 * one. TIDEMARK_FUZZ_DIR overrides.
 */
function fuzzBase(label: string): string {
  const parent = process.env.TIDEMARK_FUZZ_DIR ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
  const dir = fs.mkdtempSync(path.join(parent, `tidemark-${label}-`));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Unhandled rejections anywhere during a sequence fail it (checked after a turn of the loop).
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => {
  unhandled.push(reason);
});

async function runSequence(base: string, seq: Sequence, maxChangelogOpens: number): Promise<FuzzRun> {
  const dir = fs.mkdtempSync(path.join(base, 'seq-'));
  unhandled.length = 0;
  try {
    const run = new FuzzRun(dir, seq.spec, maxChangelogOpens);
    await run.run(seq.ops);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled.map(String), [], 'unhandled rejections during the sequence');
    return run;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function totals() {
  return { sequences: 0, accepted: 0, refused: 0, reopens: 0, crashChecks: 0 };
}

function add(t: ReturnType<typeof totals>, run: FuzzRun): void {
  t.sequences++;
  t.accepted += run.stats.accepted;
  t.refused += run.stats.refused;
  t.reopens += run.stats.reopens;
  t.crashChecks += run.stats.crashChecks;
}

test(`random call sequences with valid and invalid arguments on the simple store settle, refuse bad arguments without side effects, and lose nothing acknowledged (seed ${seed})`, async () => {
  console.log(`# api fuzz seed ${seed} (TIDEMARK_FUZZ_SEED=${seed} replays), ${runs} simple-store runs`);
  const base = fuzzBase('api-fuzz-simple');
  const t = totals();
  await fc.assert(
    fc.asyncProperty(sequenceArb('simple', 1, 16), async (seq) => {
      add(t, await runSequence(base, seq, 0));
    }),
    { seed, numRuns: runs, includeErrorInReport: true },
  );
  console.log(`# ${JSON.stringify(t)}, errors by code ${JSON.stringify(codesSeen)}`);
  assert.ok(t.accepted > 0 && t.refused > 0 && t.reopens > 0, 'both outcomes and reopens were exercised');
});

test(`random call sequences on the changelog-aware store, reopened by either store, keep the same promises (seed ${seed})`, async () => {
  console.log(`# api fuzz seed ${seed}, ${changelogRuns} changelog-store runs`);
  const base = fuzzBase('api-fuzz-changelog');
  const t = totals();
  await fc.assert(
    fc.asyncProperty(sequenceArb('changelog', 20, 80), async (seq) => {
      add(t, await runSequence(base, seq, 2));
    }),
    { seed, numRuns: changelogRuns, includeErrorInReport: true },
  );
  console.log(`# ${JSON.stringify(t)}, errors by code ${JSON.stringify(codesSeen)}`);
});
