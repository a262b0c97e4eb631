/**
 * Starting a worker thread on one of tidemark's own modules lives in the io layer (the zstd
 * codec's worker uses it too); Ring 1 and the demos keep importing it from here.
 */
export { startModuleWorker } from '../io/module-worker.js';
