/**
 * `CheckpointStore` (the seeds' `checkpoint_store`) and `FileSystemCheckpointStore`: where
 * checkpoints live and how one is published atomically.
 *
 * Layout (docs/FORMAT.md): one directory per checkpoint, `checkpoint-<16 digits>/`, holding its
 * data files and `manifest.json`, plus a `latest` pointer next to them.
 *
 * Publish order inside the store: a fresh checkpoint directory (made durable in its parent) →
 * each data file written, fdatasync'ed, closed → `manifest.json` by atomic write (the commit
 * point: it names every file's size and CRC32C) → `latest` pointer by atomic write. A directory
 * without a manifest is a half-written checkpoint — never loaded, removed by `cleanupOrphans()`.
 * Loading trusts nothing: every file is checked against the manifest, and the `latest` pointer
 * is only a hint.
 */
import { corruption, isTidemarkError, TidemarkError } from '../errors.js';
import {
  type CheckpointFileEntry,
  type CheckpointManifest,
  decodeManifest,
  encodeManifest,
} from '../format/checkpoint-manifest.js';
import {
  CHECKPOINT_BASE_FILE_NAME,
  CHECKPOINT_DELTA_FILE_NAME,
  CHECKPOINT_DIR_PREFIX,
  CHECKPOINT_HIGHEST_ID_NAME,
  CHECKPOINT_ID_DIGITS,
  CHECKPOINT_LATEST_POINTER_NAME,
  CHECKPOINT_MANIFEST_NAME,
  CHECKPOINT_OPERATORS_FILE_NAME,
  MAX_MANIFEST_BYTES,
  MAX_OPERATORS_FILE_BYTES,
  MAX_STATE_FILE_BYTES,
} from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import type { Codecs, CompressionSpec, ResolvedCompression } from '../io/codecs.js';
import type { Directory, DirectoryFile } from '../io/directory.js';
import { TEMP_SUFFIX } from '../io/fs-directory.js';
import { checkDirectoryArgument } from '../validation.js';
import { emitCheckpointStep } from './checkpoint-events.js';
import { decodeLocalFile, encodeLocalFile, resolveLocalCompression } from './local-compression.js';

/** `checkpoint-0000000000000007` */
export function checkpointName(id: number): string {
  return `${CHECKPOINT_DIR_PREFIX}${String(id).padStart(CHECKPOINT_ID_DIGITS, '0')}`;
}
const CHECKPOINT_RE = new RegExp(`^${CHECKPOINT_DIR_PREFIX}(\\d{${CHECKPOINT_ID_DIGITS}})$`);
/**
 * Files of the retired flat layout (manifest major version 1): `checkpoint-N.manifest.json` and
 * `checkpoint-N.state` side by side, N written with any number of digits.
 */
const FLAT_V1_RE = new RegExp(`^${CHECKPOINT_DIR_PREFIX}\\d+\\.(manifest\\.json|state)$`);

