/**
 * Checkpoint progress on `node:diagnostics_channel`: one message per step of publishing, in
 * order, published synchronously at the moment the step is complete. Subscribe to trace or time
 * checkpoints; crash tests subscribe to kill the process at an exact step.
 *
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel';
 * diagnostics_channel.subscribe('tidemark:checkpoint', (msg) => console.log(msg));
 * ```
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** Name of the channel. */
export const CHECKPOINT_CHANNEL_NAME = 'tidemark:checkpoint';

/**
 * The steps of publishing a checkpoint, in order (`file-written` / `file-synced` once per data
 * file): data written, data fdatasync'ed, manifest committed (atomic rename + directory fsync),
 * `latest` pointer updated, CheckpointMarker durable in the WAL, old checkpoints pruned, WAL
 * prefix truncated, done.
 */
export const CHECKPOINT_STEPS = [
  'begin',
  'file-written',
  'file-synced',
  'manifest-committed',
  'pointer-updated',
  'wal-marker-durable',
  'pruned',
  'wal-truncated',
  'published',
] as const;
/** One step of a checkpoint, as published on the channel (see {@link CHECKPOINT_STEPS}). */
export type CheckpointStep = (typeof CHECKPOINT_STEPS)[number];

/** A message on the channel. */
export interface CheckpointStepMessage {
  /** The step just completed (see {@link CHECKPOINT_STEPS} for the order). */
  step: CheckpointStep;
  /** Checkpoint id. */
  id: number;
  /** The data file, for `file-written` / `file-synced`. */
  file?: string;
  /** `base` or `delta`. */
  kind?: string;
}

const channel = diagnosticsChannel.channel(CHECKPOINT_CHANNEL_NAME);

/** Publishes a step (nothing is built when no one listens). */
export function emitCheckpointStep(
  step: CheckpointStep,
  id: number,
  extra?: Partial<CheckpointStepMessage>,
): void {
  if (channel.hasSubscribers) channel.publish({ step, id, ...extra } satisfies CheckpointStepMessage);
}
