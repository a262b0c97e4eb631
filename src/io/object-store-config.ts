/**
 * Where an object store is and how to talk to it: `s3://BUCKET/PREFIX` URLs and the standard AWS
 * settings (`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), plus the bounds tidemark puts on every request.
 *
 * The config is plain data, so it crosses `postMessage` to the Ring 1 worker unchanged.
 */
import { fileURLToPath } from 'node:url';
import { TidemarkError } from '../errors.js';
import { booleanOption, invalidArgument } from '../validation.js';
import { type CompressionSpec, DEFAULT_OBJECT_COMPRESSION, resolveCompression } from './codecs.js';

/** How tidemark reaches one bucket and prefix of an S3-compatible object store (or a directory: `directory`). */
export interface ObjectStoreConfig {
  /** Bucket name (ignored when `directory` is set). */
  bucket: string;
  /**
   * A `file://` store: objects are files under this absolute directory (a local or mounted
   * file system) instead of an S3 bucket. See FileObjectStorage.
   */
  directory?: string | undefined;
  /** Key prefix, without leading or trailing `/` (may be empty). */
  prefix?: string | undefined;
  /** Endpoint URL, e.g. `http://127.0.0.1:7480`. Default: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or AWS itself. */
  endpoint?: string | undefined;
  /** Default: `AWS_REGION`, `AWS_DEFAULT_REGION`, or `us-east-1`. */
  region?: string | undefined;
  /** Static credentials. Default: the SDK's chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, …). */
  accessKeyId?: string | undefined;
  /** Static credentials: the secret key that goes with `accessKeyId`. Default: the SDK's chain. */
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
  batch?:
    | {
        /** Files compressed to at most this many bytes are packed with others. Default 1 MiB. */
        smallFileBytes?: number | undefined;
        /** Largest shared object (bytes), and so the most packed bytes held in memory. Default 8 MiB. */
        maxBufferBytes?: number | undefined;
      }
    | undefined;
  /**
   * Storage classes by age (`TieringPolicy`, off by default): `true` for the defaults, or the
   * class of each tier — `hot` (new checkpoints, the WAL tail; default `STANDARD`), `warm` (older
   * bases and their deltas; default `INTELLIGENT_TIERING`), `cold` (archived WAL the latest
   * checkpoint covers; default `GLACIER_IR`). Classes: `STANDARD`, `EXPRESS_ONEZONE`,
   * `INTELLIGENT_TIERING`, `GLACIER_IR`. Objects are tagged `tidemark-tier=hot|warm|cold`.
   */
  tiering?:
    | boolean
    | {
        /** Storage class of new checkpoints and the WAL tail. Default `STANDARD`. */
        hot?: string;
        /** Storage class of older bases and their deltas. Default `INTELLIGENT_TIERING`. */
        warm?: string;
        /** Storage class of archived WAL the latest checkpoint covers. Default `GLACIER_IR`. */
        cold?: string;
      }
    | undefined;
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
  Pick<
    ObjectStoreConfig,
    'endpoint' | 'accessKeyId' | 'secretAccessKey' | 'directory' | 'compression' | 'batch' | 'tiering'
  >;

/** S3's smallest part (except the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** True for object store locations (`s3://…`, `file://…`, and the schemes refused with a reason). */
export function isObjectStoreUrl(location: string): boolean {
  return /^(s3|file|gs|az|abfss?|wasbs?):\/\//.test(location);
}

/** Schemes of object stores tidemark does not reach, and what to do instead. */
const UNSUPPORTED_SCHEMES: Record<string, string> = {
  gs: 'Google Cloud Storage has no native client in tidemark; use its S3-compatible XML API: s3://BUCKET/PREFIX with AWS_ENDPOINT_URL_S3=https://storage.googleapis.com and an HMAC key as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
  az: 'Azure Blob Storage has no client in tidemark (it speaks no S3); put an S3-compatible gateway in front of it and use s3://, or a mounted container with file:///path',
};

/**
 * Parses an object store URL into a config (other fields from the environment at resolve time):
 * `s3://BUCKET/PREFIX` (endpoint and keys from the standard AWS settings), `file:///ABSOLUTE/PATH`
 * (a directory). Throws `TIDEMARK_INVALID_ARGUMENT` for anything else, with the reason for
 * `gs://` and `az://` (no client here) and the accepted forms for an unknown scheme.
 */
export function parseObjectStoreUrl(url: string): ObjectStoreConfig {
  if (typeof url !== 'string') throw invalidArgument('objectStore', url, 'an s3:// or file:// URL');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    let directory: string;
    try {
      directory = fileURLToPath(url);
    } catch (err) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `not a file URL of an absolute path: ${JSON.stringify(url)} (expected file:///ABSOLUTE/PATH): ${(err as Error).message}`,
        { argument: 'objectStore' },
      );
    }
    return { bucket: 'local', directory: directory.replace(/\/+$/, '') || '/' };
  }
  const alias =
    scheme === 'abfs' || scheme === 'abfss' || scheme === 'wasb' || scheme === 'wasbs' ? 'az' : scheme;
  if (alias !== undefined && alias in UNSUPPORTED_SCHEMES)
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${scheme}:// object stores are not supported: ${UNSUPPORTED_SCHEMES[alias]}`,
      { argument: 'objectStore' },
    );
  if (scheme !== undefined && scheme !== 's3')
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `unknown object store scheme ${scheme}:// in ${JSON.stringify(url)} (expected s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH)`,
      { argument: 'objectStore' },
    );
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  const bucket = m?.[1];
  if (!m || bucket === undefined || !BUCKET_RE.test(bucket)) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `not an object store URL: ${JSON.stringify(url)} (expected s3://BUCKET/PREFIX, bucket 3–63 of a-z 0-9 . -, or file:///ABSOLUTE/PATH)`,
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
  if (
    config.directory !== undefined &&
    (typeof config.directory !== 'string' || !config.directory.startsWith('/'))
  )
    throw invalidArgument('objectStore.directory', config.directory, 'an absolute path (a file:// store)');
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
  resolveCompression('objectStore.compression', config.compression, DEFAULT_OBJECT_COMPRESSION);
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
    ...(config.directory === undefined ? {} : { directory: config.directory }),
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
    // Carried for whatever builds a checkpoint store or archiver on this client (checked there).
    ...(config.compression === undefined ? {} : { compression: config.compression }),
    ...(config.batch === undefined ? {} : { batch: config.batch }),
    ...(config.tiering === undefined ? {} : { tiering: config.tiering }),
  };
}

/** `s3://bucket/prefix` (or `file:///dir/prefix`) of a config, for messages and `location`. */
export function objectStoreUrl(config: Pick<ObjectStoreConfig, 'bucket' | 'prefix' | 'directory'>): string {
  if (config.directory !== undefined) {
    const dir = config.directory.endsWith('/') ? config.directory.slice(0, -1) : config.directory;
    return `file://${dir}${config.prefix ? `/${config.prefix}` : ''}`;
  }
  return config.prefix ? `s3://${config.bucket}/${config.prefix}` : `s3://${config.bucket}`;
}
