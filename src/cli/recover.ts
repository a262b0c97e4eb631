/**
 * `tidemark recover`: rebuilds state from a data directory — or, with `--from s3://…`, from the
 * object store alone into an empty directory (restore, then recover) — and reports what it did.
 * `--out` writes the state as JSON: for the demo's data the same document `tidemark demo --out`
 * writes, otherwise every key with its value in base64.
 */
import * as fs from 'node:fs';
import cliProgress from 'cli-progress';
import { TidemarkError } from '../errors.js';
import { type RecoveredState, RecoveryManager } from '../recovery/recovery-manager.js';
import { type RestoreResult, restoreFromObjectStore } from '../recovery/restore-from-object-store.js';
import type { WalRecoveryMode } from '../wal/segment-scanner.js';
import { resultFromState } from './demo/aggregates.js';
import { SOURCE } from './demo/worker.js';
import { perCoreCountOf, runRecoverPerCore } from './recover-per-core.js';

export interface RecoverOptions {
  dir: string;
  /** `s3://BUCKET/PREFIX` to restore from (the directory must be empty). */
  from: string | undefined;
  transactional: boolean;
  /** WAL recovery mode (default tolerate-torn-tail). */
  mode: WalRecoveryMode;
  out: string | undefined;
  /** `demo`: the demo's aggregates; `state`: keys and base64 values; `auto`: demo when the state is the demo's. */
  format: 'auto' | 'demo' | 'state';
  json: boolean;
  /** Per-core data directory with this many cores; undefined: detected from `from` (else one WAL). */
  cores?: number | undefined;
  /** With `from`: point-in-time recovery to this LSN. */
  untilLsn?: number | undefined;
  /** With `from`: point-in-time recovery to this commit time, ms since the Unix epoch (every batch committed at or before it). */
  untilTimeMs?: number | undefined;
}

/** `--until-lsn`: a non-negative integer (`TIDEMARK_INVALID_ARGUMENT` otherwise). */
export function parseUntilLsn(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `--until-lsn must be an LSN, got ${text}`, {
      argument: '--until-lsn',
    });
  return n;
}

/** `--until-time`: ISO 8601, or ms since the Unix epoch (`TIDEMARK_INVALID_ARGUMENT` otherwise). */
export function parseUntilTime(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(n) || n < 0)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `--until-time must be a time, got ${text}`, {
      argument: '--until-time',
    });
  return n;
}

export interface RecoverSummary {
  restore: RestoreResult | undefined;
  recovered: RecoveredState;
}

function stateDocument(r: RecoveredState, format: RecoverOptions['format']): unknown {
  const demo = format === 'demo' || (format === 'auto' && r.sourceOffsets[SOURCE] !== undefined);
  if (demo) return resultFromState(r.state, r.sourceOffsets[SOURCE] ?? 0);
  const state: Record<string, string> = {};
  for (const key of [...r.state.keys()].sort())
    state[key] = Buffer.from(r.state.get(key)!).toString('base64');
  return {
    lsn: r.lsn,
    epoch: r.epoch,
    sourceOffsets: r.sourceOffsets,
    watermark: r.watermark ?? null,
    state,
  };
}

