/**
 * `validateCheckpoint(dir)` (the seed's `validate_checkpoint`: "Validates a checkpoint
 * directory"): checks one checkpoint directory on local disk and the chain it depends on, which
 * lives next to it.
 */
import * as path from 'node:path';
import { type AbortOptions, abortSignalOf, throwIfAborted } from '../abort-steps.js';
import { TidemarkError } from '../errors.js';
import { FsDirectory } from '../io/fs-directory.js';
import { type CheckpointValidation, validateCheckpointChain } from './checkpoint-chain.js';
import { FileSystemCheckpointStore, parseCheckpointName } from './checkpoint-store.js';

/**
 * Validates the checkpoint in directory `checkpointDir` (`…/checkpoints/checkpoint-<16 digits>`):
 * manifest, every file's size and CRC32C, state file structure, and the whole chain back to its
 * base. Resolves what is wrong (see {@link CheckpointValidation}); an empty `problems` means
 * valid. Throws `TIDEMARK_INVALID_ARGUMENT` for a path that is not a checkpoint directory (or a
 * malformed `options`) and `TIDEMARK_IO` when reading fails. Read-only.
 *
 * `options.signal` stops the validation before the next checkpoint of the chain is read: it
 * rejects with `TIDEMARK_ABORTED` (`cause` = `signal.reason`); already aborted, before anything
 * is read.
 */
export async function validateCheckpoint(
  checkpointDir: string,
  options?: AbortOptions,
): Promise<CheckpointValidation> {
  const signal = abortSignalOf('validateCheckpoint(options)', options);
  if (typeof checkpointDir !== 'string' || checkpointDir === '') {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `validateCheckpoint: expected the path of a checkpoint directory, got ${typeof checkpointDir}`,
      { argument: 'checkpointDir' },
    );
  }
  const abs = path.resolve(checkpointDir);
  throwIfAborted(`validating ${abs}`, signal);
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
  return validateCheckpointChain(store, id, { signal });
}
