/**
 * A new base as a streaming merge (LevelDB/RocksDB compaction style): the previous base file and
 * every delta since — all sorted by UTF-8 key bytes (state file version 3) — and the changes not
 * yet in any file, merged in key order; for a key in several inputs the newest wins, and a
 * tombstone drops it. Inputs are read one block (about 1 MiB) at a time and the output is encoded
 * block by block, so memory is about (inputs + 1) blocks plus the in-memory changes — never the
 * state. A chain holding an old unsorted file (versions 1–2) reads that file whole, once (see
 * `StateFileStreamReader`).
 */
import { assert } from '../errors.js';
import type { CheckpointManifest } from '../format/checkpoint-manifest.js';
import { StateFileKind } from '../format/constants.js';
import type { StateBlock } from '../format/state-file-v3.js';
import { type KeyBytesEntry, StateFileV3Encoder } from '../format/state-file-v3.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { checkStreamedCounts, openCheckpointState } from './stream-chain.js';

/** Anything that hands out sorted blocks of entries, then undefined. */
export interface SortedBlockSource {
  nextBlock(): Promise<StateBlock | undefined>;
}

/** Sorted in-memory entries as a block source (in blocks of `blockEntries`). */
export function entriesSource(entries: readonly KeyBytesEntry[], blockEntries = 65_536): SortedBlockSource {
  let i = 0;
  return {
    async nextBlock() {
      if (i >= entries.length) return undefined;
      const slice = entries.slice(i, i + blockEntries);
      i += blockEntries;
      return { keys: slice.map((e) => e.key), values: slice.map((e) => e.value) };
    },
  };
}

class Cursor {
  block: StateBlock | undefined;
  i = 0;
  constructor(
    readonly source: SortedBlockSource,
    /** Higher = newer: wins ties. */
    readonly rank: number,
  ) {}

  /** Loads the next non-empty block; false at the end. */
  async advanceBlock(): Promise<boolean> {
    do {
      this.block = await this.source.nextBlock();
      this.i = 0;
    } while (this.block !== undefined && this.block.keys.length === 0);
    return this.block !== undefined;
  }

  get key(): Buffer {
    return this.block!.keys[this.i]!;
  }

  get value(): Uint8Array | undefined {
    return this.block!.values[this.i];
  }
}

/** What {@link mergeSortedSources} wrote; filled in once its chunks are consumed. */
export interface MergeResult {
  /** Keys in the merged base (its entries). */
  keys: number;
  /** Bytes of the base file. */
  bytes: number;
}

/**
 * Merges `sources` (oldest first; each strictly increasing by key bytes) into a version 3 base,
 * yielding the file's chunks. `result` is filled in when the last chunk has been yielded.
 * Throws what the sources throw (`TIDEMARK_CORRUPTION`, …).
 */
export async function* mergeSortedSources(
  sources: readonly SortedBlockSource[],
  result: MergeResult,
): AsyncGenerator<Buffer> {
  const encoder = new StateFileV3Encoder(StateFileKind.Base);
  yield* encoder.take();
  let live: Cursor[] = [];
  for (let r = 0; r < sources.length; r++) {
    const c = new Cursor(sources[r]!, r);
    if (await c.advanceBlock()) live.push(c);
  }
  while (live.length > 0) {
    // Smallest key; on a tie the newest source's entry wins.
    let min = live[0]!;
    for (let j = 1; j < live.length; j++) {
      const c = live[j]!;
      const cmp = Buffer.compare(c.key, min.key);
      if (cmp < 0 || (cmp === 0 && c.rank > min.rank)) min = c;
    }
    const key = min.key;
    const value = min.value;
    if (value !== undefined) encoder.add(key, value);
    let exhausted = false;
    for (const c of live) {
      if (c !== min && Buffer.compare(c.key, key) !== 0) continue;
      c.i++;
      if (c.i >= c.block!.keys.length && !(await c.advanceBlock())) exhausted = true;
    }
    if (exhausted) live = live.filter((c) => c.block !== undefined);
    const ready = encoder.take();
    if (ready.length > 0) yield* ready;
  }
  yield* encoder.finish();
  result.keys = encoder.entries;
  result.bytes = encoder.bytes;
}

/**
 * The chunks of a new base: the state files of `chain` (base first, as `loadChainManifests`
 * returns it) merged with `changes` (sorted, newer than the chain's last checkpoint). Each file
 * is checked as it is read (block CRCs, order, then counts against its manifest).
 */
export async function* mergeChainIntoBase(options: {
  store: CheckpointStore;
  chain: readonly CheckpointManifest[];
  changes: readonly KeyBytesEntry[];
  result: MergeResult;
}): AsyncGenerator<Buffer> {
  const { store, chain, changes, result } = options;
  assert(chain.length === 0 || chain[0]!.kind === 'base', 'a chain starts at a base');
  const sources: SortedBlockSource[] = [];
  for (const m of chain) {
    const reader = await openCheckpointState(store, m);
    sources.push({
      async nextBlock() {
        const block = await reader.nextBlock();
        if (block === undefined) checkStreamedCounts(store, m, reader);
        return block;
      },
    });
  }
  sources.push(entriesSource(changes));
  yield* mergeSortedSources(sources, result);
}
