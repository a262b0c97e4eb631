/**
 * Enumerated crash points (SQLite's crash tests, RocksDB's crash test, TigerBeetle's simulator):
 * a seeded workload of puts, deletes, commits, syncs, rotations, checkpoints (and with them
 * retention and WAL truncation) and reopenings runs on a {@link SimulatedDisk}. Before every
 * numbered disk call a crash image is taken under each crash variant; each image is then
 * recovered and checked against the oracle of acknowledged writes:
 *
 * - `acknowledged_lost`: recovery ends before a batch whose durability was acknowledged;
 * - `holes`: the recovered state is not the model's state after exactly the batches recovery
 *   says it holds (a missing, duplicated, reordered or invented record shows up here);
 * - `recovery_failed`: recovery refused to start (corruption, data loss) — never acceptable
 *   after a crash, since nothing acknowledged was ever damaged.
 */
import { RecoveryManager } from '../../src/recovery/index.ts';
import {
  CRASH_VARIANTS,
  type CrashVariant,
  FaultInjectingDirectory,
  mulberry32,
  SimulatedDisk,
} from '../../src/testing/index.ts';

/** Options of one enumeration. */
export interface CrashPointOptions {
  seed: number;
  /** Workload operations. Default 2,000. */
  ops?: number;
  /** Variants to take at each crash point. Default all. */
  variants?: readonly CrashVariant[];
  /** Keep only every `stride`-th crash state (rotating through the variants). Default 1: all. */
  stride?: number;
  /** Also take an image with unsynced directory operations kept, every this many calls (0: never). Default 7. */
  keepDirOpsEvery?: number;
  /** How the WAL makes groups durable: O_DSYNC writes or write + fdatasync. Default 'fdatasync'. */
  syncMethod?: 'o_dsync' | 'fdatasync';
  /** Run on a disk whose fdatasync lies (to show the oracle notices). Default false. */
  lyingSync?: boolean;
  /** Called every 100 states checked. */
  onProgress?: (checked: number, total: number) => void;
}

/** What an enumeration found. */
export interface CrashPointReport {
  seed: number;
  ops: number;
  /** Numbered disk calls of the crash-free run. */
  diskCalls: number;
  crash_states_checked: number;
  acknowledged_lost: number;
  holes: number;
  recovery_failed: number;
  /** Batches acknowledged by the end of the run. */
  batchesAcknowledged: number;
  /** The first failures, replayable: call number, variant, what was wrong. */
  failures: { call: number; variant: string; problem: string }[];
}

interface CrashState {
  call: number;
  variant: string;
  acked: number;
  image: SimulatedDisk;
}

function openOptions(syncMethod: 'o_dsync' | 'fdatasync') {
  return {
    transactional: true,
    wal: { segmentSizeBytes: 4096, groupCommitDelayMs: 0, syncMethod },
    maxRetained: 2,
    checkpoint: { maxChainLength: 3 },
  };
}

/** Model state after each batch, as sorted `key=value` text (index = batch number). */
type Model = string[];

