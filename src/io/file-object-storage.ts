/**
 * `FileObjectStorage`: the object-store operations tidemark needs, on a directory of a local or
 * mounted file system (`file:///path` stores). Useful for a shared volume (NFS, a mounted disk)
 * and for running everything the object store does without a server.
 *
 * Same guarantees as {@link S3ObjectStorage}, by file-system means:
 * - an object is ONE file: a header holding its size, CRC32C, metadata, storage class and tags,
 *   then its bytes (layout in file-object-layout.ts). It is written to a temporary file,
 *   fdatasync'ed, then published — create-only by `link()` (fails when the name exists: of two
 *   racing writers exactly one wins, as `If-None-Match: *`), otherwise by `rename()` — and its
 *   directory is fsync'ed. An object and its metadata therefore appear together, as with S3's
 *   PutObject, whenever the writer dies;
 * - every read checks length and CRC32C (`TIDEMARK_CORRUPTION` on a mismatch, or on a damaged
 *   header).
 *
 * Stores written by the earlier layout still read: a file without the header's magic is a raw
 * object whose metadata, when present, is in the sidecar `.meta/<key>.json`. New writes never
 * create sidecars; `rewriteClass()` converts an object to the new layout, `delete()` removes its
 * sidecar too.
 *
 * It extends `S3ObjectStorage` so that every place taking a storage takes this one too; it
 * overrides every operation, and never loads the AWS SDK. Storage classes and tags are recorded
 * in the header (a file system has no tiers; they are recorded so that tools report them).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { corruption, ioError, TidemarkError } from '../errors.js';
import { crc32c } from '../format/crc32c.js';
import {
  decodeFileObjectHeader,
  encodeFileObjectHeader,
  FILE_OBJECT_PREFIX_BYTES,
  type FileObjectHeader,
  fileObjectHeaderLength,
  hasFileObjectMagic,
} from './file-object-layout.js';
import type { ObjectStoreConfig } from './object-store-config.js';
import { type ObjectInfo, type PutOptions, type PutResult, S3ObjectStorage } from './s3-object-storage.js';

/** Directory of the earlier layout's sidecars (read, never written). */
const META_DIR = '.meta';
/** Bytes read first from an object file: the whole header of every object tidemark writes. */
const FIRST_READ_BYTES = 4096;

/** An object file as found: its header (this layout) or none (the earlier, raw layout). */
interface Found {
  /** Size of the file (bytes). */
  fileBytes: number;
  /** Offset of the body: the header's length, 0 for a raw object. */
  bodyOffset: number;
  /** The header; undefined for a raw object of the earlier layout. */
  header: FileObjectHeader | undefined;
}

const isMissing = (err: unknown) => (err as { code?: string }).code === 'ENOENT';

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Writes `parts` one after the other into a new `file` and fdatasyncs it. */
async function writeDurable(file: string, parts: readonly Uint8Array[]): Promise<void> {
  const h = await fs.open(file, 'wx');
  try {
    let position = 0;
    for (const part of parts) {
      for (let done = 0; done < part.length; ) {
        const { bytesWritten } = await h.write(part, done, part.length - done, position);
        done += bytesWritten;
        position += bytesWritten;
      }
    }
    await h.datasync();
  } finally {
    await h.close();
  }
}