export async function runRecover(
  opts: RecoverOptions,
  log: (line: string) => void,
): Promise<RecoverSummary | undefined> {
  const until =
    opts.untilLsn !== undefined ? '--until-lsn' : opts.untilTimeMs !== undefined ? '--until-time' : undefined;
  if (!opts.from && until !== undefined)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      '--until-lsn and --until-time restore from the object store: give --from s3://…',
      { argument: until },
    );
  const cores = await perCoreCountOf({ from: opts.from, cores: opts.cores });
  if (cores !== undefined) {
    // Each core has its own LSN sequence and no commit times are merged across cores: a target
    // cannot name one cut of all of them, and restoring everything instead would be a silent lie.
    if (until !== undefined)
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `${until} is not supported for a per-core store (${cores} cores: one LSN sequence per core); restore without a target`,
        { argument: until },
      );
    await runRecoverPerCore({ ...opts, cores }, log);
    return undefined;
  }
  let restore: RestoreResult | undefined;
  if (opts.from) {
    const bar =
      process.stderr.isTTY && !opts.json
        ? new cliProgress.SingleBar(
            {
              format: 'restore [{bar}] {value}/{total} objects | {mb} MB',
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
    let started = false;
    restore = await restoreFromObjectStore({
      from: opts.from,
      dir: opts.dir,
      untilLsn: opts.untilLsn,
      untilTimeMs: opts.untilTimeMs,
      onProgress: (done, total, bytes) => {
        if (!bar) return;
        const mb = (bytes / 1e6).toFixed(1);
        if (!started) bar.start(total, done, { mb });
        else bar.update(done, { mb });
        started = true;
      },
    });
    bar?.stop();
  }
  const recovered = await new RecoveryManager({
    dir: opts.dir,
    transactional: opts.transactional,
    mode: opts.mode,
  }).recover();
  if (opts.out) fs.writeFileSync(opts.out, `${JSON.stringify(stateDocument(recovered, opts.format))}\n`);
  const s = recovered.stats;
  if (opts.json) {
    log(
      JSON.stringify({
        restored: restore ?? null,
        checkpointId: s.checkpointId ?? null,
        checkpointLsn: s.checkpointLsn,
        checkpointsSkipped: s.checkpointsSkipped,
        recordsReplayed: s.recordsReplayed,
        uncommittedDiscarded: s.uncommittedDiscarded,
        lsn: recovered.lsn,
        epoch: recovered.epoch,
        keys: recovered.state.size,
        sourceOffsets: recovered.sourceOffsets,
        walDamage: s.walDamage,
        durationMs: s.durationMs,
      }),
    );
    return { restore, recovered };
  }
  if (restore) {
    log(`restored        ${opts.from} → ${opts.dir}`);
    log(
      `  checkpoint    ${restore.checkpointId ?? 'none'}${restore.chain.length > 1 ? ` (chain ${restore.chain.join(' → ')})` : ''}, LSN ${restore.checkpointLsn}`,
    );
    log(
      `  WAL segments  ${restore.segments.length}${restore.targetLsn !== undefined ? ` (point-in-time: up to LSN ${restore.targetLsn})` : ''}${restore.segments.length > 0 ? ` (${restore.segments[0]}–${restore.segments.at(-1)})` : ''}; ${restore.bytes.toLocaleString('en-US')} bytes in ${restore.durationMs.toFixed(0)} ms`,
    );
    for (const k of restore.checkpointsSkipped)
      log(`  skipped       checkpoint ${k.id}: ${k.code} ${k.reason}`);
  }
  log(`checkpoint      ${s.checkpointId ?? 'none'} (LSN ${s.checkpointLsn})`);
  for (const k of s.checkpointsSkipped) log(`  skipped       checkpoint ${k.id}: ${k.code} ${k.reason}`);
  log(
    `WAL replayed    ${s.recordsReplayed.toLocaleString('en-US')} records, ${s.bytesRead.toLocaleString('en-US')} bytes${s.uncommittedDiscarded > 0 ? `; ${s.uncommittedDiscarded} uncommitted mutations discarded` : ''}`,
  );
  if (s.tornTail)
    log(`torn tail       ${s.tornTail.path} at byte ${s.tornTail.offset}: ${s.tornTail.reason}`);
  log(
    `state           ${recovered.state.size.toLocaleString('en-US')} keys at LSN ${recovered.lsn}, epoch ${recovered.epoch}`,
  );
  log(`source offsets  ${JSON.stringify(recovered.sourceOffsets)}`);
  log(`recovered in    ${s.durationMs.toFixed(1)} ms`);
  if (opts.out) log(`output          ${opts.out}`);
  return { restore, recovered };
}
