/**
 * Automatic checkpoints for an engine whose checkpointer runs in the writer's own thread (the
 * `RecoveryManager.open()` store): a timer asks the manager whether a checkpoint is due
 * (`intervalMs` elapsed, or `walSizeThresholdBytes` of WAL written since the last one) and runs
 * one through the engine's own `checkpoint()`, one at a time. The Ring 1 worker runs the same
 * loop in its thread.
 *
 * With a WAL-bytes bound the timer ticks every {@link WAL_BOUND_TICK_MS}: what a crash replays is
 * then at most the bound, plus what is written in one tick, plus what is written while the
 * checkpoint that the bound triggered runs (the WAL after its position is replayed on top of it).
 */
import type { IncrementalCheckpointManager } from './incremental-checkpoint-manager.js';

/** Tick of the due-check when a WAL-bytes bound is set: 10 ms. */
export const WAL_BOUND_TICK_MS = 10;
/** Longest tick for a time-based trigger: 100 ms. */
export const INTERVAL_TICK_MS = 100;

/** The timer's period for these options, 0 when nothing is automatic. */
export function autoCheckpointTickMs(options: { intervalMs: number; walSizeThresholdBytes: number }): number {
  const ticks: number[] = [];
  if (options.walSizeThresholdBytes > 0) ticks.push(WAL_BOUND_TICK_MS);
  if (options.intervalMs > 0) ticks.push(Math.min(options.intervalMs, INTERVAL_TICK_MS));
  return ticks.length === 0 ? 0 : Math.min(...ticks);
}

/** A running automatic-checkpoint timer. */
export interface AutoCheckpoint {
  /** Stops the timer and waits for a checkpoint it started. */
  stop(): Promise<void>;
}

/**
 * Starts the timer (unref'd: it never keeps the process alive) when the manager's options ask
 * for automatic checkpoints; `checkpoint` runs one, `onError` hears its failure (the next tick
 * tries again while the WAL is healthy).
 */
export function startAutoCheckpoint(init: {
  manager: IncrementalCheckpointManager;
  checkpoint: () => Promise<unknown>;
  onError?: (err: unknown) => void;
}): AutoCheckpoint {
  const tickMs = autoCheckpointTickMs(init.manager.options);
  let running: Promise<unknown> | undefined;
  const timer =
    tickMs > 0
      ? setInterval(() => {
          if (running || !init.manager.isDue()) return;
          running = init
            .checkpoint()
            .catch((err: unknown) => init.onError?.(err))
            .finally(() => {
              running = undefined;
            });
        }, tickMs)
      : undefined;
  timer?.unref();
  return {
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
