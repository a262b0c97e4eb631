/**
 * `AbortSignal` on the long waits (`flushed`, `durable`, `writable`): the options object they
 * take, its check, and the two ways a wait is made abortable.
 *
 * Aborting only gives up *that* wait. It never cancels a write or an fdatasync, never rejects
 * another waiter, and never changes what becomes durable: the record still reaches the disk, the
 * caller just stops waiting for the news (as `AbortSignal` does for Node's own
 * `events.once` or `timers/promises`).
 */
import { TidemarkError } from './errors.js';

/** Options of a wait that a caller may want to bound. */
export interface WaitOptions {
  /**
   * Gives up the wait when aborted (`AbortSignal.timeout(ms)`, an `AbortController`'s signal):
   * the promise rejects with `TIDEMARK_ABORTED` whose `cause` is `signal.reason`. Already
   * aborted: it rejects at once. Durability is unaffected. Default: none (wait until settled).
   */
  signal?: AbortSignal | undefined;
}

/**
 * The signal of a wait's `options`: `undefined`, or an object whose `signal` is undefined or an
 * `AbortSignal`. Anything else throws `TIDEMARK_INVALID_ARGUMENT` (naming `argument`).
 */
export function waitSignal(argument: string, options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${argument}: expected an options object or undefined, got ${describe(options)}`,
      { argument },
    );
  }
  const signal = (options as WaitOptions).signal;
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new TidemarkError(
    'TIDEMARK_INVALID_ARGUMENT',
    `${argument}.signal: expected an AbortSignal or undefined, got ${describe(signal)}`,
    { argument: `${argument}.signal` },
  );
}

/** `TIDEMARK_ABORTED` for the wait `what`, carrying the signal's reason as `cause`. */
export function abortedError(what: string, signal: AbortSignal): TidemarkError {
  return new TidemarkError('TIDEMARK_ABORTED', `${what}: the wait was aborted (durability is unaffected)`, {
    cause: signal.reason,
  });
}

/** A waiter's settle functions, and how to take it off its list. */
export interface AbortableWaiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Removes the waiter from the list it sits on (called once, on abort, before it rejects). */
  remove: () => void;
}

/**
 * For a waiter kept on a list (the durable watermark's, `writable()`'s): on abort it is removed
 * from the list and rejected with `TIDEMARK_ABORTED`, so aborted waits never pile up. Returns the
 * settle functions to put on the list instead; they detach the abort listener, so a settled wait
 * leaves nothing on a long-lived signal. `signal` must not be aborted yet.
 */
export function guardWaiter(
  what: string,
  signal: AbortSignal | undefined,
  waiter: AbortableWaiter,
): { resolve: () => void; reject: (err: unknown) => void } {
  if (signal === undefined) return waiter;
  const onAbort = () => {
    waiter.remove();
    waiter.reject(abortedError(what, signal));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return {
    resolve: () => {
      signal.removeEventListener('abort', onAbort);
      waiter.resolve();
    },
    reject: (err) => {
      signal.removeEventListener('abort', onAbort);
      waiter.reject(err);
    },
  };
}

/**
 * For a promise shared by many waiters (a WAL group's): a promise of its own that settles with
 * `shared`, or rejects with `TIDEMARK_ABORTED` on abort, without ever rejecting `shared` itself.
 * The abort listener goes once either side settles; what stays attached to `shared` is one small
 * handler per aborted call, released when that group settles (within one group commit).
 */
export function raceAbort(
  what: string,
  shared: Promise<void>,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (signal === undefined) return shared;
  if (signal.aborted) {
    // Nobody here will look at `shared` again: its failure reaches its other waiters and the
    // log's state, and must not surface as an unhandled rejection on our account.
    shared.catch(() => {});
    return Promise.reject(abortedError(what, signal));
  }
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortedError(what, signal));
    signal.addEventListener('abort', onAbort, { once: true });
    shared.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}
