/**
 * A WAL root holding the `RESTORING` marker is a partial copy of an object store (a restore was
 * killed midway): recovering from it would silently miss whatever was not copied yet.
 */
import { TidemarkError } from '../errors.js';
import type { Directory } from '../io/directory.js';
import { RESTORE_MARKER } from './restore-from-object-store.js';

/**
 * Throws `TIDEMARK_DATA_LOSS` naming `walRoot` when it holds the restore marker: run the restore
 * again (it discards the partial copy and starts over).
 */
export async function refuseInterruptedRestore(walRoot: Directory): Promise<void> {
  if (!(await walRoot.exists(RESTORE_MARKER))) return;
  throw new TidemarkError(
    'TIDEMARK_DATA_LOSS',
    `${walRoot.path} holds a partial copy of an object store (a restore was interrupted, ${RESTORE_MARKER} is there): run the restore again (tidemark recover --from s3://…) before recovering`,
    { path: walRoot.path },
  );
}
