/**
 * `S3ObjectStorage`: the few object operations tidemark needs, on `@aws-sdk/client-s3`, with the
 * guarantees a durability layer needs from them.
 *
 * The SDK is an optional peer dependency, imported on the first request (`s3-sdk.ts`): without
 * it, constructing a storage still validates the config, and the first operation rejects
 * `TIDEMARK_MISSING_DEPENDENCY` naming the package and its install command.
 *
 * - **Integrity in both directions.** Every upload (and every part) carries `Content-MD5`, so the
 *   server refuses a body damaged or cut short in transit. Every object carries its CRC32C and
 *   size in user metadata (`x-amz-meta-tidemark-crc32c`, `-size`) when they are known before the
 *   upload starts; every read checks the length it received and that checksum.
 * - **Create-only writes.** `createOnly` sends `If-None-Match: *`: of two writers racing for one
 *   key, exactly one wins; the other gets `TIDEMARK_CONFLICT`.
 * - **Bounded retries, only for what is retryable** (`s3-errors.ts`): full-jitter exponential
 *   backoff, `maxAttempts` in all. The SDK's own retries are off so that these rules are the only ones.
 * - **Ambiguous writes are settled by reading back.** A write that failed in a way that may have
 *   happened after the request was sent (a timeout, a dropped connection, a 5xx) is followed by a
 *   HEAD: when the object is there with this upload's token, the write succeeded.
 * - **Bounded concurrency and memory.** At most `maxConcurrentRequests` requests run at once;
 *   large objects go up in `partSizeBytes` parts, so a 1 GiB checkpoint needs a few parts of memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as diagnostics from 'node:diagnostics_channel';
import * as fs from 'node:fs/promises';
import type { S3Client, StorageClass } from '@aws-sdk/client-s3';
import { corruption, ioError, TidemarkError } from '../errors.js';
import { crc32c } from '../format/crc32c.js';
import { BoundedConcurrency } from './bounded-concurrency.js';
import {
  type ObjectStoreConfig,
  objectStoreUrl,
  type ResolvedObjectStoreConfig,
  resolveObjectStoreConfig,
} from './object-store-config.js';
import { recordHttpStatus, traceRequest, tracingRequests } from './object-store-tracing.js';
import { isNotFound, isPreconditionFailed, isRetryable, objectStoreError } from './s3-errors.js';
import { loadS3Sdk, type S3Sdk } from './s3-sdk.js';

/** Metadata keys (sent as `x-amz-meta-…`). */
const META_CRC = 'tidemark-crc32c';
const META_SIZE = 'tidemark-size';
const META_UPLOAD = 'tidemark-upload';

/** Channel carrying `{ event: 'retry' | 'settled-by-read-back', operation, key, attempt, error }`. */
export const OBJECT_STORE_CHANNEL = 'tidemark:object-store';
const channel = diagnostics.channel(OBJECT_STORE_CHANNEL);

/** An object as listed or read back. */
export interface ObjectInfo {
  /** Key relative to the store's prefix. */
  key: string;
  /** Size of the object as stored (bytes). */
  sizeBytes: number;
  /** CRC32C from the object's metadata, when it carries one. */
  crc32c?: number | undefined;
}

/** What an upload wrote. */
export interface PutResult {
  /** Bytes written (the whole object). */
  sizeBytes: number;
  /** CRC32C of the whole object as written. */
  crc32c: number;
}

/** Options of a write. */
export interface PutOptions {
  /** `If-None-Match: *`: fail with `TIDEMARK_CONFLICT` when the key exists (unless it holds exactly this upload). */
  createOnly?: boolean;
  /** More user metadata (`x-amz-meta-<key>`; keys lower-case, values ASCII). See object-tiering.ts. */
  metadata?: Record<string, string> | undefined;
  /** S3 storage class, e.g. `STANDARD`, `GLACIER_IR` (default: the bucket's). */
  storageClass?: string | undefined;
  /** Object tags, e.g. `{ 'tidemark-tier': 'hot' }`. */
  tags?: Record<string, string> | undefined;
}

/** The `x-amz-tagging` header value of `tags`. */
function tagging(tags: Record<string, string> | undefined): { Tagging?: string } {
  if (tags === undefined || Object.keys(tags).length === 0) return {};
  return { Tagging: new URLSearchParams(tags).toString() };
}