/** Parses a checkpoint directory name; undefined when it is not one. */
export function parseCheckpointName(name: string): number | undefined {
  const m = CHECKPOINT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

const KNOWN_FILES: Record<CheckpointFileEntry['role'], { name: string; maxBytes: number }> = {
  base: { name: CHECKPOINT_BASE_FILE_NAME, maxBytes: MAX_STATE_FILE_BYTES },
  delta: { name: CHECKPOINT_DELTA_FILE_NAME, maxBytes: MAX_STATE_FILE_BYTES },
  operators: { name: CHECKPOINT_OPERATORS_FILE_NAME, maxBytes: MAX_OPERATORS_FILE_BYTES },
};

/** File name a data file of `role` has. */
export function checkpointFileName(role: CheckpointFileEntry['role']): string {
  return KNOWN_FILES[role].name;
}

/**
 * Most bytes to read for `file`: its size in the manifest, capped by its role's limit. Throws
 * `TIDEMARK_CORRUPTION` when the manifest names a file its role does not allow.
 */
export function checkpointFileLimit(path: string, file: CheckpointFileEntry): number {
  const known = KNOWN_FILES[file.role];
  if (file.name !== known.name) throw corruption(path, 0, `manifest names a foreign ${file.role} file`);
  return Math.min(known.maxBytes, file.sizeBytes);
}

/** A file the manifest names is gone: corruption at byte 0, `cause` the underlying error itself. */
function missingFile(path: string, err: TidemarkError): TidemarkError {
  // `cause` is the underlying error (node:fs ENOENT, or the store's), one level deep.
  return new TidemarkError(
    'TIDEMARK_CORRUPTION',
    `${path} at byte 0: file named by the manifest is missing`,
    {
      path,
      offset: 0,
      cause: err.cause ?? err,
    },
  );
}

/**
 * Reads a data file through `read` (which rejects `TIDEMARK_LIMIT` past the limit and
 * `TIDEMARK_NOT_FOUND` when missing) and checks it against the manifest: size and CRC32C.
 * Every store's `readFile` ends here, so every store reports damage the same way.
 */
export async function verifyCheckpointFile(
  path: string,
  file: CheckpointFileEntry,
  read: () => Promise<Uint8Array>,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await read();
  } catch (err) {
    if (isTidemarkError(err, 'TIDEMARK_LIMIT'))
      throw corruption(
        path,
        file.sizeBytes,
        `file is longer than the ${file.sizeBytes} bytes the manifest says`,
      );
    if (isTidemarkError(err, 'TIDEMARK_NOT_FOUND')) throw missingFile(path, err);
    throw err;
  }
  if (bytes.length !== file.sizeBytes)
    throw corruption(
      path,
      bytes.length,
      `file is ${bytes.length} bytes, the manifest says ${file.sizeBytes}`,
    );
  if (crc32c(bytes) !== file.crc32c) throw corruption(path, 0, 'file checksum differs from the manifest');
  return bytes;
}

/**
 * Reads an open-able file in chunks of at most `chunkBytes`, checking its size against the
 * manifest before the first chunk and its CRC32C after the last (`TIDEMARK_CORRUPTION`, as
 * {@link verifyCheckpointFile}).
 */
export async function* readVerifiedChunks(
  path: string,
  file: CheckpointFileEntry,
  source: { open: () => Promise<DirectoryFile>; chunkBytes: number },
): AsyncGenerator<Uint8Array> {
  let handle: DirectoryFile;
  try {
    handle = await source.open();
  } catch (err) {
    if (isTidemarkError(err, 'TIDEMARK_NOT_FOUND')) throw missingFile(path, err);
    throw err;
  }
  try {
    const size = await handle.size();
    if (size !== file.sizeBytes)
      throw corruption(path, size, `file is ${size} bytes, the manifest says ${file.sizeBytes}`);
    let sum = 0;
    for (let position = 0; position < size; ) {
      const chunk = Buffer.allocUnsafe(Math.min(source.chunkBytes, size - position));
      let got = 0;
      while (got < chunk.length) {
        const n = await handle.read(chunk, got, chunk.length - got, position + got);
        if (n === 0) throw corruption(path, position + got, 'file shrank while being read');
        got += n;
      }
      sum = crc32c(chunk, 0, chunk.length, sum);
      position += chunk.length;
      if (position === size && sum !== file.crc32c)
        throw corruption(path, 0, 'file checksum differs from the manifest');
      yield chunk;
    }
  } finally {
    await handle.close();
  }
}

/** Parses the `latest` pointer's bytes (`checkpoint-<16 digits>\n`). */
export function parseLatestPointer(bytes: Uint8Array): LatestPointer {
  const text = Buffer.from(bytes).toString('utf8');
  const id = text.endsWith('\n') ? parseCheckpointName(text.slice(0, -1)) : undefined;
  return id ?? 'corrupt';
}

/** The `latest` pointer's bytes for checkpoint `id`. */
export function encodeLatestPointer(id: number): Uint8Array {
  return Buffer.from(`${checkpointName(id)}\n`);
}

