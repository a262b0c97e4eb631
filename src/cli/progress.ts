/** A progress bar on stderr when it is a terminal and the work is large enough to want one. */
import * as fs from 'node:fs';
import cliProgress from 'cli-progress';
import { TidemarkError } from '../errors.js';

/** Read-only commands never create what they are asked to read: `TIDEMARK_NOT_FOUND` instead. */
export function requireDirectory(dir: string): void {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new TidemarkError('TIDEMARK_NOT_FOUND', `${dir} is not a directory`, { path: dir });
}

/** Returns an `onProgress(done, total)` callback and `stop()`; both do nothing off a TTY or in JSON mode. */
export function progressBar(label: string, enabled: boolean, minItems = 10) {
  let bar: cliProgress.SingleBar | undefined;
  return {
    onProgress(done: number, total: number) {
      if (!enabled || !process.stderr.isTTY || total < minItems) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { format: `${label} [{bar}] {value}/{total}`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      } else bar.update(done);
    },
    stop() {
      bar?.stop();
    },
  };
}