/** The request fields a {@link PutOptions} adds to a PutObject / CreateMultipartUpload. */
function extraFields(options: PutOptions): { StorageClass?: StorageClass; Tagging?: string } {
  return {
    ...(options.storageClass ? { StorageClass: options.storageClass as StorageClass } : {}),
    ...tagging(options.tags),
  };
}

/** Counters of one storage client. */
export interface ObjectStorageStats {
  /** S3 requests sent, retries included (count). */
  requests: number;
  /** Requests retried after a retryable failure (count). */
  retries: number;
  /** Writes whose outcome was unknown and was settled by reading the object back. */
  settledByReadBack: number;
  /** Object bytes uploaded (bytes). */
  bytesUploaded: number;
  /** Object bytes downloaded (bytes). */
  bytesDownloaded: number;
}

class RequestTimeout extends Error {
  override name = 'TidemarkRequestTimeout';
}
class TruncatedBody extends Error {
  override name = 'TidemarkTruncatedBody';
}

function md5Base64(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return createHash('md5').update(bytes.subarray(start, end)).digest('base64');
}

/**
 * Objects in one bucket under one prefix of an S3-compatible store.
 *
 * Threads: use from the thread that created it (its S3 client and connection pool); other threads
 * create their own.
 */
export class S3ObjectStorage {
  /** The validated config, every default filled in. */
  readonly config: ResolvedObjectStoreConfig;
  /** `s3://bucket/prefix`. */
  readonly url: string;
  /** The SDK and its client, created on the first request (the SDK is an optional peer dependency). */
  private api: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  private client: S3Client | undefined;
  private destroyed = false;
  private readonly limiter: BoundedConcurrency;
  private bucketReady: Promise<void> | undefined;
  private readonly counters: ObjectStorageStats = {
    requests: 0,
    retries: 0,
    settledByReadBack: 0,
    bytesUploaded: 0,
    bytesDownloaded: 0,
  };

  /** Throws `TIDEMARK_INVALID_ARGUMENT` for a bad config. */
  constructor(config: ObjectStoreConfig) {
    this.config = resolveObjectStoreConfig(config);
    this.url = objectStoreUrl(this.config);
    this.limiter = new BoundedConcurrency(this.config.maxConcurrentRequests);
  }

  /** Counters since construction. */
  stats(): ObjectStorageStats {
    return { ...this.counters };
  }

  /** Closes the HTTP agent (also of a client still being created). */
  destroy(): void {
    this.destroyed = true;
    this.client?.destroy();
  }

  /**
   * The SDK module and this storage's client, loaded and created on first use. Rejects
   * `TIDEMARK_MISSING_DEPENDENCY` when `@aws-sdk/client-s3` is not installed.
   */
  private s3(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.api ??= loadS3Sdk().then((sdk) => {
      const { endpoint, region, accessKeyId, secretAccessKey } = this.config;
      const client = new sdk.S3Client({
        region,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        maxAttempts: 1,
        ...(endpoint ? { endpoint } : {}),
        ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
      });
      recordHttpStatus(client);
      this.client = client;
      if (this.destroyed) client.destroy();
      return { sdk, client };
    });
    this.api.catch(() => {
      this.api = undefined;
    });
    return this.api;
  }

  /** Full key of `key` (relative to the prefix). */
  fullKey(key: string): string {
    return this.config.prefix ? `${this.config.prefix}/${key}` : key;
  }

  /** `s3://bucket/prefix/key`, for messages. */
  urlOf(key: string): string {
    return `${this.url}/${key}`;
  }

