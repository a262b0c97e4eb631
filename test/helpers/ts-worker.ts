// Starts a worker thread on a TypeScript file (Node 20 workers do not inherit tsx's --import hooks).
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export function startTsWorker(file: string, workerData: unknown): Worker {
  const href = pathToFileURL(file).href;
  const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(href)}); })`;
  return new Worker(code, { eval: true, workerData });
}