/** Checks a loaded manifest against the id it was loaded as (`TIDEMARK_CORRUPTION`). */
export function decodeManifestOf(id: number, bytes: Uint8Array, path: string): CheckpointManifest {
  const manifest = decodeManifest(bytes, path);
  if (manifest.id !== id) throw corruption(path, 0, `manifest says id ${manifest.id}`);
  return manifest;
}

/**
 * The id floor: the highest of `ids`, the `latest` pointer and the burned id (`highest-id`), 0
 * when none. The next id is one above it, so an id is never handed out twice — not even one of
 * a half-written checkpoint that was removed. Unreadable pointers count as absent.
 */
export function highestIdOf(ids: Iterable<number>, latest: LatestPointer, burned: LatestPointer): number {
  let max = 0;
  for (const id of ids) max = Math.max(max, id);
  if (typeof latest === 'number') max = Math.max(max, latest);
  if (typeof burned === 'number') max = Math.max(max, burned);
  return max;
}

/** Reads a pointer-shaped file (`latest`, `highest-id`) through `read`: its id, `missing` or `corrupt`. */
export async function readPointer(read: () => Promise<Uint8Array>): Promise<LatestPointer> {
  try {
    return parseLatestPointer(await read());
  } catch (err) {
    if (isTidemarkError(err, 'TIDEMARK_NOT_FOUND')) return 'missing';
    if (isTidemarkError(err, 'TIDEMARK_LIMIT') || isTidemarkError(err, 'TIDEMARK_CORRUPTION'))
      return 'corrupt';
    throw err;
  }
}

/** A data file to write: its role and its bytes, as chunks (sync or async). */
export interface CheckpointDataFile {
  /** What the file holds (base or delta state file, operators' sidecar). */
  role: CheckpointFileEntry['role'];
  /** The file's bytes, in order, in chunks of any size. */
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** A checkpoint to publish: the manifest without its file list, and the data files. */
export interface CheckpointDraft {
  /** The manifest, less the file list and total size the store fills in. */
  manifest: Omit<CheckpointManifest, 'files' | 'sizeBytes'>;
  /** The data files to write before the manifest. */
  files: CheckpointDataFile[];
  /** Called with the complete manifest after the data files are written, before it is committed (to fill in sizes). */
  beforeCommit?: (manifest: CheckpointManifest) => void;
}

/** What the `latest` pointer says: a checkpoint id, or why there is none. */
export type LatestPointer = number | 'missing' | 'corrupt';

/**
 * Where checkpoints are kept. Every store passes the same conformance tests. Only the single
 * writer of a data directory calls `save`, `remove` and `cleanupOrphans`, one at a time.
 */
export interface CheckpointStore {
  /** Where the store is (a path or URL), for messages. */
  readonly location: string;
  /** Ids of checkpoints whose manifest exists (valid or not), ascending. */
  list(): Promise<number[]>;
  /**
   * Id the next checkpoint should use: one above every id present (complete or not), the
   * `latest` pointer and every id burned by `cleanupOrphans` — ids never repeat.
   */
  nextId(): Promise<number>;
  /**
   * Publishes a checkpoint durably and atomically; returns the manifest as written (with `files`
   * and `sizeBytes` filled in). Rejects with `TIDEMARK_INVALID_ARGUMENT` when the id exists,
   * `TIDEMARK_IO` / `TIDEMARK_NO_SPACE` on I/O failure — the checkpoint is then not published.
   */
  save(draft: CheckpointDraft): Promise<CheckpointManifest>;
  /** Reads and checks a manifest. Rejects with `TIDEMARK_NOT_FOUND`, `TIDEMARK_CORRUPTION`, `TIDEMARK_UNSUPPORTED_VERSION`. */
  loadManifest(id: number): Promise<CheckpointManifest>;
  /** Reads a data file named by `manifest`, checking its size and CRC32C (`TIDEMARK_CORRUPTION`, `TIDEMARK_NOT_FOUND`). */
  readFile(manifest: CheckpointManifest, file: CheckpointFileEntry): Promise<Uint8Array>;
  /**
   * Optional: reads a data file named by `manifest` as chunks of at most `chunkBytes` (bounded
   * memory), checking its size and CRC32C as the last chunk is handed out (`TIDEMARK_CORRUPTION`,
   * so a consumer must not act on the data before the iteration ends). Stores without it are
   * read whole through `readFile` (see `checkpointFileChunks`).
   */
  readFileChunks?(
    manifest: CheckpointManifest,
    file: CheckpointFileEntry,
    chunkBytes: number,
  ): AsyncIterable<Uint8Array>;
  /** What the `latest` pointer names. */
  readLatestPointer(): Promise<LatestPointer>;
  /** Deletes checkpoints: each manifest first, so a crash midway leaves an orphan, never half a checkpoint. */
  remove(ids: readonly number[]): Promise<void>;
  /**
   * Removes half-written checkpoints (no manifest) and temporary files; returns what it removed.
   * The highest removed id is first made durable as burned (`highest-id`), so it is never reused.
   */
  cleanupOrphans(): Promise<string[]>;
}

/** Path of a file inside a checkpoint, for messages. */
export function checkpointFilePath(store: CheckpointStore, id: number, name: string): string {
  return `${store.location}/${checkpointName(id)}/${name}`;
}

/** Options of a {@link FileSystemCheckpointStore}. */
export interface FileSystemCheckpointStoreOptions {
  /**
   * Codec of the data files this store writes: a codec name (`'zstd'`, `'lz4'`, `'brotli'`,
   * `'deflate'`), `{ codec, level }`, or `'none'` / `false` / undefined for plain files (the
   * default). A compressed file is a checked frame (docs/FORMAT.md, "Compressed objects") and
   * its manifest entry records `codec` and `uncompressedBytes`. Compressing holds the whole file
   * in memory while it is written and read (see src/checkpoint/local-compression.ts). Reading
   * never depends on this option: each file's manifest entry says how it was written.
   * A malformed value is `TIDEMARK_INVALID_ARGUMENT`.
   */
  compression?: CompressionSpec | false | undefined;
  /** The codecs to use (default: the shared ones; tests inject a missing package). */
  codecs?: Codecs | undefined;
}

/**
 * A {@link CheckpointStore} in a {@link Directory} (a local folder, or memory).
 *
 * Threads: one writer (`save`, `remove`, `cleanupOrphans`) at a time, from the thread that owns
 * the data directory; readers in other threads or processes open their own instance (a checkpoint
 * without its manifest is never loaded).
 */
export class FileSystemCheckpointStore implements CheckpointStore {
  /** Codec of the data files written (`none`: plain files). */
  readonly compression: ResolvedCompression;
  private readonly codecs: Codecs | undefined;

