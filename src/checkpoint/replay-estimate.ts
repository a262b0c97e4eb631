/**
 * How long a crash recovery would replay: the WAL bytes written since the last checkpoint over a
 * measured replay rate. The rate comes from what this process actually replayed — recovery at
 * open (when it replayed at least {@link MIN_REPLAY_SAMPLE_BYTES}; its time includes loading the
 * checkpoint, so the rate is on the low side and the estimate on the safe, high side) and every
 * checkpoint's own WAL replay (the same decode-and-apply loop) — blended as an exponentially
 * weighted average. Before any sample it is {@link DEFAULT_REPLAY_BYTES_PER_MS}.
 */

import { DEFAULT_REPLAY_BYTES_PER_MS } from '../format/constants.js';

export { DEFAULT_REPLAY_BYTES_PER_MS };
/** A replay shorter than this (bytes) is too short to time; it does not move the rate. */
export const MIN_REPLAY_SAMPLE_BYTES = 256 * 1024;
/** Weight of a new sample in the running average. */
const SAMPLE_WEIGHT = 0.3;

/** A running estimate of WAL replay speed. */
export class ReplayRate {
  private rate = DEFAULT_REPLAY_BYTES_PER_MS;
  private measured = false;

  /** Bytes per millisecond (the default until a sample was long enough). */
  get bytesPerMs(): number {
    return this.rate;
  }

  /** Records a replay of `bytes` that took `ms`; ignored when too short to time. */
  observe(bytes: number, ms: number): void {
    if (!(bytes >= MIN_REPLAY_SAMPLE_BYTES) || !(ms > 0)) return;
    const sample = bytes / ms;
    this.rate = this.measured ? (1 - SAMPLE_WEIGHT) * this.rate + SAMPLE_WEIGHT * sample : sample;
    this.measured = true;
  }

  /** Milliseconds to replay `bytes` of WAL at the current rate. */
  estimateMs(bytes: number): number {
    return bytes / this.rate;
  }
}
