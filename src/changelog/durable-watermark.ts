/**
 * Ring 0's side of the durable watermark: `wait(sequence)` resolves once Ring 1 has published a
 * durable sequence ≥ `sequence`. No polling: one `Atomics.waitAsync` on the watermark word is
 * pending while anyone waits (with a bounded timeout as a safety net, after which it looks at the
 * ring's state again), and it resolves every waiter at or below the new watermark.
 */

import { abortedError, guardWaiter } from '../abort.js';
import type { TidemarkError } from '../errors.js';
import { RING_DURABLE_SEQUENCE_BIGWORD, RING_FLUSH_REQUEST_WORD } from '../format/constants.js';
import { loadDurableSequence } from './ring-status.js';
import type { StateChangelogBuffer } from './state-changelog-buffer.js';

interface Waiter {
  sequence: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Longest single `Atomics.waitAsync` before the ring's state is checked again, ms. */
const WAIT_SLICE_MS = 500;

/** What a {@link DurableWatermark} watches and whom it tells. */
export interface DurableWatermarkOptions {
  /** The ring whose durable-sequence word Ring 1 publishes. */
  buffer: StateChangelogBuffer;
  /** Returns the store's failure (Ring 1's published error, a dead worker, close). */
  failure: () => TidemarkError | undefined;
  /**
   * Told `true` when the first waiter arrives and `false` when the last leaves (the store refs
   * its worker only while someone waits, so an idle store never holds the process).
   */
  onWaiting: (waiting: boolean) => void;
  /** Called once per wait, before sleeping (the store wakes Ring 1 and asks for a flush). */
  onWait: () => void;
}

/**
 * Waiters on the durable watermark, sorted by sequence.
 *
 * Threads: Ring 0's side: the thread of its store.
 */
export class DurableWatermark {
  private readonly waiters: Waiter[] = [];
  private watching = false;
  private readonly buffer: StateChangelogBuffer;
  private readonly failure: () => TidemarkError | undefined;
  private readonly onWaiting: (waiting: boolean) => void;
  private readonly onWait: () => void;

  // Named, not positional: `onWait` (no argument) would type-check in `onWaiting`'s place.
  constructor(options: DurableWatermarkOptions) {
    this.buffer = options.buffer;
    this.failure = options.failure;
    this.onWaiting = options.onWaiting;
    this.onWait = options.onWait;
  }

  /** The durable sequence Ring 1 last published. */
  get current(): number {
    return loadDurableSequence(this.buffer);
  }

  /** Waiters pending. */
  get pending(): number {
    return this.waiters.length;
  }

  /**
   * Resolves when every entry ≤ `sequence` is durable; rejects with the store's failure, or with
   * `TIDEMARK_ABORTED` when `signal` aborts (that waiter alone leaves the list, so aborted waits
   * never accumulate; an already-aborted signal rejects at once). `what` names the wait in
   * errors (default `'flushed'`).
   */
  wait(sequence: number, options: { signal?: AbortSignal | undefined; what?: string } = {}): Promise<void> {
    const { signal, what = 'flushed' } = options;
    if (signal?.aborted) return Promise.reject(abortedError(what, signal));
    if (sequence <= this.current) return Promise.resolve();
    const failed = this.failure();
    if (failed) return Promise.reject(failed);
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        sequence,
        ...guardWaiter(what, signal, {
          resolve,
          reject,
          remove: () => {
            const i = this.waiters.indexOf(w);
            if (i >= 0) this.waiters.splice(i, 1);
          },
        }),
      };
      const list = this.waiters;
      let i = list.length;
      while (i > 0 && list[i - 1]!.sequence > sequence) i--;
      list.splice(i, 0, w);
      if (!this.watching) void this.watch();
      else this.askRing1();
    });
  }

  /** Rejects every waiter with `err` (the store failed or closed). */
  rejectAll(err: unknown): void {
    const list = this.waiters.splice(0);
    for (const w of list) w.reject(err);
  }

  /**
   * Someone waits: ask Ring 1 for an immediate group (the flush-request word; a leader on an idle
   * disk, so `flushed(seq)` never waits for `groupCommitDelayMs` and costs what `durable()`
   * costs), then let the store wake it.
   */
  private askRing1(): void {
    Atomics.add(this.buffer.control, RING_FLUSH_REQUEST_WORD, 1);
    this.onWait();
  }

  private async watch(): Promise<void> {
    this.watching = true;
    this.onWaiting(true);
    try {
      while (this.waiters.length > 0) {
        const raw = Atomics.load(this.buffer.control64, RING_DURABLE_SEQUENCE_BIGWORD);
        const durable = Number(raw);
        let n = 0;
        while (n < this.waiters.length && this.waiters[n]!.sequence <= durable) n++;
        if (n > 0) for (const w of this.waiters.splice(0, n)) w.resolve();
        if (this.waiters.length === 0) break;
        const failed = this.failure();
        if (failed) {
          this.rejectAll(failed);
          break;
        }
        this.askRing1();
        const r = Atomics.waitAsync(this.buffer.control64, RING_DURABLE_SEQUENCE_BIGWORD, raw, WAIT_SLICE_MS);
        if (r.async) await r.value;
      }
    } finally {
      this.watching = false;
      this.onWaiting(false);
    }
  }
}
