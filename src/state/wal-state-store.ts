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
import { CommitEncoder, DeleteEncoder, PutEncoder, type SourceOffsets } from '../format/entry-codec.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';

/** What a store starts from (normally the output of recovery). */
export interface WalStateStoreInit {
  state?: Map<string, Uint8Array>;
  epoch?: number;
  sourceOffsets?: SourceOffsets;
  watermark?: number | undefined;
  transactional?: boolean;
}

/** In-memory state, logged before applied. */
export class WalStateStore {
  private readonly state: Map<string, Uint8Array>;
  private readonly putEncoder = new PutEncoder();
  private readonly deleteEncoder = new DeleteEncoder();
  private offsets: SourceOffsets;
  private currentWatermark: number | undefined;
  private currentEpoch: number;
  private uncommitted = 0;
  private lastCommit: number;
  /** True when recovery discards records not followed by a Commit. */
  readonly transactional: boolean;

  constructor(
    readonly wal: WriteAheadLog,
    init: WalStateStoreInit = {},
  ) {
    this.state = init.state ?? new Map();
    this.currentEpoch = init.epoch ?? 0;
    this.offsets = { ...(init.sourceOffsets ?? {}) };
    this.currentWatermark = init.watermark;
    this.transactional = init.transactional ?? false;
    this.lastCommit = wal.lastLsn;
  }

  /** The value of `key`, or undefined. */
  get(key: string): Uint8Array | undefined {
    return this.state.get(key);
  }

  /** Number of keys. */
  get size(): number {
    return this.state.size;
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

  /** Logs, then applies, `key = value`. Returns the record's LSN. The store keeps `value` (do not mutate it). */
  put(key: string, value: Uint8Array): number {
    const lsn = this.wal.append(this.putEncoder.set(key, value));
    this.state.set(key, value);
    this.uncommitted++;
    return lsn;
  }

  /** Logs, then applies, the removal of `key`. Returns the record's LSN. */
  delete(key: string): number {
    const lsn = this.wal.append(this.deleteEncoder.set(key));
    this.state.delete(key);
    this.uncommitted++;
    return lsn;
  }

  /**
   * Appends a Commit record with the sources' offsets and the watermark (event time, ms), making
   * them durable together with every mutation before it. Returns the Commit record's LSN;
   * `await store.flushed(lsn)` for durability.
   */
  commit(sourceOffsets: SourceOffsets, watermark?: number): number {
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

  /** Resolves when the record at `lsn` (and all before it) is durable. */
  flushed(lsn: number): Promise<void> {
    return this.wal.flushed(lsn);
  }

  /** Resolves when everything appended so far is durable (forces the group out now). */
  durable(): Promise<void> {
    return this.wal.sync();
  }

  /** Iterates the state. */
  entries(): IterableIterator<[string, Uint8Array]> {
    return this.state.entries();
  }

  /** Advances the store's epoch by one and returns it (each checkpoint closes an epoch). */
  advanceEpoch(): number {
    return ++this.currentEpoch;
  }
}
