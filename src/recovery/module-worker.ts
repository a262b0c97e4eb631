/**
 * Starts a worker thread on one of tidemark's own modules. From compiled JavaScript that is the
 * `.js` file; when tidemark runs from its TypeScript sources (its own tests, through tsx) the
 * worker registers tsx first, since Node 20 workers do not inherit the `--import` loader hooks.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Starts `./<name>.js|.ts` next to `fromUrl` (a module's `import.meta.url`) as a worker thread. */
export function startModuleWorker(fromUrl: string, name: string, options: WorkerOptions): Worker {
  const self = fileURLToPath(fromUrl);
  const url = new URL(`./${name}${path.extname(self)}`, fromUrl);
  if (path.extname(self) !== '.ts') return new Worker(url, options);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}
