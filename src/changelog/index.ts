export { ChangelogDrainer, type ChangelogDrainerOptions } from './changelog-drainer.js';
export { DurableWatermark, type DurableWatermarkOptions } from './durable-watermark.js';
export {
  loadDurableLsn,
  loadDurableSequence,
  loadEpoch,
  loadRingFailure,
  loadRingState,
  publishDurable,
  publishFailure,
  storeEpoch,
  storeRingState,
} from './ring-status.js';
export {
  StateChangelogBuffer,
  type StateChangelogBufferOptions,
  type StateChangelogEntry,
} from './state-changelog-buffer.js';
