/**
 * `PerCoreReplayer`: applies merged per-core entries to a state — the per-core counterpart of
 * `StateReplayer`. In transactional mode each core's mutations wait for that core's next Commit
 * (a batch is all or nothing per core); a core's Commit records its source offsets and watermark.
 */
import type { SourceOffsets } from '../format/entry-codec.js';
import type { PerCoreWalEntry } from '../format/per-core-entry.js';
import type { StateBackend } from './state-backend.js';

/** What one core has committed. */
export interface CoreProgress {
  /** Per-source offsets as of this core's last Commit applied. */
  sourceOffsets: SourceOffsets;
  /** Watermark (event time, ms) of this core's last Commit applied; undefined when none. */
  watermark: number | undefined;
  /** Sequence (LSN) of the last entry applied or covered. */
  lastSequence: number;
}

/** What per-core replay builds on. */
export interface PerCoreTarget {
  /** The key/value state replay writes to. */
  state: StateBackend;
  /** Highest epoch seen. */
  epoch: number;
  /** Progress of each core, by core id. */
  cores: Map<number, CoreProgress>;
}

/**
 * Applies merged per-core entries to a {@link PerCoreTarget} (see the module comment).
 *
 * Threads: not thread-safe: one replay in one thread.
 */
export class PerCoreReplayer {
  private readonly pending = new Map<number, PerCoreWalEntry[]>();
  /** Entries applied. */
  applied = 0;

  constructor(
    /** The state and per-core progress replay updates in place. */
    readonly target: PerCoreTarget,
    /** True: a core's mutations take effect at its Commit; false: each at once. */
    readonly transactional: boolean,
    /** When given, every key a Put or Delete is applied to is recorded (value, or undefined for a delete). */
    readonly changed?: Map<string, Uint8Array | undefined>,
  ) {}

  private core(coreId: number): CoreProgress {
    let c = this.target.cores.get(coreId);
    if (!c) {
      c = { sourceOffsets: {}, watermark: undefined, lastSequence: 0 };
      this.target.cores.set(coreId, c);
    }
    return c;
  }

  /** Mutations waiting for their core's Commit. */
  get pendingCount(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.length;
    return n;
  }

  private mutate(e: PerCoreWalEntry): void {
    const op = e.operation;
    if (op.type === 'put') {
      const state = this.target.state;
      if (state.kind === 'slab' && this.changed === undefined) {
        state.putUnchecked(op.key, op.value); // copied into the slabs
      } else {
        const value = Uint8Array.prototype.slice.call(op.value);
        state.putUnchecked(op.key, value);
        this.changed?.set(op.key, value);
      }
    } else if (op.type === 'delete') {
      this.target.state.deleteUnchecked(op.key);
      this.changed?.set(op.key, undefined);
    }
    this.applied++;
  }

  /**
   * Applies one entry, in merge order: a Put or Delete at once, or (transactional) at its core's
   * next Commit, which also records that core's source offsets and watermark.
   */
  apply(e: PerCoreWalEntry): void {
    if (e.epoch > this.target.epoch) this.target.epoch = e.epoch;
    const core = this.core(e.coreId);
    core.lastSequence = e.sequence;
    const op = e.operation;
    if (op.type === 'put' || op.type === 'delete') {
      if (!this.transactional) {
        this.mutate(e);
        return;
      }
      let list = this.pending.get(e.coreId);
      if (!list) {
        list = [];
        this.pending.set(e.coreId, list);
      }
      list.push(e);
    } else if (op.type === 'commit') {
      for (const p of this.pending.get(e.coreId) ?? []) this.mutate(p);
      this.pending.delete(e.coreId);
      Object.assign(core.sourceOffsets, op.sourceOffsets);
      if (op.watermark !== undefined) core.watermark = op.watermark;
    }
  }
}
