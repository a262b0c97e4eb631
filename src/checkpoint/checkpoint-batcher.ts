/**
 * `CheckpointBatcher` (after LaminarDB laminar-storage 0.18's `CheckpointBatcher`): the data
 * files of one checkpoint on their way to an object store. Each file is compressed into a frame
 * (src/format/codec.ts); small frames are packed side by side into shared objects
 * (`batch-<n>.bin`), so a small checkpoint costs one data PUT instead of one per file, while
 * large frames stay objects of their own (no copying of big buffers, and each can go up in parts).
 *
 * Memory is bounded: packed frames wait in a buffer of at most `maxBufferBytes` (default 8 MiB),
 * which is flushed as one object when the next frame would overflow it, and at `finish()`.
 *
 * Every file's manifest entry pins its stored bytes: size and CRC32C of the frame, plus the
 * object and offset it was packed at. A reader ({@link readBatchedFile}) slices the frame out,
 * checks it against the entry, then decompresses it and checks its length.
 */
import { assert, isTidemarkError, TidemarkError } from '../errors.js';
import type { CheckpointFileEntry } from '../format/checkpoint-manifest.js';
import { decodeObject, encodeObject } from '../format/codec.js';
import { crc32c } from '../format/crc32c.js';
import { type Codecs, defaultCodecs, type ResolvedCompression } from '../io/codecs.js';
import type { S3ObjectStorage } from '../io/s3-object-storage.js';
import { integerOption } from '../validation.js';

/** Options of a {@link CheckpointBatcher}. */
export interface CheckpointBatcherOptions {
  /** Compressed files up to this many bytes are packed with others. Default 1 MiB. */
  smallFileBytes?: number | undefined;
  /** Packed files wait in a buffer of at most this many bytes; a full buffer is one PUT. Default 8 MiB. */
  maxBufferBytes?: number | undefined;
}

/** Counters of a batcher (one checkpoint) or of a store (all its checkpoints). */
export interface CheckpointBatcherStats {
  /** Data objects uploaded (one PUT each, or one multipart upload). */
  puts: number;
  /** Files packed into shared objects. */
  filesBatched: number;
  /** Files uploaded as objects of their own. */
  filesAlone: number;
  /** Bytes of the files before compression. */
  uncompressedBytes: number;
  /** Bytes uploaded (frames). */
  storedBytes: number;
}