  /**
   * `dir`: the checkpoint directory; anything but a `Directory` is `TIDEMARK_INVALID_ARGUMENT`,
   * as is a malformed `options.compression` (see {@link FileSystemCheckpointStoreOptions}).
   */
  constructor(
    /** The checkpoint directory: one subdirectory per checkpoint, and the `latest` pointer. */
    readonly dir: Directory,
    options: FileSystemCheckpointStoreOptions = {},
  ) {
    checkDirectoryArgument('dir', dir);
    this.compression = resolveLocalCompression('checkpoint.compression', options?.compression);
    this.codecs = options?.codecs;
  }

  get location(): string {
    return this.dir.path;
  }

  /** Checkpoint directories present (complete or not), by id. */
  private async directories(): Promise<Map<number, string>> {
    const found = new Map<number, string>();
    for (const name of await this.dir.listSubdirectories()) {
      const id = parseCheckpointName(name);
      if (id !== undefined) found.set(id, name);
    }
    return found;
  }

  async list(): Promise<number[]> {
    const flat = (await this.dir.list()).find((n) => FLAT_V1_RE.test(n));
    if (flat !== undefined) {
      throw new TidemarkError(
        'TIDEMARK_UNSUPPORTED_VERSION',
        `${this.dir.path}/${flat}: checkpoints in the flat layout of manifest version 1 are no longer read`,
        { path: `${this.dir.path}/${flat}` },
      );
    }
    const ids: number[] = [];
    for (const [id, name] of await this.directories()) {
      if (await (await this.dir.subdirectory(name)).exists(CHECKPOINT_MANIFEST_NAME)) ids.push(id);
    }
    return ids.sort((a, b) => a - b);
  }

