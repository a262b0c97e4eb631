/** tidemark: a durability layer for Node.js. See README.md and docs/. */
export type { WaitOptions } from './abort.js';
export type { AbortOptions } from './abort-steps.js';
export * from './changelog/index.js';
export * from './checkpoint/index.js';
export {
  type CheckpointSpanContext,
  channels,
  type ObjectStoreRequestContext,
  type RecoverySpanContext,
  type SpanOutcome,
  type WalGroupCommitContext,
  type WalSyncContext,
} from './diagnostics.js';
export * from './errors.js';
export * from './format/index.js';
export * from './io/index.js';
export * from './metrics.js';
export * from './pipeline/index.js';
export * from './recovery/index.js';
export * from './state/index.js';
export * from './wal/index.js';
