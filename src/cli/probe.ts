/**
 * `tidemark probe DIR`: how fast this disk makes writes durable, in the spirit of PostgreSQL's
 * `pg_test_fsync`, and the WAL settings that follow from it. In a temporary subdirectory of DIR
 * (DIR is created when missing; both are removed afterwards, so DIR is left as it was) it times
 * write+fdatasync and O_DSYNC writes (and write+fsync with `--fsync`) of 4 KiB, 64 KiB and 1 MiB,
 * single-record 1 KiB commits appending to a growing file vs into a zero-filled one, and the
 * fdatasync latency distribution; then recommends `syncMethod`, `groupCommitBytes`,
 * `preallocateSegments` and whether group commit helps, each with its reason.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ioError, TidemarkError } from '../errors.js';
import {
  oDsyncSupported,
  type ProbeCase,
  type ProbeCaseResult,
  type ProbeSyncMethod,
  percentile,
  runProbeCase,
} from './probe-measure.js';
import { formatBytes, type ProbeRates, recommendWalSettings } from './probe-recommend.js';
import { progressBar } from './progress.js';

/** Options of {@link runProbe}. */
export interface ProbeOptions {
  /** Directory on the disk to probe; created when missing, left as it was. */
  dir: string;
  /** Total time of the measurements, in seconds (> 0, ≤ 3600); each case gets its share. Default 5. */
  seconds?: number;
  /** Print one `{"name","value","unit"}` object per line, then `{"recommendation": {...}}`. */
  json?: boolean;
  /** Also time write+fsync at each size. Default false. */
  fsync?: boolean;
}

/** One figure of the probe, as printed by `--json`. */
export interface ProbeMetric {
  name: string;
  value: number;
  unit: string;
}

const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [4 * KiB, 64 * KiB, MiB];
const COMMIT_BYTES = KiB;
/** Caps the bytes a case writes on a fast disk: a rate needs no more. */
const MAX_WRITE_FILE = 64 * MiB;
/** The zero-filled file of the commit cases (and the appending one, for a fair comparison). */
const COMMIT_FILE = 4 * MiB;

function sizeLabel(bytes: number): string {
  return formatBytes(bytes).replace(' ', '');
}

/** The cases, in the order they run: sizes per method, then the 1 KiB commits side by side. */
function probeCases(opts: { oDsync: boolean; fsync: boolean }): ProbeCase[] {
  const methods: ProbeSyncMethod[] = ['fdatasync'];
  if (opts.oDsync) methods.push('o_dsync');
  if (opts.fsync) methods.push('fsync');
  const cases: ProbeCase[] = [];
  for (const writeBytes of SIZES)
    for (const method of methods)
      cases.push({
        name: `${method}_${sizeLabel(writeBytes)}`,
        method,
        writeBytes,
        preallocated: false,
        maxFileBytes: MAX_WRITE_FILE,
      });
  for (const method of methods.filter((m) => m !== 'fsync'))
    for (const preallocated of [false, true])
      cases.push({
        name: `commit_1KiB_${preallocated ? 'prealloc' : 'append'}_${method}`,
        method,
        writeBytes: COMMIT_BYTES,
        preallocated,
        maxFileBytes: COMMIT_FILE,
      });
  return cases;
}

/**
 * Runs the probe and prints its report through `log`. Throws `TIDEMARK_INVALID_ARGUMENT` for
 * `seconds` out of range or a DIR that exists and is not a directory (before writing anything),
 * `TIDEMARK_IO` / `TIDEMARK_NO_SPACE` naming the path when DIR cannot be created or written.
 * On SIGINT/SIGTERM it stops between cases, removes what it created, and lets the signal end the
 * process.
 */
export async function runProbe(opts: ProbeOptions, log: (line: string) => void): Promise<void> {
  const seconds = opts.seconds ?? 5;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > 3600)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `seconds must be a number in (0, 3600], got ${seconds}`,
      {
        argument: 'seconds',
      },
    );
  const dir = path.resolve(opts.dir);
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory())
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `${dir} exists and is not a directory`, {
      path: dir,
      argument: 'dir',
    });
  const created = stat ? [] : makeDirectories(dir);
  let work: string | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const progress = progressBar('probe', !opts.json, 1);
  try {
    try {
      work = fs.mkdtempSync(path.join(dir, '.tidemark-probe-'));
    } catch (err) {
      throw ioError('create a temporary directory', dir, err);
    }
    const cases = probeCases({ oDsync: oDsyncSupported(), fsync: opts.fsync === true });
    // Two rounds, the second in reverse order, summed per case: a disk that slows down or
    // speeds up during the run (other tenants, writeback) biases no case by its position alone.
    const schedule = [...cases, ...[...cases].reverse()];
    const results = new Map<string, ProbeCaseResult>();
    const deadline = performance.now() + seconds * 1000;
    for (let i = 0; i < schedule.length; i++) {
      progress.onProgress(i, schedule.length);
      // Lets a pending SIGINT/SIGTERM be seen between cases (each case runs synchronously).
      await new Promise((resolve) => setImmediate(resolve));
      if (interrupted) break;
      const spec = schedule[i]!;
      const budgetMs = Math.max(1, (deadline - performance.now()) / (schedule.length - i));
      const r = runProbeCase(work, spec, budgetMs);
      const sum = results.get(spec.name);
      results.set(
        spec.name,
        sum
          ? {
              writes: sum.writes + r.writes,
              seconds: sum.seconds + r.seconds,
              barrierMs: sum.barrierMs.concat(r.barrierMs),
            }
          : r,
      );
    }
    progress.stop();
    if (!interrupted) report({ cases, results, json: opts.json === true, dir, seconds }, log);
  } finally {
    progress.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    removeEmpty(created);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  if (interrupted) process.kill(process.pid, interrupted);
}

