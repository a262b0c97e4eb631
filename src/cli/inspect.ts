/**
 * `tidemark inspect DIR`: what a data directory holds — segments with their LSN ranges, sizes and
 * records by type; checkpoints with kind, chain, WAL position, epoch, files and key counts; the
 * `latest` pointer — read-only. `--json` prints the whole report as one object.
 */
import { WAL_BATCH_FORMAT_VERSION } from '../format/constants.js';
import { examineDataDirectory } from '../recovery/examine-data-directory.js';
import { describeFiles, objectStoreLines, summarizeObjectStore } from './object-store-summary.js';
import { progressBar, requireDirectory } from './progress.js';

export interface InspectOptions {
  dir: string;
  store: string | undefined;
  json: boolean;
}

export async function runInspect(opts: InspectOptions, log: (line: string) => void): Promise<number> {
  requireDirectory(opts.dir);
  const progress = progressBar('inspect', !opts.json);
  const report = await examineDataDirectory(opts.dir, {
    objectStore: opts.store,
    onProgress: progress.onProgress,
  });
  progress.stop();
  // Classes, tiers and the archive's compression: listings and HEADs only.
  const objectStore = opts.store === undefined ? undefined : await summarizeObjectStore(opts.store);
  if (opts.json) {
    log(JSON.stringify(objectStore === undefined ? report : { ...report, objectStore }));
    return 0;
  }
  log(`data directory  ${report.dir}`);
  log(`WAL             ${report.segments.length} segments, ${report.walBytes.toLocaleString('en-US')} bytes`);
  for (const s of report.segments) {
    const types = Object.entries(s.recordsByType)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    const range = s.firstLsn === undefined ? 'LSN ?' : `LSN ${s.firstLsn}..${s.lastLsn}`;
    // Version 3 and 4 segments group records in batches (one header and CRC32C each): how well they fill.
    const batches =
      s.version !== undefined && s.version >= WAL_BATCH_FORMAT_VERSION
        ? `  v${s.version}: ${s.batches} batches, ${s.batches > 0 ? (s.records / s.batches).toFixed(1) : 0} records/batch (max ${s.maxBatchRecords})`
        : s.version === undefined
          ? ''
          : `  v${s.version}: one frame per record`;
    // Version 4 segments carry commit times: the span of the segment's batches (point-in-time targets).
    const committed =
      s.firstCommitTimeMs === undefined || s.lastCommitTimeMs === undefined
        ? ''
        : `  committed ${new Date(s.firstCommitTimeMs).toISOString()}..${new Date(s.lastCommitTimeMs).toISOString()}`;
    log(
      `  segment ${String(s.number).padStart(4)}  ${range.padEnd(24)} ${String(s.records).padStart(8)} records  ${s.sizeBytes.toLocaleString('en-US').padStart(14)} B  ${types}${batches}${committed}${s.tornTail ? `  [torn tail at ${s.tornTail.offset}]` : ''}${s.problem ? `  [${s.problem.code}]` : ''}`,
    );
  }
  if (report.cleanShutdown)
    log(
      `closed cleanly  at LSN ${report.cleanShutdown.lsn} (segment ${report.cleanShutdown.segment}, ${report.cleanShutdown.endOffset} bytes)`,
    );
  for (const f of report.brokenFiles) log(`  broken copy   ${f} (bytes a repair cut off)`);
  for (const w of report.warnings) log(`  warning       ${w.path}: ${w.message}`);
  log(
    `checkpoints     ${report.checkpoints.length} in ${report.checkpointLocation}; latest pointer: ${report.latestPointer}`,
  );
  for (const c of report.checkpoints) {
    const m = c.manifest;
    if (!m) {
      log(`  checkpoint ${c.id}: manifest unreadable  [${c.problems[0]?.code ?? '?'}]`);
      continue;
    }
    const files = describeFiles(m);
    log(
      `  checkpoint ${String(c.id).padStart(4)}  ${m.kind.padEnd(5)} chain ${c.chain.join('→') || '?'}  LSN ${m.walPosition.lsn}  epoch ${m.epoch}  ${m.state.keys < 0 ? '?' : m.state.keys.toLocaleString('en-US')} keys  ${files}  ${c.valid ? 'valid' : `INVALID [${c.problems[0]?.code}]`}`,
    );
  }
  if (objectStore !== undefined) for (const line of objectStoreLines(objectStore)) log(line);
  if (report.problems.length > 0)
    log(`problems        ${report.problems.length} (run tidemark verify for details)`);
  return 0;
}
