/**
 * Typed errors. Every error tidemark throws or rejects with is a {@link TidemarkError} with a
 * stable `code`; see docs/ERRORS.md for the full list and what to do about each.
 *
 * Three failure classes are kept apart (after TigerBeetle and RocksDB):
 * - a broken invariant is a bug: {@link assert} throws `TIDEMARK_BUG`;
 * - corruption found on disk is `TIDEMARK_CORRUPTION` and names the file and byte offset;
 * - an operating-system I/O fault is `TIDEMARK_IO` and carries the errno code in `cause`.
 */

/** Every stable error code tidemark uses. */
export type TidemarkErrorCode =
  | 'TIDEMARK_IO'
  | 'TIDEMARK_NO_SPACE'
  | 'TIDEMARK_CORRUPTION'
  | 'TIDEMARK_LOCKED'
  | 'TIDEMARK_UNSUPPORTED_VERSION'
  | 'TIDEMARK_DATA_LOSS'
  | 'TIDEMARK_LIMIT'
  | 'TIDEMARK_BACKPRESSURE'
  | 'TIDEMARK_INVALID_ARGUMENT'
  | 'TIDEMARK_CLOSED'
  | 'TIDEMARK_NOT_FOUND'
  | 'TIDEMARK_CONFLICT'
  | 'TIDEMARK_FENCED'
  | 'TIDEMARK_TIMEOUT'
  | 'TIDEMARK_ABORTED'
  | 'TIDEMARK_MISSING_DEPENDENCY'
  | 'TIDEMARK_BUG';

/** Extra context carried by an error: the file and byte offset at fault, when known. */
export interface TidemarkErrorDetails {
  /** Path of the file (or directory) at fault. */
  path?: string;
  /** Byte offset inside `path` where the fault was found. */
  offset?: number;
  /** The underlying error (for `TIDEMARK_IO`, the node:fs error with its errno `code`). */
  cause?: unknown;
  /** For `TIDEMARK_INVALID_ARGUMENT` and `TIDEMARK_LIMIT`: the argument or option at fault (`wal.groupCommitBytes`, `put(value)`). */
  argument?: string;
}

/**
 * The one error class tidemark throws. Switch on `code`, never on `message`.
 *
 * Threads: an immutable value; across `postMessage` only its message survives as an `Error` (send
 * `code`, `path`, `offset` yourself, as the pipeline does).
 */
export class TidemarkError extends Error {
  /** Always `'TidemarkError'`, so logs and `util.inspect` name the class. */
  override readonly name = 'TidemarkError';
  /** The stable machine-readable code (see docs/ERRORS.md); match on it, never on the message. */
  readonly code: TidemarkErrorCode;
  /** The file or object the error is about, when there is one. */
  readonly path: string | undefined;
  /** The byte offset in {@link TidemarkError.path} the error is about (a damaged record, a torn tail), when known. */
  readonly offset: number | undefined;
  /** The argument or option at fault, for `TIDEMARK_INVALID_ARGUMENT` and `TIDEMARK_LIMIT`. */
  readonly argument: string | undefined;

  constructor(code: TidemarkErrorCode, message: string, details: TidemarkErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.path = details.path;
    this.offset = details.offset;
    this.argument = details.argument;
  }
}

/** True when `err` is a {@link TidemarkError}, optionally with the given code. */
export function isTidemarkError(err: unknown, code?: TidemarkErrorCode): err is TidemarkError {
  return err instanceof TidemarkError && (code === undefined || err.code === code);
}

/** Throws `TIDEMARK_BUG` when an internal invariant does not hold. Never used for bad input. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new TidemarkError('TIDEMARK_BUG', `invariant violated: ${message}`);
}

/** Wraps an error from node:fs as `TIDEMARK_IO` (or `TIDEMARK_NO_SPACE` for ENOSPC/EDQUOT). */
export function ioError(operation: string, path: string, cause: unknown): TidemarkError {
  if (cause instanceof TidemarkError) return cause;
  const errno = (cause as { code?: string } | null)?.code;
  const code = errno === 'ENOSPC' || errno === 'EDQUOT' ? 'TIDEMARK_NO_SPACE' : 'TIDEMARK_IO';
  const text = cause instanceof Error ? cause.message : String(cause);
  return new TidemarkError(code, `${operation} failed on ${path}: ${text}`, { path, cause });
}

/** `TIDEMARK_CORRUPTION` naming the file and byte offset. */
export function corruption(path: string, offset: number, what: string): TidemarkError {
  return new TidemarkError('TIDEMARK_CORRUPTION', `${path} at byte ${offset}: ${what}`, { path, offset });
}
