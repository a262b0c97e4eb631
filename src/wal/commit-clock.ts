/**
 * Commit times of the WAL writer (format version 4; PostgreSQL stamps each commit record with a
 * timestamp for `recovery_target_time`): each segment gets a base time in whole seconds when it
 * is assigned, and each batch the wall-clock time at which it is sealed, stored as ms after its
 * segment's base. Times never go backwards in a log written by one writer, whatever the system
 * clock does (a step back is clamped to the previous batch's time), so the reader may treat a
 * decrease within a segment as damage.
 */
import { assert } from '../errors.js';
import { MAX_BATCH_COMMIT_DELTA_MS, MAX_SEGMENT_TIME_SPAN_MS } from '../format/constants.js';

/**
 * The writer's clock for commit times.
 *
 * Threads: part of a `WriteAheadLog`: used from that log's thread only.
 */
export class CommitClock {
  private readonly now: () => number;
  /** Newest time handed out (a base or a commit time), ms since the Unix epoch. */
  private last: number;

  /**
   * `now` reads the wall clock (ms since the Unix epoch; default `Date.now`); `lastCommitTimeMs`
   * is the newest commit time already in the log (a reopened final segment), never gone below.
   */
  constructor(options: { now?: (() => number) | undefined; lastCommitTimeMs?: number | undefined } = {}) {
    this.now = options.now ?? Date.now;
    this.last = options.lastCommitTimeMs ?? 0;
  }

  /** Base time for a segment assigned now: whole seconds since the Unix epoch (u32). */
  segmentBase(): number {
    const ms = Math.max(this.read(), this.last);
    return Math.floor(ms / 1000);
  }

  /**
   * True when a batch opened now in a segment of base `baseSeconds` could overflow its commit
   * time field before it is sealed: the writer starts a new segment instead.
   */
  segmentTooOld(baseSeconds: number): boolean {
    return this.read() - baseSeconds * 1000 > MAX_SEGMENT_TIME_SPAN_MS;
  }

  /** The commit time of a batch of the segment of base `baseSeconds` sealed now, as ms after that base. */
  stamp(baseSeconds: number): number {
    const baseMs = baseSeconds * 1000;
    const time = Math.max(this.read(), this.last, baseMs);
    this.last = time;
    const delta = time - baseMs;
    assert(
      delta <= MAX_BATCH_COMMIT_DELTA_MS,
      `batch commit time ${delta} ms after its segment's base overflows (the segment should have rotated)`,
    );
    return delta;
  }

  private read(): number {
    return Math.floor(this.now());
  }
}
