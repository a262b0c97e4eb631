/**
 * `tidemark recover --cores N` (or a `--from` store detected as per-core): the per-core engine's
 * recovery — with `--from s3://…`, restore a fresh directory from the object store alone first
 * (checkpoint chain + every core's archived segments) — and the same report and `--out`
 * document as the single-log `recover`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import { FsDirectory } from '../io/fs-directory.js';
import { parseObjectStoreUrl } from '../io/object-store-config.js';
import { type PerCoreRecoveredState, recoverPerCore } from '../recovery/per-core-recovery.js';
import {
  detectObjectStoreCores,
  type PerCoreRestoreResult,
  restorePerCoreFromObjectStore,
} from '../recovery/restore-per-core-from-object-store.js';
import { CHECKPOINT_DIR_NAME, WAL_DIR_NAME } from '../recovery/storage-location.js';
import { resultFromState } from './demo/aggregates.js';
import { SOURCE } from './demo/worker.js';

/** What `recover` does per core. */
export interface RecoverPerCoreOptions {
  dir: string;
  /** `s3://BUCKET/PREFIX` to restore from (the directory must be empty). */
  from: string | undefined;
  /** Cores; undefined: detected from the store (with `from`). */
  cores: number | undefined;
  transactional: boolean;
  out: string | undefined;
  format: 'auto' | 'demo' | 'state';
  json: boolean;
}

/**
 * The cores to recover: `cores` when given; else, with `from`, the count the object store holds
 * (undefined when it is not a per-core store: the single-log path applies).
 */
export async function perCoreCountOf(options: {
  from: string | undefined;
  cores: number | undefined;
}): Promise<number | undefined> {
  if (options.cores !== undefined || options.from === undefined) return options.cores;
  const store = new ObjectStoreCheckpointStore(parseObjectStoreUrl(options.from));
  try {
    return await detectObjectStoreCores(store);
  } finally {
    store.close();
  }
}

function stateDocument(
  r: PerCoreRecoveredState,
  cores: number,
  format: RecoverPerCoreOptions['format'],
): unknown {
  const offsets = Array.from({ length: cores }, (_, c) => r.cores.get(c)?.sourceOffsets ?? {});
  const demo = format === 'demo' || (format === 'auto' && offsets.some((o) => o[SOURCE] !== undefined));
  // Every core committed at least the smallest row: that is where the stream is complete.
  if (demo) return resultFromState(r.state, Math.min(...offsets.map((o) => o[SOURCE] ?? 0)));
  const state: Record<string, string> = {};
  for (const key of [...r.state.keys()].sort())
    state[key] = Buffer.from(r.state.get(key)!).toString('base64');
  return {
    epoch: r.epoch,
    cores: Object.fromEntries(offsets.map((o, c) => [c, { sourceOffsets: o }])),
    state,
  };
}

/** Restores (with `from`) and recovers a per-core data directory; writes `--out`; logs the report. */
export async function runRecoverPerCore(
  opts: RecoverPerCoreOptions & { cores: number },
  log: (line: string) => void,
): Promise<{ restore: PerCoreRestoreResult | undefined; recovered: PerCoreRecoveredState }> {
  const restore = opts.from
    ? await restorePerCoreFromObjectStore({ from: opts.from, dir: opts.dir, cores: opts.cores })
    : undefined;
  const recovered = await recoverPerCore({
    walRoot: await FsDirectory.open(path.join(opts.dir, WAL_DIR_NAME)),
    store: new FileSystemCheckpointStore(await FsDirectory.open(path.join(opts.dir, CHECKPOINT_DIR_NAME))),
    cores: opts.cores,
    transactional: opts.transactional,
  });
  if (opts.out)
    fs.writeFileSync(opts.out, `${JSON.stringify(stateDocument(recovered, opts.cores, opts.format))}\n`);
  const records = recovered.segmentStats.reduce((n, s) => n + s.records, 0);
  if (opts.json) {
    log(
      JSON.stringify({
        restored: restore ?? null,
        cores: opts.cores,
        checkpointId: recovered.checkpointId ?? null,
        checkpointsSkipped: recovered.checkpointsSkipped,
        recordsReplayed: records,
        uncommittedDiscarded: recovered.uncommittedDiscarded,
        epoch: recovered.epoch,
        keys: recovered.state.size,
        durationMs: recovered.durationMs,
      }),
    );
    return { restore, recovered };
  }
  if (restore) {
    log(`restored        ${opts.from} → ${opts.dir} (${restore.cores} cores)`);
    log(
      `  checkpoint    ${restore.checkpointId ?? 'none'}${restore.chain.length > 1 ? ` (chain ${restore.chain.join(' → ')})` : ''}`,
    );
    for (const [core, segs] of Object.entries(restore.segments))
      log(
        `  core ${core}        ${segs.length} WAL segment(s)${segs.length > 0 ? ` (${segs[0]}–${segs.at(-1)})` : ''}`,
      );
    log(
      `  downloaded    ${restore.bytes.toLocaleString('en-US')} bytes in ${restore.durationMs.toFixed(0)} ms`,
    );
    for (const k of restore.checkpointsSkipped)
      log(`  skipped       checkpoint ${k.id}: ${k.code} ${k.reason}`);
  }
  log(`checkpoint      ${recovered.checkpointId ?? 'none'}`);
  for (const k of recovered.checkpointsSkipped)
    log(`  skipped       checkpoint ${k.id}: ${k.code} ${k.reason}`);
  log(
    `WAL replayed    ${records.toLocaleString('en-US')} records over ${opts.cores} cores${recovered.uncommittedDiscarded > 0 ? `; ${recovered.uncommittedDiscarded} uncommitted mutations discarded` : ''}`,
  );
  log(`state           ${recovered.state.size.toLocaleString('en-US')} keys, epoch ${recovered.epoch}`);
  log(`recovered in    ${recovered.durationMs.toFixed(1)} ms`);
  if (opts.out) log(`output          ${opts.out}`);
  return { restore, recovered };
}
