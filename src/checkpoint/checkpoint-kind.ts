/**
 * Base or delta: the compaction rule every incremental checkpoint writer follows (RocksDB's and
 * Flink's incremental checkpoints bound a chain, then fold it into a fresh base). A delta needs
 * a parent, room in the chain (`maxChainLength`), delta bytes since the base within
 * `maxDeltaRatio` of the base's size, and fewer changed keys than the state holds.
 */
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import type { CheckpointOptions } from './checkpoint-config.js';

/** What {@link chooseCheckpointKind} decides on. */
export interface CheckpointKindInput {
  /** The checkpoint the next one would build on (undefined: none). */
  parent: CheckpointManifest | undefined;
  /** The compaction tunables. */
  options: Pick<CheckpointOptions, 'incremental' | 'maxChainLength' | 'maxDeltaRatio'>;
  /** Keys changed (put or deleted) since `parent`. */
  changedKeys: number;
  /** Keys in the state now. */
  stateKeys: number;
  /** Write a base whatever the rest says. Default false. */
  forceBase?: boolean | undefined;
}

/** The kind of the next checkpoint (see the module comment). */
export function chooseCheckpointKind(input: CheckpointKindInput): 'base' | 'delta' {
  const { parent: p, options: o } = input;
  if (input.forceBase === true || !o.incremental || p === undefined) return 'base';
  if (p.chainLength + 1 > o.maxChainLength) return 'base';
  if (p.state.deltaBytesSinceBase > o.maxDeltaRatio * p.state.baseBytes) return 'base';
  if (input.changedKeys >= input.stateKeys && input.stateKeys > 0) return 'base';
  return 'delta';
}
