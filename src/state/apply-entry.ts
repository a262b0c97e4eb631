/**
 * Replay: applies decoded WAL entries to a {@link StateBackend}, honouring transactions (records after the
 * last Commit wait in a pending list until their Commit arrives; an Abort drops them).
 */
import { BATCH_HEADER_SIZE, BATCH_RECORD_HEADER_SIZE, RECORD_HEADER_SIZE } from '../format/constants.js';
import { decodeEntry, type SourceOffsets, type WalEntry } from '../format/entry-codec.js';
import { readDeleteKeyLength, readPutRanges } from '../format/entry-ranges.js';
import type { RecordPayload } from '../format/record-frame.js';
import type { StateFileEntryRange } from '../format/state-file.js';
import type { Directory } from '../io/directory.js';
import { WalReader, type WalReadOptions, type WalReadStats } from '../wal/wal-reader.js';
import type { StateBackend } from './state-backend.js';

/**
 * What replay writes to: the backend's unchecked writes (and its kind, for the copy rule), and,
 * when it has them, its writes from bytes (the slab backend's path that copies a record's key
 * and value straight from the segment image).
 */
export type ReplayState = Pick<StateBackend, 'kind' | 'putUnchecked' | 'deleteUnchecked'> &
  Partial<Pick<StateBackend, 'putBytes' | 'deleteBytes'>>;

/**
 * A replay state that keeps nothing: for a replayer whose `changed` map is the whole point (the
 * checkpoint manager holds only the keys changed since the last checkpoint, never the state).
 */
export const DISCARDING_REPLAY_STATE: ReplayState = {
  kind: 'map',
  putUnchecked: () => {},
  deleteUnchecked: () => false,
};

/** The state being rebuilt by replay. */
export interface ReplayTarget<S extends ReplayState = StateBackend> {
  /** The key/value state replay writes to. */
  state: S;
  /** Epoch of the last Commit applied. */
  epoch: number;
  /** Per-source offsets as of the last Commit applied. */
  sourceOffsets: SourceOffsets;
  /** Watermark (event time, ms) of the last Commit applied; undefined when none carried one. */
  watermark: number | undefined;
  /** LSN of the last Commit applied. */
  lastCommitLsn: number;
}

/**
 * Applies entries in LSN order; in transactional mode, only committed ones.
 *
 * Threads: not thread-safe: one replay in one thread.
 */
export class StateReplayer {
  private readonly pending: WalEntry[] = [];
  /** Entries applied. */
  applied = 0;
  /** The one range object every in-place Put fills (nothing is allocated per record). */
  private readonly range: StateFileEntryRange = { keyStart: 0, keyLength: 0, valueStart: 0, valueLength: 0 };

  /**
   * @param changed when given, every key a Put or Delete is applied to is recorded in it with
   *   its new value (`undefined` when deleted): the incremental checkpointer's record of what
   *   changed since its parent, so a delta is written without a lookup in the whole state.
   */
  constructor(
    /** The state and position replay updates in place. */
    readonly target: ReplayTarget<ReplayState>,
    /** True: mutations take effect at their Commit (an Abort drops them); false: each at once. */
    readonly transactional: boolean,
    public changed?: Map<string, Uint8Array | undefined>,
  ) {}

  /**
   * When set, `changed` is given up (set to undefined, {@link changedDropped} true) once it would
   * hold more keys than this, instead of growing to V8's 2^24-entry `Map` limit. Only for a record
   * that may be given up — recovery's, which only spares the checkpoint on open a replay — never
   * for an incremental checkpointer's own (it bounds its replay instead).
   */
  changedLimit: number | undefined;
  /** True once `changed` was given up at {@link changedLimit}. */
  changedDropped = false;

  private track(key: string, value: Uint8Array | undefined): void {
    const changed = this.changed!;
    if (this.changedLimit !== undefined && changed.size >= this.changedLimit && !changed.has(key)) {
      this.changed = undefined;
      this.changedDropped = true;
      return;
    }
    changed.set(key, value);
  }

  /** Mutations seen after the last Commit (dropped at the end in transactional mode). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * Applies the entry of record `lsn`: a Put or Delete at once, or (transactional) at the next
   * Commit, which also records its source offsets, watermark, epoch and LSN; an Abort drops the
   * pending mutations.
   */
  apply(lsn: number, entry: WalEntry): void {
    switch (entry.type) {
      case 'put':
      case 'delete':
        if (this.transactional) this.pending.push(entry);
        else this.mutate(entry);
        return;
      case 'commit':
        for (const e of this.pending) this.mutate(e);
        this.pending.length = 0;
        Object.assign(this.target.sourceOffsets, entry.sourceOffsets);
        if (entry.watermark !== undefined) this.target.watermark = entry.watermark;
        if (entry.epoch > this.target.epoch) this.target.epoch = entry.epoch;
        this.target.lastCommitLsn = lsn;
        return;
      case 'abort':
        this.pending.length = 0;
        return;
      case 'checkpoint':
        if (entry.epoch > this.target.epoch) this.target.epoch = entry.epoch;
        return;
      case 'clean-shutdown':
        // Only says the log was closed cleanly here: no state, and no effect on a pending
        // transaction. With none pending, the state here is the last commit's, so the committed
        // prefix reaches this far (a checkpoint of it need not replay this record again).
        if (this.pending.length === 0) this.target.lastCommitLsn = lsn;
        return;
    }
  }

