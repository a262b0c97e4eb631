/**
 * `WalStateStore` (the seeds' `wal_state_store`): in-memory key/value state that logs every
 * mutation to the WAL before applying it. `commit(sourceOffsets, watermark)` appends a Commit
 * record, so source positions become durable in the same log, in order, with the state they
 * produced.
 *
 * In `transactional` mode the records between two commits form a transaction: recovery applies a
 * transaction only when its Commit record is present, which is what makes a source resume exactly
 * once (state and offsets move together).
 */

import { abortedError, type WaitOptions, waitSignal } from '../abort.js';
import { TidemarkError } from '../errors.js';
import { CommitEncoder, DeleteEncoder, PutEncoder, type SourceOffsets } from '../format/entry-codec.js';
import { checkCommit, checkKey, checkPosition, checkValue } from '../validation.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';
import {
  createStateBackend,
  type StateBackend,
  type StateScan,
  type StateScanOptions,
  type StateSnapshot,
} from './state-backend.js';

/** What a store starts from (normally the output of recovery). */
export interface WalStateStoreInit {
  /** The state to start from (default: an empty `'slab'` backend). The store owns it from then on. */
  state?: StateBackend;
  /** Epoch of the initial state (normally the recovered one). Default 0. */
  epoch?: number;
  /** Per-source offsets of the initial state. Default `{}`. */
  sourceOffsets?: SourceOffsets;
  /** Watermark (event time, ms) of the initial state. Default undefined. */
  watermark?: number | undefined;
  /** Only committed transactions survive recovery (records not followed by a Commit are discarded). Default false. */
  transactional?: boolean;
}

/**
 * In-memory state, logged before applied.
 *
 * Threads: not thread-safe — use from the thread that opened it (its WAL is framed and written in
 * that thread). To write from several threads use the per-core WAL (one `CoreWalWriter` per worker
 * thread), or send the writes to this thread.
 */
export class WalStateStore {
  private readonly state: StateBackend;
  private readonly putEncoder = new PutEncoder();
  private readonly deleteEncoder = new DeleteEncoder();
  private offsets: SourceOffsets;
  private currentWatermark: number | undefined;
  private currentEpoch: number;
  private uncommitted = 0;
  private lastCommit: number;
  private closing = false;
  /** True when recovery discards records not followed by a Commit. */
  readonly transactional: boolean;

  constructor(
    /** The open WAL every mutation is appended to before it is applied. */
    readonly wal: WriteAheadLog,
    init: WalStateStoreInit = {},
  ) {
    this.state = init.state ?? createStateBackend();
    this.currentEpoch = init.epoch ?? 0;
    this.offsets = { ...(init.sourceOffsets ?? {}) };
    this.currentWatermark = init.watermark;
    this.transactional = init.transactional ?? false;
    this.lastCommit = wal.lastLsn;
  }

  /**
   * @internal Called by the opener's `close()` before it starts: from then on every mutation
   * throws, and `durable()` rejects, with `TIDEMARK_CLOSED`. Without it a put made while the
   * close awaits its final sync is accepted by the WAL after that sync began and written to a
   * file already closed, yet the close resolves as if it were durable.
   */
  markClosing(): void {
    this.closing = true;
  }

  private checkOpen(): void {
    if (this.closing || this.wal.isClosed) {
      throw (
        this.wal.failed ??
        new TidemarkError('TIDEMARK_CLOSED', `the store on ${this.wal.directory.path} is closed`, {
          path: this.wal.directory.path,
        })
      );
    }
  }

  /**
   * The value of `key`, or `undefined`. Throws `TIDEMARK_INVALID_ARGUMENT` for a key that is not
   * a well-formed string. With the slab backend (default) the value is a fresh copy; with the map
   * backend it is the object the state holds (do not mutate it). Either way no later write
   * changes it.
   */
  get(key: string): Uint8Array | undefined {
    return this.state.get(key);
  }

  /** True when `key` is held. Throws `TIDEMARK_INVALID_ARGUMENT` for a malformed key. */
  has(key: string): boolean {
    return this.state.has(key);
  }

  /** Number of keys. */
  get size(): number {
    return this.state.size;
  }

  /** UTF-8 key bytes + value bytes held. */
  get sizeBytes(): number {
    return this.state.sizeBytes;
  }

  /**
   * Entries whose key starts with `prefix`, in key order: the unsigned bytes of the UTF-8 key
   * (code point order; `'\uFFFF'` sorts before `'\u{1F600}'`, unlike JavaScript's `<`). At most
   * `options.limit` (an integer ≥ 0). Works with `for…of` and `for await…of`. A scan running
   * while the store is written sees every key present throughout once, in order; keys written
   * meanwhile may or may not be seen (take a {@link snapshot} for a fixed view). Throws
   * `TIDEMARK_INVALID_ARGUMENT` for a malformed prefix or limit.
   */
  prefixScan(prefix: string, options?: StateScanOptions): StateScan {
    return this.state.prefixScan(prefix, options);
  }

  /**
   * Entries with `start ≤ key < end` (start inclusive, end exclusive; `undefined` for an open
   * end), in UTF-8 byte order, at most `options.limit`; empty when `end ≤ start`. Same contract
   * as {@link prefixScan}.
   */
  rangeScan(start: string | undefined, end: string | undefined, options?: StateScanOptions): StateScan {
    return this.state.rangeScan(start, end, options);
  }