  async nextId(): Promise<number> {
    const burned = await readPointer(() => this.dir.readFile(CHECKPOINT_HIGHEST_ID_NAME, 256));
    return highestIdOf((await this.directories()).keys(), await this.readLatestPointer(), burned) + 1;
  }

  async save(draft: CheckpointDraft): Promise<CheckpointManifest> {
    const id = draft.manifest.id;
    const name = checkpointName(id);
    if ((await this.directories()).has(id)) {
      const existing = await this.dir.subdirectory(name);
      if (await existing.exists(CHECKPOINT_MANIFEST_NAME)) {
        throw new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `checkpoint ${id} already exists in ${this.dir.path}`,
        );
      }
      await this.dir.removeSubdirectory(name); // a half-written attempt at the same id
    }
    const sub = await this.dir.subdirectory(name);
    const files: CheckpointFileEntry[] = [];
    for (const file of draft.files) {
      const fileName = checkpointFileName(file.role);
      // Compressed: the whole file is framed first (one write); plain: streamed chunk by chunk.
      const framed =
        this.compression.codec === 'none'
          ? undefined
          : await encodeLocalFile(file.chunks, this.compression, this.codecs);
      const handle = await sub.open(fileName, 'create');
      let position = 0;
      let sum = 0;
      try {
        for await (const chunk of framed ? [framed.bytes] : file.chunks) {
          await handle.write(chunk, 0, chunk.length, position);
          sum = crc32c(chunk, 0, chunk.length, sum);
          position += chunk.length;
        }
        emitCheckpointStep('file-written', id, { file: fileName, kind: draft.manifest.kind });
        await handle.datasync();
        emitCheckpointStep('file-synced', id, { file: fileName, kind: draft.manifest.kind });
      } finally {
        await handle.close();
      }
      files.push(
        framed
          ? { name: fileName, role: file.role, ...framed.entry }
          : { name: fileName, role: file.role, sizeBytes: position, crc32c: sum },
      );
    }
    const manifest: CheckpointManifest = {
      ...draft.manifest,
      files,
      sizeBytes: files.reduce((s, f) => s + f.sizeBytes, 0),
    };
    draft.beforeCommit?.(manifest);
    await sub.writeFileAtomic(CHECKPOINT_MANIFEST_NAME, encodeManifest(manifest));
    emitCheckpointStep('manifest-committed', id, { kind: manifest.kind });
    await this.dir.writeFileAtomic(CHECKPOINT_LATEST_POINTER_NAME, encodeLatestPointer(id));
    emitCheckpointStep('pointer-updated', id, { kind: manifest.kind });
    return manifest;
  }

