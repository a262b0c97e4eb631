/**
 * `validateCheckpoint(dir)` (the seed's `validate_checkpoint`: "Validates a checkpoint
 * directory"): checks one checkpoint directory on local disk and the chain it depends on, which
 * lives next to it.
 */
import * as path from 'node:path';
import { TidemarkError } from '../errors.js';
import { FsDirectory } from '../io/fs-directory.js';
import { type CheckpointValidation, validateCheckpointChain } from './checkpoint-chain.js';
import { FileSystemCheckpointStore, parseCheckpointName } from './checkpoint-store.js';

/**
 * Validates the checkpoint in directory `checkpointDir` (`…/checkpoints/checkpoint-<16 digits>`):
 * manifest, every file's size and CRC32C, state file structure, and the whole chain back to its
 * base. Resolves what is wrong (see {@link CheckpointValidation}); an empty `problems` means
 * valid. Throws `TIDEMARK_INVALID_ARGUMENT` for a path that is not a checkpoint directory and
 * `TIDEMARK_IO` when reading fails.
 */
export async function validateCheckpoint(checkpointDir: string): Promise<CheckpointValidation> {
  const abs = path.resolve(checkpointDir);
  const id = parseCheckpointName(path.basename(abs));
  if (id === undefined) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${abs} is not a checkpoint directory (checkpoint-<16 digits>)`,
      {
        path: abs,
      },
    );
  }
  const store = new FileSystemCheckpointStore(await FsDirectory.open(path.dirname(abs)));
  return validateCheckpointChain(store, id);
}
