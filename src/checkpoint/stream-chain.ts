/**
 * Checkpoint chains read as streams: each state file of a chain opened as a
 * {@link StateFileStreamReader} (bounded memory), and the newest checkpoint whose chain verifies
 * found without materialising its state — what the incremental checkpoint manager needs, since
 * it holds only the keys changed since its last checkpoint, never the state.
 */
import { isTidemarkError, TidemarkError } from '../errors.js';
import type { CheckpointFileEntry, CheckpointManifest } from '../format/checkpoint-manifest.js';
import { STATE_FILE_CHUNK_BYTES, StateFileKind } from '../format/constants.js';
import { StateFileStreamReader } from '../format/state-file-reader.js';
import { loadChainManifests, loadOperators } from './checkpoint-chain.js';
import { type CheckpointStore, checkpointFilePath } from './checkpoint-store.js';

/**
 * A data file's bytes in chunks: through the store's `readFileChunks` when it has one (bounded
 * memory), else read whole through `readFile` (object stores today). Size and CRC32C are checked
 * against the manifest either way (`TIDEMARK_CORRUPTION`).
 */
export async function* checkpointFileChunks(
  store: CheckpointStore,
  m: CheckpointManifest,
  file: CheckpointFileEntry,
): AsyncGenerator<Uint8Array> {
  if (store.readFileChunks) yield* store.readFileChunks(m, file, STATE_FILE_CHUNK_BYTES);
  else yield await store.readFile(m, file);
}

/** The state file of `m`, opened for streaming; its kind is checked against the manifest. */
export async function openCheckpointState(
  store: CheckpointStore,
  m: CheckpointManifest,
): Promise<StateFileStreamReader> {
  const file = m.files.find((f) => f.role === m.kind)!;
  const path = checkpointFilePath(store, m.id, file.name);
  const reader = new StateFileStreamReader(checkpointFileChunks(store, m, file), path);
  const { kind } = await reader.kind();
  if (kind !== (m.kind === 'base' ? StateFileKind.Base : StateFileKind.Delta))
    throw corruptManifest(store, m, `${file.name} is not a ${m.kind}`);
  return reader;
}

function corruptManifest(store: CheckpointStore, m: CheckpointManifest, what: string): TidemarkError {
  const path = checkpointFilePath(store, m.id, 'manifest.json');
  return new TidemarkError('TIDEMARK_CORRUPTION', `${path}: ${what}`, { path, offset: 0 });
}

/**
 * Checks, once `reader` has been read to its end, that the file held what `m` says: entry and
 * tombstone counts, and for a base its key count. Throws `TIDEMARK_CORRUPTION`.
 */
export function checkStreamedCounts(
  store: CheckpointStore,
  m: CheckpointManifest,
  reader: StateFileStreamReader,
): void {
  const info = reader.info!;
  if (info.entries !== m.state.entriesWritten || info.tombstones !== m.state.tombstones)
    throw corruptManifest(
      store,
      m,
      `state file holds ${info.entries} entries (${info.tombstones} tombstones), the manifest says ${m.state.entriesWritten} (${m.state.tombstones})`,
    );
  if (m.kind === 'base' && info.entries !== m.state.keys)
    throw corruptManifest(store, m, `the base holds ${info.entries} keys, the manifest says ${m.state.keys}`);
}

/** A checkpoint whose chain verified, without its state. */
export interface VerifiedChain {
  /** Base first, the checkpoint last. */
  chain: CheckpointManifest[];
  /** Operator state of the checkpoint, by name. */
  operators: Map<string, Uint8Array>;
}

/** Reads every state file of `chain` to its end (one block at a time) and checks it. */
export async function verifyChainStreaming(
  store: CheckpointStore,
  chain: CheckpointManifest[],
): Promise<void> {
  for (const m of chain) {
    const reader = await openCheckpointState(store, m);
    while (await reader.nextBlock()) {}
    checkStreamedCounts(store, m, reader);
  }
}

/**
 * The newest checkpoint whose whole chain verifies (manifests, links, every file's size, CRC and
 * structure, operator state), falling back past broken ones like `loadLatestCheckpoint` — but
 * streaming each state file, so memory stays at about one block whatever the state's size.
 * Undefined when there is none. I/O errors and `TIDEMARK_UNSUPPORTED_VERSION` are thrown.
 */
export async function findLatestVerifiedChain(store: CheckpointStore): Promise<VerifiedChain | undefined> {
  const ids = await store.list();
  for (let i = ids.length - 1; i >= 0; i--) {
    try {
      const chain = await loadChainManifests(store, ids[i]!);
      await verifyChainStreaming(store, chain);
      const { operators } = await loadOperators(store, chain[chain.length - 1]!);
      return { chain, operators };
    } catch (err) {
      if (
        !isTidemarkError(err) ||
        err.code === 'TIDEMARK_IO' ||
        err.code === 'TIDEMARK_NO_SPACE' ||
        err.code === 'TIDEMARK_UNSUPPORTED_VERSION'
      )
        throw err;
    }
  }
  return undefined;
}