  async loadManifest(id: number): Promise<CheckpointManifest> {
    const name = checkpointName(id);
    const path = `${this.dir.path}/${name}/${CHECKPOINT_MANIFEST_NAME}`;
    if (!(await this.directories()).has(id)) {
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `checkpoint ${id} does not exist in ${this.dir.path}`, {
        path,
      });
    }
    const sub = await this.dir.subdirectory(name);
    let bytes: Uint8Array;
    try {
      bytes = await sub.readFile(CHECKPOINT_MANIFEST_NAME, MAX_MANIFEST_BYTES);
    } catch (err) {
      if (isTidemarkError(err, 'TIDEMARK_LIMIT'))
        throw corruption(path, 0, 'manifest larger than any valid one');
      throw err;
    }
    return decodeManifestOf(id, bytes, path);
  }

  async readFile(manifest: CheckpointManifest, file: CheckpointFileEntry): Promise<Uint8Array> {
    const name = checkpointName(manifest.id);
    const path = `${this.dir.path}/${name}/${file.name}`;
    const limit = checkpointFileLimit(path, file);
    const sub = await this.dir.subdirectory(name);
    const stored = await verifyCheckpointFile(path, file, () => sub.readFile(file.name, limit));
    return decodeLocalFile(stored, {
      path,
      file,
      maxBytes: KNOWN_FILES[file.role].maxBytes,
      codecs: this.codecs,
    });
  }

  async *readFileChunks(
    manifest: CheckpointManifest,
    file: CheckpointFileEntry,
    chunkBytes: number,
  ): AsyncGenerator<Uint8Array> {
    const name = checkpointName(manifest.id);
    const path = `${this.dir.path}/${name}/${file.name}`;
    checkpointFileLimit(path, file);
    if (file.codec !== undefined) {
      // A frame is checked and decompressed whole (memory: the frame plus its content), then
      // handed out in chunks: nothing is yielded before every check passed.
      const content = await this.readFile(manifest, file);
      for (let at = 0; at < content.length; at += chunkBytes)
        yield content.subarray(at, Math.min(content.length, at + chunkBytes));
      return;
    }
    const sub = await this.dir.subdirectory(name);
    yield* readVerifiedChunks(path, file, { open: () => sub.open(file.name, 'read'), chunkBytes });
  }

  async readLatestPointer(): Promise<LatestPointer> {
    return readPointer(() => this.dir.readFile(CHECKPOINT_LATEST_POINTER_NAME, 256));
  }

  async remove(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      const name = checkpointName(id);
      const sub = await this.dir.subdirectory(name);
      await sub.remove([CHECKPOINT_MANIFEST_NAME]);
      await this.dir.removeSubdirectory(name);
    }
  }

  /**
   * Names in the checkpoint directory that are none of its own (checkpoint directories, their
   * data files and manifest, `latest`, `highest-id`), relative to it. Half-written files
   * (`*.tmp`) are included: `cleanupOrphans` removes them. Recovery ignores every one of them;
   * `verify` reports them as warnings.
   */
  async strays(): Promise<string[]> {
    const own = new Set([CHECKPOINT_LATEST_POINTER_NAME, CHECKPOINT_HIGHEST_ID_NAME]);
    const dirs = await this.directories();
    const dirNames = new Set(dirs.values());
    const found: string[] = [];
    for (const name of await this.dir.list())
      if (!own.has(name) && !dirNames.has(name) && !FLAT_V1_RE.test(name)) found.push(name);
    for (const name of await this.dir.listSubdirectories()) if (!dirNames.has(name)) found.push(`${name}/`);
    const dataFiles = new Set([CHECKPOINT_MANIFEST_NAME, ...Object.values(KNOWN_FILES).map((f) => f.name)]);
    for (const name of dirs.values()) {
      for (const file of await (await this.dir.subdirectory(name)).list())
        if (!dataFiles.has(file)) found.push(`${name}/${file}`);
    }
    return found.sort();
  }

  async cleanupOrphans(): Promise<string[]> {
    const removed: string[] = [];
    const directories = await this.directories();
    const orphans: number[] = [];
    for (const [id, name] of directories)
      if (!(await (await this.dir.subdirectory(name)).exists(CHECKPOINT_MANIFEST_NAME))) orphans.push(id);
    if (orphans.length > 0) {
      // Burn the orphans' ids durably before they disappear: ids never repeat.
      const floor = await this.nextId();
      await this.dir.writeFileAtomic(CHECKPOINT_HIGHEST_ID_NAME, encodeLatestPointer(floor - 1));
    }
    for (const [id, name] of directories) {
      const sub = await this.dir.subdirectory(name);
      if (orphans.includes(id)) {
        await this.dir.removeSubdirectory(name);
        removed.push(name);
      } else {
        const temps = (await sub.list()).filter((f) => f.endsWith(TEMP_SUFFIX));
        if (temps.length > 0) {
          await sub.remove(temps);
          removed.push(...temps.map((t) => `${name}/${t}`));
        }
      }
    }
    const temps = (await this.dir.list()).filter((f) => f.endsWith(TEMP_SUFFIX));
    if (temps.length > 0) {
      await this.dir.remove(temps);
      removed.push(...temps);
    }
    return removed;
  }
}