  /**
   * Applies the record `record` as the WAL reader hands it (its payload still in the segment
   * image): the same as `apply(record.lsn, decodeEntry(record))`. A Put or Delete with an ASCII
   * key, applied at once (not transactional, no `changed` record) to a slab state, goes from the
   * payload bytes straight into the slabs — no entry object, key string or value view per record:
   * replay of a batch costs its checksum and the copies the state must make. Anything else
   * (other types, other keys, a malformed payload) is decoded, with `decodeEntry`'s checks and
   * errors (`TIDEMARK_CORRUPTION`).
   */
  applyRecord(record: Readonly<RecordPayload> & { readonly lsn: number }): void {
    const state = this.target.state;
    if (
      state.kind === 'slab' &&
      state.putBytes !== undefined &&
      state.deleteBytes !== undefined &&
      !this.transactional &&
      this.changed === undefined
    ) {
      if (readPutRanges(record, this.range)) {
        state.putBytes(record.buf, this.range);
        this.applied++;
        return;
      }
      const keyLength = readDeleteKeyLength(record);
      if (keyLength >= 0) {
        state.deleteBytes(record.buf, record.payloadStart, keyLength);
        this.applied++;
        return;
      }
    } else if (state === DISCARDING_REPLAY_STATE && !this.transactional && this.changed !== undefined) {
      // The checkpointer's replay (a record of changes, no state): the key string and the value
      // copy are all it keeps, made straight from the payload — no entry object, no value view.
      if (this.trackPut(record)) return;
      const keyLength = readDeleteKeyLength(record);
      if (keyLength >= 0) {
        const { buf, payloadStart: start } = record;
        this.track(buf.toString('latin1', start, start + keyLength), undefined);
        this.applied++;
        return;
      }
    }
    this.apply(record.lsn, decodeEntry(record));
  }

  /** A Put with an ASCII key recorded in `changed` from its payload bytes; false for anything else. */
  private trackPut(record: Readonly<RecordPayload>): boolean {
    const range = this.range;
    if (!readPutRanges(record, range)) return false;
    const buf = record.buf;
    // ASCII: latin1 decoding is UTF-8 decoding, without the validation pass.
    const key = buf.toString('latin1', range.keyStart, range.keyStart + range.keyLength);
    // A copy (the segment image is reused); small ones come from Node's Buffer pool.
    const value = Buffer.allocUnsafe(range.valueLength);
    buf.copy(value, 0, range.valueStart, range.valueStart + range.valueLength);
    this.track(key, value);
    this.applied++;
    return true;
  }

  private mutate(entry: WalEntry): void {
    if (entry.type === 'put') {
      const state = this.target.state;
      if (state.kind === 'slab' && this.changed === undefined) {
        // The slab backend copies the bytes into its slabs: no allocation per record.
        state.putUnchecked(entry.key, entry.value);
      } else {
        // A copy (the value is a view of the reader's buffer); small ones come from Node's
        // Buffer pool (cheaper than one ArrayBuffer per value).
        const value = Buffer.from(entry.value);
        state.putUnchecked(entry.key, value);
        if (this.changed) this.track(entry.key, value);
      }
    } else if (entry.type === 'delete') {
      this.target.state.deleteUnchecked(entry.key);
      if (this.changed) this.track(entry.key, undefined);
    } else {
      return;
    }
    this.applied++;
  }
}

/**
 * Replays the WAL in `walDir` from `options.fromLsn` (to `options.untilLsn`, inclusive) through
 * `replayer`, starting the scan at `options.resumeAt` when given, in `options.mode` (see
 * `WalReader.read`).
 * Returns the reader's stats, the LSN of the last record applied (`fromLsn - 1` when none) and
 * the bytes of the records replayed (as appended: frames, or batch records and their batch headers).
 * Throws what `WalReader.read` and `decodeEntry` throw (`TIDEMARK_CORRUPTION`, `TIDEMARK_DATA_LOSS`, …).
 */
export async function replayWal(
  walDir: Directory,
  replayer: StateReplayer,
  options: WalReadOptions,
): Promise<
  WalReadStats & {
    /** LSN of the last record applied (`fromLsn - 1` when none was). */
    lastReplayedLsn: number;
    /** WAL bytes of the records replayed, as the writer appended them (bytes). */
    bytesReplayed: number;
  }
> {
  let lastReplayedLsn = options.fromLsn - 1;
  let bytesReplayed = 0;
  let batchSegment = -1;
  let batchOffset = -1;
  const read = await WalReader.read(walDir, options, (record) => {
    replayer.applyRecord(record);
    lastReplayedLsn = record.lsn;
    // The bytes the writer appended for it, as the WAL counts them: a frame (v1/v2) is its own
    // unit; a record in a batch (v3) has a short header, and its batch's header counts once.
    if (record.frameOffset === record.batchOffset) {
      bytesReplayed += RECORD_HEADER_SIZE + record.payloadLength;
    } else {
      if (record.batchOffset !== batchOffset || record.segmentNumber !== batchSegment) {
        batchOffset = record.batchOffset;
        batchSegment = record.segmentNumber;
        bytesReplayed += BATCH_HEADER_SIZE;
      }
      bytesReplayed += BATCH_RECORD_HEADER_SIZE + record.payloadLength;
    }
  });
  return { ...read, lastReplayedLsn, bytesReplayed };
}
