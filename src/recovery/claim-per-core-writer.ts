/**
 * `claimPerCoreWriter()`: the first two steps of opening the per-core engine as the writer of an
 * object-store prefix, shared by `openPerCoreOnObjectStore` (writers in the calling thread) and
 * by callers that run each core's writer in its own worker thread (the demo's `--cores` ingest):
 *
 * 1. Claim the next writer epoch before anything is fetched or recovered (`claimWriter` with
 *    `perCore`), fencing the previous writer.
 * 2. A fresh directory (a takeover) fetches every core's visible archive from the newest visible
 *    checkpoint's position on; a core whose archive ends before that position continues right
 *    after it (the unarchived tail is the takeover's loss bound, not data loss).
 *
 * Recovery then reads `claimed.store` (a view of the prefix hiding what fenced writers published
 * after a takeover) and the local WAL; every core's archive publishes through `claimed.fence`
 * (in another thread: `WriterFence.resume` with `fence.claimed()`).
 */

import { loadLatestCheckpoint } from '../checkpoint/checkpoint-chain.js';
import { perCoreProgressOf } from '../checkpoint/per-core-checkpoint-coordinator.js';
import type { Directory } from '../io/directory.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import { coreWalDirName } from '../wal/per-core-wal-reader.js';
import { listSegments } from '../wal/segment-files.js';
import { segmentFileName } from '../wal/segment-name.js';
import { RESTORE_MARKER } from './restore-from-object-store.js';
import { fetchCoreArchives } from './restore-per-core-from-object-store.js';
import { WAL_DIR_NAME } from './storage-location.js';
import { type ClaimedWriter, claimWriter } from './writer-claim.js';

/** Options of {@link claimPerCoreWriter}. */
export interface ClaimPerCoreWriterOptions {
  /** The data directory (its lock held by the caller). */
  root: Directory;
  /** Number of cores (`core-0` … `core-<cores-1>`). */
  cores: number;
  /** See `PerCoreObjectStoreOptions.takeover` (`root` must then be fresh). */
  takeover: boolean;
}

/**
 * Claims the next writer epoch on `config`'s prefix for `options.root` and, when the directory is
 * fresh, fetches every core's visible archive into `wal/core-<id>/` (see the module comment).
 * The caller closes the returned claim. Rejects like `claimWriter` (`TIDEMARK_FENCED` for a
 * directory whose writer was fenced since, `TIDEMARK_INVALID_ARGUMENT` for a takeover into a
 * directory holding a WAL, `TIDEMARK_CONFLICT`), and like `fetchCoreArchives`
 * (`TIDEMARK_DATA_LOSS` for a gap in a core's archive, `TIDEMARK_CORRUPTION`, `TIDEMARK_IO`);
 * the claim is then released.
 */
export async function claimPerCoreWriter(
  config: ObjectStoreConfig,
  options: ClaimPerCoreWriterOptions,
): Promise<ClaimedWriter> {
  const { root, cores, takeover } = options;
  const claimed = await claimWriter(config, { root, takeover, perCore: true });
  try {
    const { store, fence } = claimed;
    const walRoot = await root.subdirectory(WAL_DIR_NAME);
    if (await isFresh(walRoot, cores)) {
      // A takeover: every core's visible archive, from the newest visible checkpoint's position on.
      const latest = await loadLatestCheckpoint(store);
      const { positions } = perCoreProgressOf(latest.checkpoint?.manifest);
      await walRoot.writeFileAtomic(
        RESTORE_MARKER,
        new TextEncoder().encode(`${new Date().toISOString()}\n`),
      );
      await fetchCoreArchives({ storage: store.storage, walRoot, cores, positions, history: fence.history });
      await walRoot.remove([RESTORE_MARKER]);
    }
    return claimed;
  } catch (err) {
    claimed.close();
    throw err;
  }
}

/**
 * True when no core of `walRoot` holds a segment, or a fetch into it was interrupted (its partial
 * copy is then removed here, the marker stays until the next fetch completes).
 */
async function isFresh(walRoot: Directory, cores: number): Promise<boolean> {
  const interrupted = await walRoot.exists(RESTORE_MARKER);
  let fresh = true;
  for (let c = 0; c < cores; c++) {
    const dir = await walRoot.subdirectory(coreWalDirName(c));
    const segments = await listSegments(dir);
    if (segments.length > 0 && interrupted) await dir.remove(segments.map(segmentFileName));
    else if (segments.length > 0) fresh = false;
  }
  return fresh;
}
