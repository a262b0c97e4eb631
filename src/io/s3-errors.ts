/**
 * How a failed S3 request is classified: retry it, settle it by reading back, or surface a typed
 * error. Only what can succeed on a second try is retried (throttling, 5xx, dropped connections,
 * timeouts, a response cut short); a 403, a 400 or a 404 never is.
 */
import { TidemarkError } from '../errors.js';

/** The parts of an AWS SDK v3 error tidemark reads. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TimeoutError',
  'RequestTimeoutException',
  'TidemarkRequestTimeout',
  'TidemarkTruncatedBody',
]);
const RETRYABLE_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

/** HTTP status of an SDK error, if it got that far. */
export function httpStatusOf(err: unknown): number | undefined {
  return (err as SdkErrorShape | null)?.$metadata?.httpStatusCode;
}

/** True for an object that does not exist (404 / NoSuchKey / NotFound). */
export function isNotFound(err: unknown): boolean {
  const e = err as SdkErrorShape | null;
  return httpStatusOf(err) === 404 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}

/** True for a failed precondition (`If-None-Match: *` on an existing key answers 412). */
export function isPreconditionFailed(err: unknown): boolean {
  const e = err as SdkErrorShape | null;
  return httpStatusOf(err) === 412 || e?.name === 'PreconditionFailed';
}

/**
 * True when another attempt may succeed: throttling, 5xx, 408/429, a dropped or refused
 * connection, a timeout, or a response the SDK could not parse because it was cut short.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof TidemarkError) return false;
  const e = err as SdkErrorShape | null;
  if (e === null || typeof e !== 'object') return false;
  const status = httpStatusOf(err);
  if (status !== undefined && (status >= 500 || status === 408 || status === 429)) return true;
  if (status !== undefined && status >= 400) return false;
  if (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && RETRYABLE_ERRNOS.has(e.code)) return true;
  const cause = (err as { cause?: SdkErrorShape }).cause;
  if (cause?.code !== undefined && RETRYABLE_ERRNOS.has(cause.code)) return true;
  const text = e.message ?? '';
  // A body cut short surfaces as a parse failure or an aborted socket before any status is known.
  return /socket hang up|aborted|premature close|deserializ|unexpected end|ECONNRESET/i.test(text);
}

/** The request {@link objectStoreError} describes. */
export interface ObjectStoreRequest {
  /** What was asked, e.g. `PutObject`. */
  operation: string;
  /** The object's `s3://bucket/key` URL. */
  url: string;
  /** How many times it was tried. */
  attempts: number;
}

/**
 * `TIDEMARK_IO` for a request that failed for good with `err`, naming the object and the
 * attempts made (a `TidemarkError` is returned as it is).
 */
export function objectStoreError(err: unknown, request: ObjectStoreRequest): TidemarkError {
  if (err instanceof TidemarkError) return err;
  const { operation, url, attempts } = request;
  const e = err as SdkErrorShape | null;
  const status = httpStatusOf(err);
  const what = [e?.name, status === undefined ? undefined : `HTTP ${status}`, e?.message]
    .filter((x) => x !== undefined && x !== '')
    .join(': ');
  return new TidemarkError(
    'TIDEMARK_IO',
    `${operation} ${url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${what || String(err)}`,
    { path: url, cause: err },
  );
}