function render(state: Iterable<[string, Uint8Array | string]>): string {
  return [...state]
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : Buffer.from(v).toString()}`)
    .sort()
    .join('\n');
}

/**
 * Runs the workload on `disk`, recording the model after each batch and calling `atCall` with the
 * batches acknowledged so far before each numbered disk call.
 */
async function runWorkload(
  disk: SimulatedDisk,
  seed: number,
  ops: number,
  syncMethod: 'o_dsync' | 'fdatasync',
  atCall: (call: number, acked: number) => void,
): Promise<{ model: Model; acked: number }> {
  const OPEN_OPTIONS = openOptions(syncMethod);
  const random = mulberry32(seed);
  const dir = FaultInjectingDirectory.root(disk);
  const model: Model = [''];
  const state = new Map<string, string>();
  let batch = 0;
  let acked = 0;
  disk.beforeCall = (call) => atCall(call.n, acked);
  let s = await new RecoveryManager({ dir, ...OPEN_OPTIONS }).open();
  for (let i = 0; i < ops; i++) {
    const r = random();
    if (r < 0.5) {
      const key = `k${Math.floor(random() * 40)}`;
      const value = `${i}:${'x'.repeat(Math.floor(random() * 120))}`;
      s.store.put(key, Buffer.from(value));
      state.set(key, value);
    } else if (r < 0.6) {
      const key = `k${Math.floor(random() * 40)}`;
      s.store.delete(key);
      state.delete(key);
    } else if (r < 0.78) {
      batch++;
      s.store.commit({ w: batch });
      model[batch] = render(state);
    } else if (r < 0.92) {
      await s.store.wal.sync();
      acked = batch;
    } else if (r < 0.98) {
      await s.store.wal.sync();
      acked = batch;
      await s.checkpoint();
    } else {
      // Reopen: uncommitted mutations are discarded by recovery, so the model drops them too.
      await s.close();
      acked = batch;
      s = await new RecoveryManager({ dir, ...OPEN_OPTIONS }).open();
      state.clear();
      for (const [k, v] of s.store.entries()) state.set(k, Buffer.from(v).toString());
    }
  }
  await s.close();
  disk.beforeCall = undefined;
  return { model, acked: batch };
}

/** Recovers one crash image and says what is wrong with it, if anything. */
async function check(
  state: CrashState,
  model: Model,
  OPEN_OPTIONS: ReturnType<typeof openOptions>,
): Promise<'ok' | { kind: 'lost' | 'hole' | 'failed'; problem: string }> {
  try {
    const opened = await new RecoveryManager({
      dir: FaultInjectingDirectory.root(state.image),
      ...OPEN_OPTIONS,
    }).open();
    const batches = opened.recovered.sourceOffsets.w ?? 0;
    const got = render(opened.store.entries());
    // The reopened store must also accept writes and survive another clean reopen.
    opened.store.put('after-crash', Buffer.from('1'));
    opened.store.commit({ w: batches });
    await opened.close();
    if (batches < state.acked)
      return { kind: 'lost', problem: `recovered ${batches} batches, ${state.acked} were acknowledged` };
    if (batches >= model.length)
      return { kind: 'hole', problem: `recovered batch ${batches} was never written` };
    if (got !== model[batches])
      return { kind: 'hole', problem: `state after batch ${batches} differs from the model` };
    return 'ok';
  } catch (err) {
    return { kind: 'failed', problem: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` };
  }
}

/** Runs the enumeration (see the module comment). */
export async function enumerateCrashPoints(options: CrashPointOptions): Promise<CrashPointReport> {
  const ops = options.ops ?? 2_000;
  const variants = options.variants ?? CRASH_VARIANTS;
  const stride = options.stride ?? 1;
  const keepDirOpsEvery = options.keepDirOpsEvery ?? 7;
  const disk = new SimulatedDisk();
  disk.lyingSync = options.lyingSync ?? false;
  const states: CrashState[] = [];
  let slot = 0;
  const syncMethod = options.syncMethod ?? 'fdatasync';
  const { model, acked } = await runWorkload(disk, options.seed, ops, syncMethod, (call, ackedNow) => {
    for (const variant of variants) {
      if (slot++ % stride !== 0) continue;
      states.push({
        call,
        variant,
        acked: ackedNow,
        image: disk.crashImage({ variant, seed: options.seed * 7919 + call }),
      });
    }
    if (keepDirOpsEvery > 0 && call % keepDirOpsEvery === 0) {
      const variant = variants[call % variants.length]!;
      states.push({
        call,
        variant: `${variant}+dir-ops-kept`,
        acked: ackedNow,
        image: disk.crashImage({ variant, seed: options.seed * 104729 + call, dirOps: 'keep' }),
      });
    }
  });
  const report: CrashPointReport = {
    seed: options.seed,
    ops,
    diskCalls: disk.calls,
    crash_states_checked: 0,
    acknowledged_lost: 0,
    holes: 0,
    recovery_failed: 0,
    batchesAcknowledged: acked,
    failures: [],
  };
  for (let i = 0; i < states.length; i++) {
    const state = states[i]!;
    states[i] = undefined as unknown as CrashState; // free the image once checked
    const verdict = await check(state, model, openOptions(syncMethod));
    report.crash_states_checked++;
    if (verdict !== 'ok') {
      if (verdict.kind === 'lost') report.acknowledged_lost++;
      else if (verdict.kind === 'hole') report.holes++;
      else report.recovery_failed++;
      if (report.failures.length < 10)
        report.failures.push({ call: state.call, variant: state.variant, problem: verdict.problem });
    }
    if (report.crash_states_checked % 100 === 0)
      options.onProgress?.(report.crash_states_checked, states.length);
  }
  return report;
}