/**
 * Creates `dir` and its missing parents one by one (not `mkdirSync({ recursive: true })`, which
 * never returns under some pseudo-filesystems such as /proc on Node 20); returns those created,
 * outermost first, so that they can be removed afterwards.
 */
function makeDirectories(dir: string): string[] {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  const created: string[] = [];
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (err) {
      removeEmpty(created);
      throw ioError('create directory', d, err);
    }
    created.push(d);
  }
  return created;
}

/** Removes the directories `created` (outermost first) innermost first, each only if empty. */
function removeEmpty(created: readonly string[]): void {
  for (const d of [...created].reverse()) {
    try {
      fs.rmdirSync(d);
    } catch {
      // Something else was put there meanwhile: not ours to remove.
      return;
    }
  }
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}

/** Turns the results into metrics and the recommendation, and prints them. */
function report(
  run: {
    cases: ProbeCase[];
    results: Map<string, ProbeCaseResult>;
    json: boolean;
    dir: string;
    seconds: number;
  },
  log: (line: string) => void,
): void {
  const metrics: ProbeMetric[] = [];
  const rate = (name: string) => {
    const r = run.results.get(name)!;
    return r.writes / r.seconds;
  };
  for (const c of run.cases) {
    const writesPerS = rate(c.name);
    if (c.name.startsWith('commit_')) {
      metrics.push({ name: c.name, value: round(writesPerS), unit: 'commits/s' });
      continue;
    }
    metrics.push({ name: `durable_write_${c.name}`, value: round(writesPerS), unit: 'writes/s' });
    metrics.push({
      name: `durable_write_${c.name}_throughput`,
      value: round((writesPerS * c.writeBytes) / MiB),
      unit: 'MiB/s',
    });
  }
  const latency = run.results.get(`fdatasync_${sizeLabel(SIZES[0]!)}`)!.barrierMs;
  for (const p of [50, 99])
    metrics.push({
      name: `fdatasync_latency_p${p}_${sizeLabel(SIZES[0]!)}`,
      value: round(percentile(latency, p) * 1000),
      unit: 'us',
    });
  const ratesOf = (method: ProbeSyncMethod): ProbeRates => ({
    sizes: new Map(SIZES.map((b) => [b, rate(`${method}_${sizeLabel(b)}`)])),
    commitAppend: rate(`commit_1KiB_append_${method}`),
    commitPrealloc: rate(`commit_1KiB_prealloc_${method}`),
  });
  const recommendation = recommendWalSettings({
    fdatasync: ratesOf('fdatasync'),
    oDsync: run.results.has('o_dsync_4KiB') ? ratesOf('o_dsync') : undefined,
  });

  if (run.json) {
    for (const m of metrics) log(JSON.stringify(m));
    log(JSON.stringify({ recommendation }));
    return;
  }
  log(`tidemark probe: ${run.dir} (${run.seconds} s; each write made durable on its own)`);
  const width = Math.max(...metrics.map((m) => m.name.length));
  for (const m of metrics)
    log(`  ${m.name.padEnd(width)}  ${m.value.toLocaleString('en-US').padStart(10)} ${m.unit}`);
  log('');
  log('recommended WalOptions:');
  const r = recommendation;
  log(`  syncMethod: '${r.syncMethod}'`);
  log(`      ${r.reasons.syncMethod}`);
  log(`  groupCommitBytes: ${r.groupCommitBytes} (${formatBytes(r.groupCommitBytes)})`);
  log(`      ${r.reasons.groupCommitBytes}`);
  log(`  preallocateSegments: ${r.preallocateSegments}`);
  log(`      ${r.reasons.preallocateSegments}`);
  log(`  group commit helps: ${r.groupCommitHelps ? 'yes' : 'no'}`);
  log(`      ${r.reasons.groupCommitHelps}`);
  log('(one short run; on a shared or virtual disk the figures vary: --seconds 30 steadies them)');
}
