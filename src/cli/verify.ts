/**
 * `tidemark verify DIR`: checks every WAL segment and every checkpoint of a data directory
 * without changing anything. Exit 0 when clean (a torn tail that opening would cut, and files
 * that are not part of the log or the checkpoints, are reported but are not damage; `.broken`
 * copies of cut bytes are not mentioned), 1 when damage is found — each problem printed with its
 * code, file and offset — and 2 when the directory cannot be read at all. Whenever recovery
 * (`open()`) would refuse the directory, that is one of the problems, with recovery's own code:
 * verify never says OK where recovery fails.
 */
import { examineDataDirectory } from '../recovery/examine-data-directory.js';
import { checkpointFilesLine, summarizeCheckpointFiles } from './checkpoint-files-summary.js';
import { objectStoreLines, summarizeObjectStore } from './object-store-summary.js';
import { progressBar, requireDirectory } from './progress.js';

export interface VerifyOptions {
  dir: string;
  store: string | undefined;
  json: boolean;
}

/** Runs verify; resolves the exit code. */
export async function runVerify(opts: VerifyOptions, log: (line: string) => void): Promise<number> {
  requireDirectory(opts.dir);
  const progress = progressBar('verify', !opts.json);
  const report = await examineDataDirectory(opts.dir, {
    objectStore: opts.store,
    onProgress: progress.onProgress,
  });
  progress.stop();
  const clean = report.problems.length === 0;
  const objectStore = opts.store === undefined ? undefined : await summarizeObjectStore(opts.store);
  const checkpointFiles = summarizeCheckpointFiles(report.checkpoints.map((c) => c.manifest));
  if (opts.json) {
    log(
      JSON.stringify({
        dir: report.dir,
        clean,
        segments: report.segments.length,
        checkpoints: report.checkpoints.length,
        tornTails: report.segments.filter((s) => s.tornTail).map((s) => s.tornTail),
        cleanShutdown: report.cleanShutdown,
        warnings: report.warnings,
        problems: report.problems,
        recovery: report.recovery,
        checkpointFiles,
        ...(objectStore === undefined ? {} : { objectStore }),
      }),
    );
    return clean ? 0 : 1;
  }
  const validCheckpoints = report.checkpoints.filter((c) => c.valid).length;
  log(
    `${report.dir}: ${count(report.segments.length, 'WAL segment')} (${report.walBytes.toLocaleString('en-US')} bytes), ${count(report.checkpoints.length, 'checkpoint')} (${validCheckpoints} valid) in ${report.checkpointLocation}`,
  );
  for (const s of report.segments)
    if (s.tornTail)
      log(
        `torn tail       ${s.tornTail.path} at byte ${s.tornTail.offset} (${s.tornTail.bytesDropped} bytes; cut when the log is opened): ${s.tornTail.reason}`,
      );
  if (checkpointFiles.files > 0) log(checkpointFilesLine(checkpointFiles));
  if (report.cleanShutdown)
    log(
      `closed cleanly   at LSN ${report.cleanShutdown.lsn} (segment ${report.cleanShutdown.segment}, ${report.cleanShutdown.endOffset} bytes)`,
    );
  if (objectStore !== undefined) for (const line of objectStoreLines(objectStore)) log(line);
  for (const w of report.warnings) log(`warning         ${w.path}: ${w.message}`);
  for (const p of report.problems) log(problemLine(p, report.dir));
  log(clean ? 'OK: no damage found' : `DAMAGED: ${count(report.problems.length, 'problem')}`);
  return clean ? 0 : 1;
}

/** `1 WAL segment`, `2 WAL segments`. */
function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * `CODE where: what`. Most messages already start with the file and offset (`corruption()`
 * writes `<path> at byte <n>: …`): those are printed as they are, so the path is not repeated.
 */
function problemLine(
  p: { code: string; path?: string | undefined; offset?: number | undefined; message: string },
  dir: string,
): string {
  const where = `${p.path ?? dir}${p.offset === undefined ? '' : ` at byte ${p.offset}`}`;
  return p.message.startsWith(where) ? `${p.code} ${p.message}` : `${p.code} ${where}: ${p.message}`;
}
