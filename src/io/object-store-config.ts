/**
 * Where an object store is and how to talk to it: `s3://BUCKET/PREFIX` URLs and the standard AWS
 * settings (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), plus the bounds tidemark puts on every request.
 *
 * The config is plain data, so it crosses `postMessage` to the Ring 1 worker unchanged.
 */
import { TidemarkError } from '../errors.js';
import { booleanOption, invalidArgument } from '../validation.js';
import type { CompressionSpec } from './codecs.js';

/** How tidemark reaches one bucket and prefix of an S3-compatible object store. */
export interface ObjectStoreConfig {
  bucket: string;
  /** Key prefix, without leading or trailing `/` (may be empty). */
  prefix?: string | undefined;
  /** Endpoint URL, e.g. `http://127.0.0.1:7480`. Default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or AWS itself. */
  endpoint?: string | undefined;
  /** Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, or `us-east-1`. */
  region?: string | undefined;
  /** Static credentials. Default: the SDK's chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, …). */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Attempts per request, first included, for retryable failures only. Default 5. */
  maxAttempts?: number;
  /** First backoff, ms; doubles per attempt with full jitter (AWS's "exponential backoff and jitter"). Default 50. */
  baseBackoffMs?: number;
  /** Longest backoff, ms. Default 2,000. */
  maxBackoffMs?: number;
  /** A request with no answer after this long is aborted (and, for a write, settled by reading back). Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Requests in flight at once per store (uploads of parts included). Default 4. */
  maxConcurrentRequests?: number;
  /** Objects above this size are uploaded in parts of this size. Default 8 MiB (S3's minimum part is 5 MiB). */
  partSizeBytes?: number;
  /** Create the bucket on first use when it does not exist. Default true. */
  createBucket?: boolean;
  /**
   * Codec of every checkpoint object and archived WAL segment written: `'zstd'` (level 3),
   * `'lz4'`, `'brotli'`, `'deflate'`, `{ codec, level }`, or `'none'`/`false` (framed, not
   * compressed). Default zstd level 3. A codec whose package is missing falls back to brotli
   * (one `TIDEMARK_CODEC_FALLBACK` warning). Reading does not depend on it: every object names its codec.
   */
  compression?: CompressionSpec | false | undefined;
  /**
   * Packing of a checkpoint's small files into shared objects (`CheckpointBatcher`): files
   * compressed to at most `smallFileBytes` (default 1 MiB) share objects of up to
   * `maxBufferBytes` (default 8 MiB).
   */
  batch?: { smallFileBytes?: number | undefined; maxBufferBytes?: number | undefined } | undefined;
}

/** A config with every bound resolved. */
export type ResolvedObjectStoreConfig = Required<
  Pick<
    ObjectStoreConfig,
    | 'bucket'
    | 'prefix'
    | 'region'
    | 'maxAttempts'
    | 'baseBackoffMs'
    | 'maxBackoffMs'
    | 'requestTimeoutMs'
    | 'maxConcurrentRequests'
    | 'partSizeBytes'
    | 'createBucket'
  >
> &
  Pick<ObjectStoreConfig, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>;

/** S3's smallest part (except the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** True for `s3://…` locations. */
export function isObjectStoreUrl(location: string): boolean {
  return location.startsWith('s3://');
}

/**
 * Parses `s3://BUCKET/PREFIX` into a config (other fields from the environment at resolve time).
 * Throws `TIDEMARK_INVALID_ARGUMENT` for anything else.
 */
export function parseObjectStoreUrl(url: string): ObjectStoreConfig {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  const bucket = m?.[1];
  if (!m || bucket === undefined || !BUCKET_RE.test(bucket)) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `not an object store URL: ${JSON.stringify(url)} (expected s3://BUCKET/PREFIX, bucket 3–63 of a-z 0-9 . -)`,
    );
  }
  return { bucket, prefix: normalizePrefix(m[2] ?? '') };
}

function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '').replace(/\/{2,}/g, '/');
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  return value;
}

/** Fills in defaults from the environment and checks bounds (`TIDEMARK_INVALID_ARGUMENT`). */
export function resolveObjectStoreConfig(
  config: ObjectStoreConfig,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedObjectStoreConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    throw invalidArgument('objectStore', config, "an 's3://BUCKET/PREFIX' URL or an ObjectStoreConfig");
  if (typeof config.bucket !== 'string')
    throw invalidArgument('objectStore.bucket', config.bucket, 'a string');
  if (config.prefix !== undefined && typeof config.prefix !== 'string')
    throw invalidArgument('objectStore.prefix', config.prefix, 'a string (default: no prefix)');
  for (const name of ['endpoint', 'region', 'accessKeyId', 'secretAccessKey'] as const) {
    const value: unknown = config[name];
    if (value !== undefined && typeof value !== 'string')
      throw invalidArgument(`objectStore.${name}`, value, 'a string or undefined');
  }
  booleanOption('objectStore.createBucket', config.createBucket, true);
  const partSizeBytes = positive('partSizeBytes', config.partSizeBytes ?? 8 * 1024 * 1024);
  if (partSizeBytes < MIN_PART_BYTES)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `partSizeBytes must be at least ${MIN_PART_BYTES} (S3's smallest part), got ${partSizeBytes}`,
    );
  if (!BUCKET_RE.test(config.bucket))
    throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `bad bucket name ${JSON.stringify(config.bucket)}`);
  return {
    bucket: config.bucket,
    prefix: normalizePrefix(config.prefix ?? ''),
    endpoint: config.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: config.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    maxAttempts: positive('maxAttempts', config.maxAttempts ?? 5),
    baseBackoffMs: positive('baseBackoffMs', config.baseBackoffMs ?? 50),
    maxBackoffMs: positive('maxBackoffMs', config.maxBackoffMs ?? 2_000),
    requestTimeoutMs: positive('requestTimeoutMs', config.requestTimeoutMs ?? 30_000),
    maxConcurrentRequests: positive('maxConcurrentRequests', config.maxConcurrentRequests ?? 4),
    partSizeBytes,
    createBucket: config.createBucket ?? true,
  };
}

/** `s3://bucket/prefix` of a config, for messages and `location`. */
export function objectStoreUrl(config: Pick<ObjectStoreConfig, 'bucket' | 'prefix'>): string {
  return config.prefix ? `s3://${config.bucket}/${config.prefix}` : `s3://${config.bucket}`;
}
