/**
 * `FileObjectStorage`: the object-store operations tidemark needs, on a directory of a local or
 * mounted file system (`file:///path` stores). Useful for a shared volume (NFS, a mounted disk)
 * and for running everything the object store does without a server.
 *
 * Same guarantees as {@link S3ObjectStorage}, by file-system means:
 * - an object is written to a temporary file, fdatasync'ed, then published — create-only by
 *   `link()` (fails when the name exists: of two racing writers exactly one wins, as
 *   `If-None-Match: *`), otherwise by `rename()` — and its directory is fsync'ed;
 * - its CRC32C, size and metadata go to a sidecar (`.meta/<key>.json`), written first; every read
 *   checks length and CRC32C (`TIDEMARK_CORRUPTION` on a mismatch).
 *
 * It extends `S3ObjectStorage` so that every place taking a storage takes this one too; it
 * overrides every operation, and never loads the AWS SDK. Storage classes and tags are kept in
 * the sidecar (a file system has no tiers; they are recorded so that tools report them).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { corruption, ioError, TidemarkError } from '../errors.js';
import { crc32c } from '../format/crc32c.js';
import type { ObjectStoreConfig } from './object-store-config.js';
import { type ObjectInfo, type PutOptions, type PutResult, S3ObjectStorage } from './s3-object-storage.js';

const META_DIR = '.meta';

interface Sidecar {
  sizeBytes: number;
  crc32c: number;
  metadata: Record<string, string>;
  storageClass?: string | undefined;
  tags?: Record<string, string> | undefined;
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function writeDurable(file: string, body: Uint8Array): Promise<void> {
  const h = await fs.open(file, 'w');
  try {
    await h.writeFile(body);
    await h.datasync();
  } finally {
    await h.close();
  }
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

  private async readSidecar(key: string): Promise<Sidecar | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.sidecarOf(key), 'utf8')) as Sidecar;
    } catch {
      return undefined;
    }
  }

  override async head(key: string) {
    this.fileCounters.requests++;
    let size: number;
    try {
      size = (await fs.stat(this.pathOf(key))).size;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw ioError('stat', this.pathOf(key), err);
    }
    const meta = await this.readSidecar(key);
    return {
      key,
      sizeBytes: size,
      crc32c: meta?.crc32c,
      upload: undefined,
      metadata: meta?.metadata ?? {},
      storageClass: meta?.storageClass,
      tags: meta?.tags ?? {},
    };
  }

  override async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    await this.ensureBucket();
    this.fileCounters.requests++;
    const file = this.pathOf(key);
    const result: PutResult = { sizeBytes: body.length, crc32c: crc32c(body) };
    const dir = path.dirname(file);
    const sidecar = this.sidecarOf(key);
    const sideDir = path.dirname(sidecar);
    try {
      await fs.mkdir(dir, { recursive: true });
      await fs.mkdir(sideDir, { recursive: true });
      if (options.createOnly && (await this.head(key)) !== undefined) throw conflict(this.urlOf(key));
      const tmp = `${file}.${randomUUID()}.tmp`;
      await writeDurable(tmp, body);
      if (options.createOnly) {
        try {
          await fs.link(tmp, file);
        } catch (err) {
          await fs.rm(tmp, { force: true });
          if ((err as { code?: string }).code === 'EEXIST') throw conflict(this.urlOf(key));
          throw err;
        }
        await fs.rm(tmp, { force: true });
      } else await fs.rename(tmp, file);
      await fsyncDir(dir);
      // The sidecar after the object, by the writer that published it (a loser of a create-only
      // race never gets here). A crash in between leaves an object without its sidecar (read
      // unchecked here; checkpoint files and archived segments carry their own checksums) or,
      // for an overwritten hint (`latest`), a stale one: read as damaged, and a damaged hint is
      // ignored.
      const meta: Sidecar = {
        sizeBytes: body.length,
        crc32c: result.crc32c,
        metadata: options.metadata ?? {},
        storageClass: options.storageClass,
        tags: options.tags,
      };
      const sideTmp = `${sidecar}.${randomUUID()}.tmp`;
      await writeDurable(sideTmp, Buffer.from(JSON.stringify(meta)));
      await fs.rename(sideTmp, sidecar);
      await fsyncDir(sideDir);
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
    let bytes: Buffer;
    try {
      const { size } = await fs.stat(file);
      if (size > maxBytes)
        throw new TidemarkError(
          'TIDEMARK_LIMIT',
          `${this.urlOf(key)} is ${size} bytes, more than the ${maxBytes} allowed`,
          {
            path: this.urlOf(key),
          },
        );
      bytes = await fs.readFile(file);
    } catch (err) {
      if (err instanceof TidemarkError) throw err;
      if ((err as { code?: string }).code === 'ENOENT')
        throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.urlOf(key)} does not exist`, {
          path: this.urlOf(key),
          cause: err,
        });
      throw ioError('read', file, err);
    }
    const meta = await this.readSidecar(key);
    if (meta !== undefined && (meta.sizeBytes !== bytes.length || meta.crc32c !== crc32c(bytes)))
      throw corruption(this.urlOf(key), 0, 'object does not match the size and CRC32C recorded with it');
    this.fileCounters.bytesDownloaded += bytes.length;
    return bytes;
  }

  override async tagsOf(key: string): Promise<Record<string, string>> {
    const info = await this.head(key);
    if (info === undefined)
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.urlOf(key)} does not exist`, {
        path: this.urlOf(key),
      });
    return info.tags;
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
        if ((err as { code?: string }).code === 'ENOENT') return;
        throw ioError('readdir', dir, err);
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (key === META_DIR) continue;
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix) || prefix === '')
            await walk(path.join(dir, e.name), key);
        } else if (e.isFile() && !e.name.endsWith('.tmp') && key.startsWith(prefix)) {
          const { size } = await fs.stat(path.join(dir, e.name));
          found.push({ key, sizeBytes: size });
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

  /** Records a new storage class and tags for `key` (a file system has no tiers; tools report them). */
  override async rewriteClass(
    key: string,
    options: Pick<PutOptions, 'storageClass' | 'tags'>,
  ): Promise<void> {
    const meta = await this.readSidecar(key);
    if (meta === undefined)
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.urlOf(key)} does not exist (or has no sidecar)`, {
        path: this.urlOf(key),
      });
    const next: Sidecar = { ...meta, storageClass: options.storageClass, tags: options.tags };
    const sidecar = this.sidecarOf(key);
    const tmp = `${sidecar}.${randomUUID()}.tmp`;
    await writeDurable(tmp, Buffer.from(JSON.stringify(next)));
    await fs.rename(tmp, sidecar);
    await fsyncDir(path.dirname(sidecar));
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