  /**
   * Runs one request with a timeout, under the concurrency bound, retrying what is retryable
   * with full-jitter backoff. `settle`, when given, is asked after a retryable failure whether
   * the request in fact took effect (a write that timed out after it was sent).
   */
  private async request<T>(
    operation: string,
    key: string,
    send: (signal: AbortSignal) => Promise<T>,
    settle?: () => Promise<T | undefined>,
  ): Promise<T> {
    const { maxAttempts, baseBackoffMs, maxBackoffMs, requestTimeoutMs } = this.config;
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        return await this.limiter.run(async () => {
          this.counters.requests++;
          const controller = new AbortController();
          const timer = setTimeout(
            () => controller.abort(new RequestTimeout(`no answer within ${requestTimeoutMs} ms`)),
            requestTimeoutMs,
          );
          try {
            if (tracingRequests())
              return await traceRequest({ operation, key, attempt }, send, controller.signal);
            return await send(controller.signal);
          } catch (err) {
            throw controller.signal.aborted ? controller.signal.reason : err;
          } finally {
            clearTimeout(timer);
          }
        });
      } catch (err) {
        failure = err;
      }
      if (!isRetryable(failure)) throw this.translate(operation, key, failure, attempt);
      if (settle) {
        const settled = await settle();
        if (settled !== undefined) {
          this.counters.settledByReadBack++;
          if (channel.hasSubscribers)
            channel.publish({ event: 'settled-by-read-back', operation, key, attempt, error: failure });
          return settled;
        }
      }
      if (attempt >= maxAttempts)
        throw objectStoreError(failure, { operation, url: this.urlOf(key), attempts: attempt });
      this.counters.retries++;
      if (channel.hasSubscribers)
        channel.publish({ event: 'retry', operation, key, attempt, error: failure });
      const capMs = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * capMs));
    }
  }

  private translate(operation: string, key: string, err: unknown, attempts: number): TidemarkError {
    if (isNotFound(err))
      return new TidemarkError('TIDEMARK_NOT_FOUND', `${this.urlOf(key)} does not exist`, {
        path: this.urlOf(key),
        cause: err,
      });
    if (isPreconditionFailed(err))
      return new TidemarkError(
        'TIDEMARK_CONFLICT',
        `${this.urlOf(key)} already exists: another writer created it first`,
        { path: this.urlOf(key), cause: err },
      );
    return objectStoreError(err, { operation, url: this.urlOf(key), attempts });
  }

  /** Creates the bucket when missing (once per client; only when `createBucket`). */
  ensureBucket(): Promise<void> {
    this.bucketReady ??= (async () => {
      const s3 = await this.s3();
      const Bucket = this.config.bucket;
      try {
        await this.request('HeadBucket', '', (abortSignal) =>
          s3.client.send(new s3.sdk.HeadBucketCommand({ Bucket }), { abortSignal }),
        );
        return;
      } catch (err) {
        if (!(err instanceof TidemarkError && err.code === 'TIDEMARK_NOT_FOUND') || !this.config.createBucket)
          throw err;
      }
      try {
        await this.request('CreateBucket', '', (abortSignal) =>
          s3.client.send(new s3.sdk.CreateBucketCommand({ Bucket }), { abortSignal }),
        );
      } catch (err) {
        const name = ((err as TidemarkError).cause as { name?: string } | undefined)?.name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
      }
    })();
    this.bucketReady.catch(() => {
      this.bucketReady = undefined;
    });
    return this.bucketReady;
  }

  /** Size, CRC32C, upload token, metadata and storage class of an object; undefined when it does not exist. */
  async head(key: string): Promise<
    | (ObjectInfo & {
        /** Random token of the write that stored the object (`x-amz-meta-tidemark-upload`), when it carries one. */
        upload?: string | undefined;
        /** The object's user metadata (`x-amz-meta-*`), keys without the prefix. */
        metadata: Record<string, string>;
        /** The object's storage class; undefined when the store reports none (the bucket's default). */
        storageClass: string | undefined;
      })
    | undefined
  > {
    await this.ensureBucket();
    const s3 = await this.s3();
    try {
      const out = await this.request('HeadObject', key, (abortSignal) =>
        s3.client.send(new s3.sdk.HeadObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }), {
          abortSignal,
        }),
      );
      const crc = out.Metadata?.[META_CRC];
      return {
        key,
        sizeBytes: out.ContentLength ?? 0,
        crc32c: crc === undefined ? undefined : Number(crc),
        upload: out.Metadata?.[META_UPLOAD],
        metadata: out.Metadata ?? {},
        storageClass: out.StorageClass,
      };
    } catch (err) {
      if (err instanceof TidemarkError && err.code === 'TIDEMARK_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** The write landed when the object holds this upload's token. */
  private async landed(key: string, upload: string, result: PutResult): Promise<PutResult | undefined> {
    try {
      const info = await this.head(key);
      return info?.upload === upload && info.sizeBytes === result.sizeBytes ? result : undefined;
    } catch {
      return undefined; // cannot tell yet: the caller retries (bounded) or gives up
    }
  }

  /** Uploads `body` as one object. See {@link PutOptions}. Rejects `TIDEMARK_CONFLICT`, `TIDEMARK_IO`. */
  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    await this.ensureBucket();
    const s3 = await this.s3();
    const result: PutResult = { sizeBytes: body.length, crc32c: crc32c(body) };
    if (body.length > this.config.partSizeBytes) return this.putParts(key, [body], options, result.crc32c);
    const upload = randomUUID();
    const contentMd5 = md5Base64(body);
    const out = await this.request(
      'PutObject',
      key,
      async (abortSignal) => {
        await s3.client.send(
          new s3.sdk.PutObjectCommand({
            Bucket: this.config.bucket,
            Key: this.fullKey(key),
            Body: body,
            ContentLength: body.length,
            ContentMD5: contentMd5,
            ...(options.createOnly ? { IfNoneMatch: '*' } : {}),
            ...extraFields(options),
            Metadata: {
              ...options.metadata,
              [META_CRC]: String(result.crc32c),
              [META_SIZE]: String(body.length),
              [META_UPLOAD]: upload,
            },
          }),
          { abortSignal },
        );
        return result;
      },
      () => this.landed(key, upload, result),
    ).catch(async (err) => {
      // A create-only write retried after an unseen success meets its own object: 412, but ours.
      if (err instanceof TidemarkError && err.code === 'TIDEMARK_CONFLICT') {
        const mine = await this.landed(key, upload, result);
        if (mine) return mine;
      }
      throw err;
    });
    this.counters.bytesUploaded += body.length;
    return out;
  }

  /**
   * Uploads the bytes of `chunks` (any sizes) as one object: a single PUT when they fit in one
   * part, otherwise a multipart upload with at most `maxConcurrentRequests` parts in flight.
   * `knownCrc32c`, when the caller knows the checksum up front, goes into the metadata.
   */
  async putChunks(
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const { partSizeBytes } = this.config;
    const first: Uint8Array[] = [];
    let firstBytes = 0;
    const iterator =
      Symbol.asyncIterator in chunks
        ? (chunks as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
        : (chunks as Iterable<Uint8Array>)[Symbol.iterator]();
    let done = false;
    while (firstBytes <= partSizeBytes) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        break;
      }
      first.push(next.value);
      firstBytes += next.value.length;
    }
    if (done) return this.put(key, Buffer.concat(first), options);
    const rest = (async function* () {
      yield* first;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    })();
    return this.putParts(key, rest, options, undefined);
  }

  /** Uploads a local file (read in parts; its CRC32C is computed first and stored in the metadata). */
  async putFile(key: string, path: string, options: PutOptions = {}): Promise<PutResult> {
    const { partSizeBytes } = this.config;
    const handle = await fs.open(path, 'r').catch((err) => {
      throw ioError('open', path, err);
    });
    try {
      const { size } = await handle.stat();
      const buf = Buffer.allocUnsafe(Math.min(partSizeBytes, Math.max(size, 1)));
      let sum = 0;
      for (let pos = 0; pos < size; ) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) throw corruption(path, pos, 'file shrank while it was being archived');
        sum = crc32c(buf, 0, bytesRead, sum);
        pos += bytesRead;
      }
      if (size <= partSizeBytes) {
        const { bytesRead } = await handle.read(buf, 0, size, 0);
        const body = buf.subarray(0, bytesRead);
        if (crc32c(body) !== sum) throw corruption(path, 0, 'file changed while it was being archived');
        return await this.put(key, body, options);
      }
      const parts = (async function* () {
        for (let pos = 0; pos < size; ) {
          const part = Buffer.allocUnsafe(Math.min(partSizeBytes, size - pos));
          const { bytesRead } = await handle.read(part, 0, part.length, pos);
          if (bytesRead !== part.length)
            throw corruption(path, pos, 'file shrank while it was being archived');
          pos += bytesRead;
          yield part;
        }
      })();
      return await this.putParts(key, parts, options, sum);
    } finally {
      await handle.close();
    }
  }

  /**
   * Multipart upload of `chunks`, re-cut into `partSizeBytes` parts, at most
   * `maxConcurrentRequests` in flight (so memory stays within that many parts). Without
   * `knownCrc32c` the object's metadata carries no CRC (the caller keeps it, e.g. in a manifest).
   * `If-None-Match` is not honoured on completion by every server (radosgw ignores it), so a
   * create-only multipart upload checks for the key first.
   */
  private async putParts(
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    options: PutOptions,
    knownCrc32c: number | undefined,
  ): Promise<PutResult> {
    await this.ensureBucket();
    const s3 = await this.s3();
    const { bucket: Bucket, partSizeBytes, maxConcurrentRequests } = this.config;
    const Key = this.fullKey(key);
    if (options.createOnly && (await this.head(key)) !== undefined)
      throw new TidemarkError(
        'TIDEMARK_CONFLICT',
        `${this.urlOf(key)} already exists: another writer created it first`,
        {
          path: this.urlOf(key),
        },
      );
    const upload = randomUUID();
    const created = await this.request('CreateMultipartUpload', key, (abortSignal) =>
      s3.client.send(
        new s3.sdk.CreateMultipartUploadCommand({
          Bucket,
          Key,
          ...extraFields(options),
          Metadata: {
            ...options.metadata,
            [META_UPLOAD]: upload,
            ...(knownCrc32c === undefined ? {} : { [META_CRC]: String(knownCrc32c) }),
          },
        }),
        { abortSignal },
      ),
    );
    const UploadId = created.UploadId;
    if (UploadId === undefined)
      throw objectStoreError('no UploadId', {
        operation: 'CreateMultipartUpload',
        url: this.urlOf(key),
        attempts: 1,
      });
    const etags: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let sizeBytes = 0;
    let sum = 0;
    const sendPart = (partNumber: number, body: Uint8Array) => {
      const ContentMD5 = md5Base64(body);
      const p = this.request('UploadPart', key, (abortSignal) =>
        s3.client.send(
          new s3.sdk.UploadPartCommand({
            Bucket,
            Key,
            UploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ContentMD5,
          }),
          { abortSignal },
        ),
      ).then(
        (out) => {
          etags[partNumber - 1] = out.ETag ?? '';
          this.counters.bytesUploaded += body.length;
        },
        (err) => {
          failure ??= err;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    try {
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      let partNumber = 0;
      const flush = async (all: boolean) => {
        while (pendingBytes >= partSizeBytes || (all && pendingBytes > 0)) {
          const joined = Buffer.concat(pending, pendingBytes);
          const body = joined.subarray(0, Math.min(partSizeBytes, pendingBytes));
          const rest = joined.subarray(body.length);
          pending = rest.length > 0 ? [rest] : [];
          pendingBytes = rest.length;
          while (inFlight.size >= maxConcurrentRequests) await Promise.race(inFlight);
          if (failure !== undefined) throw failure;
          sendPart(++partNumber, body);
        }
      };
      for await (const chunk of chunks) {
        sizeBytes += chunk.length;
        sum = crc32c(chunk, 0, chunk.length, sum);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= partSizeBytes) await flush(false);
      }
      await flush(true);
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      if (knownCrc32c !== undefined && knownCrc32c !== sum)
        throw corruption(this.urlOf(key), 0, 'bytes changed while they were being uploaded');
      const result: PutResult = { sizeBytes, crc32c: sum };
      const Parts = etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 }));
      await this.request(
        'CompleteMultipartUpload',
        key,
        async (abortSignal) => {
          await s3.client.send(
            new s3.sdk.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
            { abortSignal },
          );
          return result;
        },
        () => this.landed(key, upload, result),
      );
      // Some servers answer the completion before the object reads back whole: check it.
      const landed = await this.landed(key, upload, result);
      if (!landed)
        throw new TidemarkError(
          'TIDEMARK_IO',
          `${this.urlOf(key)}: multipart upload completed but does not read back`,
          {
            path: this.urlOf(key),
          },
        );
      return result;
    } catch (err) {
      await Promise.allSettled(inFlight);
      await s3.client.send(new s3.sdk.AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {}); // best effort: an unfinished upload holds no visible object
      throw err instanceof TidemarkError
        ? err
        : objectStoreError(err, { operation: 'multipart upload', url: this.urlOf(key), attempts: 1 });
    }
  }

  /**
   * Reads a whole object, refusing more than `maxBytes` (`TIDEMARK_LIMIT`). Checks the length
   * received and the CRC32C in its metadata; a mismatch is retried (it may be the transport),
   * then reported as `TIDEMARK_CORRUPTION`. Rejects `TIDEMARK_NOT_FOUND`, `TIDEMARK_IO`.
   */
  async get(key: string, maxBytes: number): Promise<Uint8Array> {
    await this.ensureBucket();
    const s3 = await this.s3();
    const url = this.urlOf(key);
    let badChecksum = 0;
    for (;;) {
      const out = await this.request('GetObject', key, async (abortSignal) => {
        const res = await s3.client.send(
          new s3.sdk.GetObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }),
          { abortSignal },
        );
        const length = res.ContentLength ?? 0;
        if (length > maxBytes) {
          (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
          throw new TidemarkError(
            'TIDEMARK_LIMIT',
            `${url} is ${length} bytes, more than the ${maxBytes} allowed`,
            {
              path: url,
            },
          );
        }
        const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
        if (bytes.length !== length)
          throw new TruncatedBody(`received ${bytes.length} of ${length} bytes of ${url}`);
        const crc = res.Metadata?.[META_CRC];
        return { bytes, crc: crc === undefined ? undefined : Number(crc) };
      });
      this.counters.bytesDownloaded += out.bytes.length;
      if (out.crc === undefined || crc32c(out.bytes) === out.crc) return out.bytes;
      if (++badChecksum >= this.config.maxAttempts)
        throw corruption(url, 0, `object does not match the CRC32C in its metadata (${badChecksum} reads)`);
    }
  }

  /** Every object under `prefix` (relative to the store's prefix), with paging; sorted by key. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    await this.ensureBucket();
    const s3 = await this.s3();
    const found: ObjectInfo[] = [];
    const base = this.config.prefix ? `${this.config.prefix}/` : '';
    let ContinuationToken: string | undefined;
    do {
      const out = await this.request('ListObjectsV2', prefix, (abortSignal) =>
        s3.client.send(
          new s3.sdk.ListObjectsV2Command({
            Bucket: this.config.bucket,
            Prefix: base + prefix,
            ...(ContinuationToken ? { ContinuationToken } : {}),
          }),
          { abortSignal },
        ),
      );
      for (const o of out.Contents ?? []) {
        if (o.Key !== undefined) found.push({ key: o.Key.slice(base.length), sizeBytes: o.Size ?? 0 });
      }
      ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Deletes objects (1,000 per request); a missing key is not an error. Rejects `TIDEMARK_IO`. */
  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.ensureBucket();
    const s3 = await this.s3();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.request('DeleteObjects', batch[0]!, (abortSignal) =>
        s3.client.send(
          new s3.sdk.DeleteObjectsCommand({
            Bucket: this.config.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.fullKey(k) })), Quiet: true },
          }),
          { abortSignal },
        ),
      );
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        const e = failed[0]!;
        throw new TidemarkError(
          'TIDEMARK_IO',
          `deleting ${failed.length} object(s) under ${this.url} failed, first ${e.Key}: ${e.Code} ${e.Message ?? ''}`,
          { path: this.url },
        );
      }
    }
  }

  /**
   * Rewrites `key` in place with another storage class (CopyObject onto itself: the bytes and
   * metadata are kept), then sets its tags (PutObjectTagging), for tiering. Rejects
   * `TIDEMARK_NOT_FOUND`, `TIDEMARK_IO`.
   */
  async rewriteClass(key: string, options: Pick<PutOptions, 'storageClass' | 'tags'>): Promise<void> {
    await this.ensureBucket();
    const s3 = await this.s3();
    const Bucket = this.config.bucket;
    const Key = this.fullKey(key);
    await this.request('CopyObject', key, (abortSignal) =>
      s3.client.send(
        new s3.sdk.CopyObjectCommand({
          Bucket,
          Key,
          CopySource: `${Bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'COPY',
          ...(options.storageClass ? { StorageClass: options.storageClass as StorageClass } : {}),
        }),
        { abortSignal },
      ),
    );
    // Tags separately: radosgw ignores `TaggingDirective: REPLACE` on a copy onto itself.
    const TagSet = Object.entries(options.tags ?? {}).map(([k, v]) => ({ Key: k, Value: v }));
    await this.request('PutObjectTagging', key, (abortSignal) =>
      s3.client.send(new s3.sdk.PutObjectTaggingCommand({ Bucket, Key, Tagging: { TagSet } }), {
        abortSignal,
      }),
    );
  }

  /** The tags of `key` (GetObjectTagging). Rejects `TIDEMARK_NOT_FOUND`, `TIDEMARK_IO`. */
  async tagsOf(key: string): Promise<Record<string, string>> {
    await this.ensureBucket();
    const s3 = await this.s3();
    const out = await this.request('GetObjectTagging', key, (abortSignal) =>
      s3.client.send(
        new s3.sdk.GetObjectTaggingCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }),
        {
          abortSignal,
        },
      ),
    );
    return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  }
}
