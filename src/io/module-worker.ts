/**
 * Starts a worker thread on one of tidemark's own modules. From compiled JavaScript that is the
 * `.js` file; when tidemark runs from its TypeScript sources (its own tests, through tsx) the
 * worker registers tsx first, since Node 20 workers do not inherit the `--import` loader hooks.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts `./<name>.js|.ts` next to `fromUrl` (a module's `import.meta.url`) as a worker thread.
 *
 * The worker gets a clean `execArgv`: by default a worker inherits the process's, and flags such
 * as `--input-type=module -e …`, `--eval`, `--print` or `--test` describe the user's entry
 * point, not ours (a program run as `node --input-type=module -e …` would otherwise start Ring 1
 * as eval code and it would die at once).
 */
export function startModuleWorker(fromUrl: string, name: string, options: WorkerOptions): Worker {
  const self = fileURLToPath(fromUrl);
  const url = new URL(`./${name}${path.extname(self)}`, fromUrl);
  const clean: WorkerOptions = { ...options, execArgv: [] };
  if (path.extname(self) !== '.ts') return new Worker(url, clean);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { ...clean, eval: true });
}
