/**
 * Write epochs and live snapshots of the slab store (the bookkeeping of its copy-on-write).
 *
 * Writes happen in the current epoch; `take()` gives a snapshot the current epoch and starts the
 * next. Anything (an index page, a slab) born at epoch `b` and dropped from the live store at
 * epoch `r` can be read by snapshot `e` exactly when `b ≤ e < r`, so it may be freed once no live
 * snapshot lies in `[b, r)`; a page born after the newest live snapshot may be changed in place.
 */
import { assert } from '../errors.js';

/** Threads: not thread-safe: one thread (the store's). */
export class SnapshotEpochs {
  /** The current write epoch. */
  epoch = 1;
  /** Epochs of the live snapshots, ascending. */
  readonly live: number[] = [];

  /** Epoch of the newest live snapshot, 0 when there is none. */
  get newest(): number {
    return this.live.length === 0 ? 0 : this.live[this.live.length - 1]!;
  }

  /** Pins the current epoch for a new snapshot and starts the next one. */
  take(): number {
    const epoch = this.epoch++;
    this.live.push(epoch);
    return epoch;
  }

  /** Unpins snapshot `epoch`. */
  release(epoch: number): void {
    const at = this.live.indexOf(epoch);
    assert(at >= 0, `snapshot ${epoch} released twice`);
    this.live.splice(at, 1);
  }

  /** True when a live snapshot's epoch lies in `[birth, retired)`. */
  visible(birth: number, retired: number): boolean {
    const s = this.live;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! < birth) lo = mid + 1;
      else hi = mid;
    }
    return lo < s.length && s[lo]! < retired;
  }
}