/** Reads `length` bytes at `position` (fewer only at the end of the file). */
async function pread(h: fs.FileHandle, length: number, position: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await h.read(out, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? out : out.subarray(0, done);
}

/** Objects in a directory: `file:///path` object stores. */
export class FileObjectStorage extends S3ObjectStorage {
  /** Absolute path of the store's root directory (its prefix included). */
  readonly root: string;
  private readonly fileCounters = {
    requests: 0,
    retries: 0,
    settledByReadBack: 0,
    bytesUploaded: 0,
    bytesDownloaded: 0,
  };

  /** `config.directory` (absolute) is the store; `TIDEMARK_INVALID_ARGUMENT` without it. */
  constructor(config: ObjectStoreConfig) {
    if (typeof config.directory !== 'string' || !path.isAbsolute(config.directory))
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        `objectStore.directory must be an absolute path, got ${JSON.stringify(config.directory)}`,
        { argument: 'objectStore.directory' },
      );
    super(config);
    this.root = config.prefix ? path.join(config.directory, config.prefix) : config.directory;
  }

  override stats() {
    return { ...this.fileCounters };
  }

  override destroy(): void {}

  override ensureBucket(): Promise<void> {
    return fs.mkdir(this.root, { recursive: true }).then(
      () => undefined,
      (err) => {
        throw ioError('mkdir', this.root, err);
      },
    );
  }

  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '' || part === META_DIR))
      throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `bad object key ${JSON.stringify(key)}`);
    return path.join(this.root, key);
  }

  private sidecarOf(key: string): string {
    return path.join(this.root, META_DIR, `${key}.json`);
  }

  /** The earlier layout's metadata of a raw object, when it has a readable sidecar. */
  private async readSidecar(key: string): Promise<FileObjectHeader | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.sidecarOf(key), 'utf8')) as FileObjectHeader;
    } catch {
      return undefined;
    }
  }

  /** The header of the open object file `h` (checked), or none for a raw object. */
  private async readFound(h: fs.FileHandle, key: string): Promise<Found> {
    const { size } = await h.stat();
    let first = await pread(h, Math.min(size, FIRST_READ_BYTES), 0);
    if (!hasFileObjectMagic(first)) return { fileBytes: size, bodyOffset: 0, header: undefined };
    const url = this.urlOf(key);
    const length = fileObjectHeaderLength(first, size, url);
    if (length > first.length) first = await pread(h, length, 0);
    return { fileBytes: size, bodyOffset: length, header: decodeFileObjectHeader(first, size, url) };
  }

  /** Opens `key`'s file for reading; undefined when it does not exist. */
  private async openObject(key: string): Promise<fs.FileHandle | undefined> {
    try {
      return await fs.open(this.pathOf(key), 'r');
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw ioError('open', this.pathOf(key), err);
    }
  }

  /** The object's open file, or `TIDEMARK_NOT_FOUND` naming its URL. */
  private async openExisting(key: string): Promise<fs.FileHandle> {
    const h = await this.openObject(key);
    if (h === undefined)
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.urlOf(key)} does not exist`, {
        path: this.urlOf(key),
      });
    return h;
  }

  override async head(key: string) {
    this.fileCounters.requests++;
    const h = await this.openObject(key);
    if (h === undefined) return undefined;
    let found: Found;
    try {
      found = await this.readFound(h, key);
    } catch (err) {
      throw ioError('read', this.pathOf(key), err);
    } finally {
      await h.close();
    }
    const meta = found.header ?? (await this.readSidecar(key));
    return {
      key,
      sizeBytes: found.fileBytes - found.bodyOffset,
      crc32c: meta?.crc32c,
      upload: undefined,
      metadata: meta?.metadata ?? {},
      storageClass: meta?.storageClass,
      tags: meta?.tags ?? {},
    };
  }

  /** Writes `header` + `body` to a temporary file beside `file` and publishes it as `file`. */
  private async publish(
    file: string,
    object: { url: string; header: FileObjectHeader; body: Uint8Array; createOnly: boolean },
  ): Promise<void> {
    const { url, header, body, createOnly } = object;
    const dir = path.dirname(file);
    const tmp = `${file}.${randomUUID()}.tmp`;
    try {
      await writeDurable(tmp, [encodeFileObjectHeader(header), body]);
      if (createOnly) {
        // link() fails when the name exists, so a loser never replaces (nor touches) the winner.
        try {
          await fs.link(tmp, file);
        } catch (err) {
          if ((err as { code?: string }).code === 'EEXIST') throw conflict(url);
          throw err;
        }
      } else await fs.rename(tmp, file);
    } finally {
      await fs.rm(tmp, { force: true });
    }
    await fsyncDir(dir);
  }

  override async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    await this.ensureBucket();
    this.fileCounters.requests++;
    const file = this.pathOf(key);
    const url = this.urlOf(key);
    const result: PutResult = { sizeBytes: body.length, crc32c: crc32c(body) };
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      if (options.createOnly && (await exists(file))) throw conflict(url);
      await this.publish(file, {
        url,
        header: {
          sizeBytes: body.length,
          crc32c: result.crc32c,
          metadata: options.metadata ?? {},
          storageClass: options.storageClass,
          tags: options.tags,
        },
        body,
        createOnly: options.createOnly === true,
      });
    } catch (err) {
      throw err instanceof TidemarkError ? err : ioError('put', file, err);
    }
    this.fileCounters.bytesUploaded += body.length;
    return result;
  }

  override async putChunks(
    key: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const parts: Uint8Array[] = [];
    for await (const c of chunks) parts.push(c);
    return this.put(key, Buffer.concat(parts), options);
  }

  override async putFile(key: string, file: string, options: PutOptions = {}): Promise<PutResult> {
    return this.put(key, await fs.readFile(file), options);
  }

  override async get(key: string, maxBytes: number): Promise<Uint8Array> {
    await this.ensureBucket();
    this.fileCounters.requests++;
    const file = this.pathOf(key);
    const url = this.urlOf(key);
    const h = await this.openExisting(key);
    let found: Found;
    let body: Buffer;
    try {
      found = await this.readFound(h, key);
      const bodyBytes = found.fileBytes - found.bodyOffset;
      if (bodyBytes > maxBytes)
        throw new TidemarkError(
          'TIDEMARK_LIMIT',
          `${url} is ${bodyBytes} bytes, more than the ${maxBytes} allowed`,
          {
            path: url,
          },
        );
      body = await pread(h, bodyBytes, found.bodyOffset);
    } catch (err) {
      throw ioError('read', file, err);
    } finally {
      await h.close();
    }
    const meta = found.header ?? (await this.readSidecar(key));
    if (meta !== undefined && (meta.sizeBytes !== body.length || meta.crc32c !== crc32c(body)))
      throw corruption(url, found.bodyOffset, 'object does not match the size and CRC32C recorded with it');
    this.fileCounters.bytesDownloaded += body.length;
    return body;
  }

  override async tagsOf(key: string): Promise<Record<string, string>> {
    const info = await this.head(key);
    if (info === undefined)
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.urlOf(key)} does not exist`, {
        path: this.urlOf(key),
      });
    return info.tags;
  }

  /** Size of the body of the object file `file` (one small read of its header's fixed part). */
  private async bodySizeOf(file: string, key: string): Promise<number | undefined> {
    let h: fs.FileHandle;
    try {
      h = await fs.open(file, 'r');
    } catch (err) {
      if (isMissing(err)) return undefined; // deleted while listing
      throw ioError('open', file, err);
    }
    try {
      const { size } = await h.stat();
      const prefix = await pread(h, Math.min(size, FILE_OBJECT_PREFIX_BYTES), 0);
      return hasFileObjectMagic(prefix) ? size - fileObjectHeaderLength(prefix, size, this.urlOf(key)) : size;
    } catch (err) {
      throw ioError('read', file, err);
    } finally {
      await h.close();
    }
  }

  override async list(prefix: string): Promise<ObjectInfo[]> {
    await this.ensureBucket();
    this.fileCounters.requests++;
    const found: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw ioError('readdir', dir, err);
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (key === META_DIR) continue;
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix) || prefix === '')
            await walk(path.join(dir, e.name), key);
        } else if (e.isFile() && !e.name.endsWith('.tmp') && key.startsWith(prefix)) {
          const sizeBytes = await this.bodySizeOf(path.join(dir, e.name), key);
          if (sizeBytes !== undefined) found.push({ key, sizeBytes });
        }
      }
    };
    await walk(this.root, '');
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  override async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.fileCounters.requests++;
      try {
        await fs.rm(this.pathOf(key), { force: true });
        await fs.rm(this.sidecarOf(key), { force: true });
      } catch (err) {
        throw ioError('delete', this.pathOf(key), err);
      }
    }
  }

  /**
   * Records a new storage class and tags for `key` (a file system has no tiers; tools report
   * them): the object is rewritten whole with its new header (temporary file + rename), its body,
   * size, CRC32C and metadata kept. An object of the earlier layout is converted (its sidecar's
   * metadata moves into the header; without a sidecar its CRC32C is computed now). Rejects
   * `TIDEMARK_NOT_FOUND`, `TIDEMARK_CORRUPTION` (a damaged header), `TIDEMARK_IO`.
   */
  override async rewriteClass(
    key: string,
    options: Pick<PutOptions, 'storageClass' | 'tags'>,
  ): Promise<void> {
    await this.ensureBucket();
    this.fileCounters.requests++;
    const file = this.pathOf(key);
    const url = this.urlOf(key);
    const h = await this.openExisting(key);
    let found: Found;
    let body: Buffer;
    try {
      found = await this.readFound(h, key);
      body = await pread(h, found.fileBytes - found.bodyOffset, found.bodyOffset);
    } catch (err) {
      throw ioError('read', file, err);
    } finally {
      await h.close();
    }
    // The recorded CRC32C is carried over, never recomputed: a body damaged on disk stays detected.
    const old = found.header ??
      (await this.readSidecar(key)) ?? { sizeBytes: body.length, crc32c: crc32c(body), metadata: {} };
    try {
      await this.publish(file, {
        url,
        header: { ...old, storageClass: options.storageClass, tags: options.tags },
        body,
        createOnly: false,
      });
      if (found.header === undefined) await fs.rm(this.sidecarOf(key), { force: true });
    } catch (err) {
      throw err instanceof TidemarkError ? err : ioError('rewrite', file, err);
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

function conflict(url: string): TidemarkError {
  return new TidemarkError('TIDEMARK_CONFLICT', `${url} already exists: another writer created it first`, {
    path: url,
  });
}

/** The storage of `config`: a directory (`directory` set, `file://` URLs) or an S3-compatible store. */
export function createObjectStorage(config: ObjectStoreConfig): S3ObjectStorage {
  return config.directory !== undefined ? new FileObjectStorage(config) : new S3ObjectStorage(config);
}