  /**
   * A point-in-time read view (`get`, `has`, `size`, `sizeBytes`, scans): its reads do not change
   * while the store is written. Release it with `release()` or `using snap = store.snapshot()`;
   * reading it afterwards throws `TIDEMARK_CLOSED`. A live snapshot pins memory (slab: the index
   * pages written since; map: a copy of the whole `Map` on the first write after it).
   */
  snapshot(): StateSnapshot {
    return this.state.snapshot();
  }

  /** Epoch of the store (advanced by each checkpoint). */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** Source offsets of the last commit. */
  get sourceOffsets(): Readonly<SourceOffsets> {
    return this.offsets;
  }

  /** Watermark of the last commit. */
  get watermark(): number | undefined {
    return this.currentWatermark;
  }

  /** Mutations appended since the last commit. */
  get uncommittedCount(): number {
    return this.uncommitted;
  }

  /** LSN of the last Commit record (or of the last record before this store opened). */
  get lastCommitLsn(): number {
    return this.lastCommit;
  }

  /**
   * Logs, then applies, `key = value`. Returns the record's LSN. `key` is a well-formed string,
   * `value` a `Uint8Array` or `Buffer` (the slab backend copies it; the map backend keeps it by
   * reference: do not mutate it). Checked before
   * anything is logged: `TIDEMARK_INVALID_ARGUMENT`, `TIDEMARK_LIMIT` (key over 64 KiB, put over
   * 16 MiB). Also throws the WAL's `TIDEMARK_CLOSED`, failure or `TIDEMARK_BACKPRESSURE`.
   */
  put(key: string, value: Uint8Array): number {
    checkKey('put(key)', key);
    checkValue('put(value)', key, value);
    this.checkOpen();
    const lsn = this.wal.append(this.putEncoder.set(key, value));
    this.state.putUnchecked(key, value); // checked above, before anything was logged
    this.uncommitted++;
    return lsn;
  }

  /** Logs, then applies, the removal of `key`. Returns the record's LSN. */
  delete(key: string): number {
    checkKey('delete(key)', key);
    this.checkOpen();
    const lsn = this.wal.append(this.deleteEncoder.set(key));
    this.state.deleteUnchecked(key);
    this.uncommitted++;
    return lsn;
  }

  /**
   * Appends a Commit record with the sources' offsets and the watermark (event time, ms), making
   * them durable together with every mutation before it. Returns the Commit record's LSN;
   * `await store.flushed(lsn)` for durability. Offsets are non-negative safe integers, the
   * watermark a safe integer: anything else is `TIDEMARK_INVALID_ARGUMENT`, before anything is logged.
   */
  commit(sourceOffsets: SourceOffsets, watermark?: number): number {
    checkCommit('commit', sourceOffsets, watermark);
    this.checkOpen();
    const merged = { ...this.offsets, ...sourceOffsets };
    const lsn = this.wal.append(
      new CommitEncoder(this.currentEpoch, merged, watermark ?? this.currentWatermark),
    );
    this.offsets = merged;
    if (watermark !== undefined) this.currentWatermark = watermark;
    this.uncommitted = 0;
    this.lastCommit = lsn;
    return lsn;
  }

  /**
   * Resolves when the record at `lsn` (and all before it) is durable. Rejects with
   * `TIDEMARK_INVALID_ARGUMENT` for an LSN that is not a non-negative safe integer or was never
   * appended, or `options` that are not `{ signal?: AbortSignal }`, and with the WAL's failure.
   * With `options.signal`, an abort rejects this wait alone with `TIDEMARK_ABORTED` (`cause`: the
   * signal's reason); the record still becomes durable and other waiters are untouched.
   */
  flushed(lsn: number, options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      checkPosition('flushed(lsn)', lsn);
      signal = waitSignal('flushed(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.wal.flushed(lsn, { signal });
  }

  /**
   * Resolves when everything appended so far is durable (forces the group out now). Rejects with
   * the WAL's failure, or `TIDEMARK_CLOSED` once the store is closed; `options.signal` as in
   * {@link flushed} (an abort stops the wait, never the flush).
   */
  durable(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = waitSignal('durable(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted && !this.wal.isClosed) return Promise.reject(abortedError('durable', signal));
    if (this.closing && !this.wal.isClosed) {
      // Everything accepted before close() began is what the close's own final sync covers.
      return this.wal.sync({ signal });
    }
    if (this.wal.isClosed) {
      return Promise.reject(
        this.wal.failed ??
          new TidemarkError('TIDEMARK_CLOSED', `the store on ${this.wal.directory.path} is closed`, {
            path: this.wal.directory.path,
          }),
      );
    }
    return this.wal.sync({ signal });
  }

  /** Every entry, in key order (UTF-8 bytes; see {@link prefixScan}). */
  entries(): StateScan {
    return this.state.entries();
  }

  /** Advances the store's epoch by one and returns it (each checkpoint closes an epoch). */
  advanceEpoch(): number {
    return ++this.currentEpoch;
  }
}