/** A data file to store: its manifest name and role, and its content. */
export interface BatchedFileInput {
  /** File name inside the checkpoint (`state.base`, `state.delta`, `operators.bin`). */
  name: string;
  /** What the file holds (base or delta state file, operators' sidecar). */
  role: CheckpointFileEntry['role'];
  /** The file's bytes, in order, in chunks of any size. */
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** Where a batcher uploads: an {@link S3ObjectStorage}, or anything with its two upload calls. */
export type BatchUploader = Pick<S3ObjectStorage, 'put' | 'putChunks'>;

/** Name of the `n`th shared object of a checkpoint. */
export function batchObjectName(n: number): string {
  return `batch-${n}.bin`;
}

/** An empty {@link CheckpointBatcherStats}. */
export function emptyBatcherStats(): CheckpointBatcherStats {
  return { puts: 0, filesBatched: 0, filesAlone: 0, uncompressedBytes: 0, storedBytes: 0 };
}

/** Resolves batcher options (`TIDEMARK_INVALID_ARGUMENT` naming the option). */
export function resolveBatcherOptions(
  options: CheckpointBatcherOptions = {},
): Required<CheckpointBatcherOptions> {
  return {
    smallFileBytes: integerOption('batch.smallFileBytes', options.smallFileBytes, {
      min: 0,
      max: 2 ** 31,
      fallback: 1024 * 1024,
    }),
    maxBufferBytes: integerOption('batch.maxBufferBytes', options.maxBufferBytes, {
      min: 1,
      max: 2 ** 31,
      fallback: 8 * 1024 * 1024,
    }),
  };
}

async function collect(chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Packs and uploads the data files of one checkpoint attempt. */
export class CheckpointBatcher {
  private readonly limits: Required<CheckpointBatcherOptions>;
  private pending: { entry: CheckpointFileEntry; frame: Buffer }[] = [];
  private pendingBytes = 0;
  private objects = 0;
  private readonly entries: CheckpointFileEntry[] = [];
  private readonly counters = emptyBatcherStats();

  /**
   * `keyOf(name)` is the object key of data object `name` of this attempt. `put` options carry
   * the tier of the objects (storage class, tags), if any.
   */
  constructor(
    private readonly storage: BatchUploader,
    private readonly keyOf: (name: string) => string,
    options: CheckpointBatcherOptions & {
      /** Codec of the files (each file's frame names it). */
      compression: ResolvedCompression;
      codecs?: Codecs | undefined;
      /** Options of every upload (the tiering policy's class and tags). */
      put?: Parameters<S3ObjectStorage['put']>[2];
    },
  ) {
    this.limits = resolveBatcherOptions(options);
    this.compression = options.compression;
    this.codecs = options.codecs ?? defaultCodecs;
    this.putOptions = { ...options.put, createOnly: true };
  }
  private readonly compression: ResolvedCompression;
  private readonly codecs: Codecs;
  private readonly putOptions: Parameters<S3ObjectStorage['put']>[2];

  /** Compresses `file` and uploads it alone (large) or packs it (small; may flush the buffer). */
  async add(file: BatchedFileInput): Promise<void> {
    const raw = await collect(file.chunks);
    const encoded = await encodeObject(raw, this.compression, { codecs: this.codecs });
    const frame = encoded.bytes;
    const entry: CheckpointFileEntry = {
      name: file.name,
      role: file.role,
      sizeBytes: frame.length,
      crc32c: crc32c(frame),
      codec: encoded.codec,
      uncompressedBytes: raw.length,
    };
    this.counters.uncompressedBytes += raw.length;
    this.entries.push(entry);
    if (frame.length > this.limits.smallFileBytes) {
      const put = await this.storage.putChunks(this.keyOf(file.name), [frame], this.putOptions);
      assert(put.crc32c === entry.crc32c, 'uploaded frame has the CRC32C computed before');
      this.counters.puts++;
      this.counters.filesAlone++;
      this.counters.storedBytes += frame.length;
      return;
    }
    if (this.pendingBytes + frame.length > this.limits.maxBufferBytes) await this.flush();
    this.pending.push({ entry, frame });
    this.pendingBytes += frame.length;
  }

  /** Uploads the packed files waiting in the buffer as one object. */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const object = batchObjectName(this.objects++);
    let offset = 0;
    for (const p of this.pending) {
      p.entry.object = object;
      p.entry.offset = offset;
      offset += p.frame.length;
    }
    const body = Buffer.concat(
      this.pending.map((p) => p.frame),
      offset,
    );
    await this.storage.put(this.keyOf(object), body, this.putOptions);
    this.counters.puts++;
    this.counters.filesBatched += this.pending.length;
    this.counters.storedBytes += body.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Flushes the buffer; resolves the manifest entries, in the order the files were added. */
  async finish(): Promise<CheckpointFileEntry[]> {
    await this.flush();
    return this.entries;
  }

  /** Counters of this batcher. */
  stats(): CheckpointBatcherStats {
    return { ...this.counters };
  }
}

/** The data object a manifest entry lives in: its own, or the shared one it was packed into. */
export function objectNameOf(file: CheckpointFileEntry): string {
  return file.object ?? file.name;
}

/** How errors name `file` stored in the object at `objectUrl`: the object, or `object#file` for a packed one. */
export function fileUrl(objectUrl: string, file: CheckpointFileEntry): string {
  return file.object === undefined ? objectUrl : `${objectUrl}#${file.name}`;
}

/**
 * The stored bytes of `file` out of the bytes of its object (`read` resolves the object; for a
 * packed file, the whole shared object). The caller checks them against the manifest entry.
 * Damage found reading a shared object is reported against `url`, the file's.
 */
export async function sliceOfObject(
  file: CheckpointFileEntry,
  url: string,
  read: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await read();
  } catch (err) {
    if (file.object === undefined || !isTidemarkError(err, 'TIDEMARK_CORRUPTION')) throw err;
    throw new TidemarkError(
      'TIDEMARK_CORRUPTION',
      `${url}: the shared object holding it is damaged (${err.message})`,
      { path: url, offset: err.offset ?? 0, cause: err },
    );
  }
  if (file.object === undefined) return bytes;
  const start = file.offset ?? 0;
  return bytes.subarray(start, Math.min(bytes.length, start + file.sizeBytes));
}

/** The content of a checked stored file: decompressed (its length checked) when it is a frame. */
export function contentOf(
  stored: Uint8Array,
  path: string,
  codecs: Codecs = defaultCodecs,
): Promise<Uint8Array> {
  return decodeObject(stored, path, codecs);
}
