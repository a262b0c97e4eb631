/**
 * `AbortSignal` on the long operations (open, recovery, checkpoint, restore, validation): unlike
 * a wait (see abort.ts), aborting one of these stops the work itself — at the next safe point,
 * between files or segments, where stopping leaves nothing half-published — and undoes what it
 * had opened (lock, worker, draft). Like `fs.promises.readFile`'s `signal`, an abort is only
 * noticed at those points: a step already running (one fdatasync, one segment read) finishes.
 */
import { waitSignal } from './abort.js';
import { isTidemarkError, TidemarkError } from './errors.js';

/** Options of a long operation a caller may want to stop. */
export interface AbortOptions {
  /**
   * Stops the operation at its next safe point (`AbortSignal.timeout(ms)`, an
   * `AbortController`'s signal): it rejects with `TIDEMARK_ABORTED` whose `cause` is
   * `signal.reason`, having released what it held and published nothing. Already aborted: it
   * rejects before touching anything. Default: none.
   */
  signal?: AbortSignal | undefined;
}

/**
 * The `signal` of `options` (undefined or an options object whose `signal` is undefined or an
 * `AbortSignal`); anything else throws `TIDEMARK_INVALID_ARGUMENT` naming `argument`.
 */
export function abortSignalOf(argument: string, options: unknown): AbortSignal | undefined {
  return waitSignal(argument, options);
}

/** `TIDEMARK_ABORTED` for the operation `what`, its `cause` the signal's reason. */
export function operationAborted(what: string, signal: AbortSignal): TidemarkError {
  return new TidemarkError('TIDEMARK_ABORTED', `${what}: aborted (${describeReason(signal.reason)})`, {
    cause: signal.reason,
  });
}

/** A safe point of `what`: throws {@link operationAborted} when `signal` is aborted. */
export function throwIfAborted(what: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw operationAborted(what, signal);
}

/** True for the `TIDEMARK_ABORTED` an abort raised. */
export function isAborted(err: unknown): boolean {
  return isTidemarkError(err, 'TIDEMARK_ABORTED');
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.name === 'Error' ? reason.message : reason.name;
  return String(reason);
}
