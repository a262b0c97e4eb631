/**
 * The `Directory` seam (the `durability` crate's `Directory`): the only way tidemark touches
 * files. `FsDirectory` is the real one; `MemoryDirectory` keeps everything in memory; a
 * fault-injecting directory (for crash tests) implements the same interface.
 *
 * All names are plain file names inside the directory (no `/`). Every method that changes the
 * directory's entries (create, rename, remove) makes that change durable with a directory fsync
 * before it resolves, unless documented otherwise.
 */

import { TidemarkError } from '../errors.js';

/** An open file inside a {@link Directory}. Offsets and lengths are in bytes. */
export interface DirectoryFile {
  /** Full path, for error messages. */
  readonly path: string;
  /**
   * True when the file was opened with `{ dsync: true }`: every `write` returns only once its
   * data (and the size change) is on stable storage, as if followed by fdatasync (O_DSYNC).
   */
  readonly dsync: boolean;
  /** Current size of the file in bytes. Rejects with `TIDEMARK_IO`. */
  size(): Promise<number>;
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; resolves the count read. */
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /**
   * Writes all `length` bytes of `buffer[offset..]` at `position` (short writes are retried
   * until complete). Rejects with `TIDEMARK_IO` or `TIDEMARK_NO_SPACE`.
   */
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /**
   * Optional: writes every byte of `buffers`, in order, at `position` with vectored writes
   * (pwritev(2); short writes are retried until complete), so data spread over several buffers
   * — a batch header and the records it covers, still in Ring 1's shared arena — reaches the
   * file without being copied together first. Same errors as {@link write}. Without it, callers
   * write the buffers one by one.
   */
  writev?(buffers: readonly Uint8Array[], position: number): Promise<void>;
  /** fdatasync(2): data and the size change reach stable storage. Rejects with `TIDEMARK_IO`. */
  datasync(): Promise<void>;
  /** Cuts or extends the file to `length` bytes (not synced; call `datasync`). */
  truncate(length: number): Promise<void>;
  /** Closes the descriptor. Idempotent. */
  close(): Promise<void>;
}

/** How to open a file: `read` (must exist), `write` (must exist, read-write), `create` (must not exist). */
export type OpenMode = 'read' | 'write' | 'create';

/** Options of {@link Directory.open}. */
export interface OpenOptions {
  /** Open with O_DSYNC: each write is durable when it returns (no separate fdatasync needed). */
  dsync?: boolean;
}

/** A held exclusive lock on a directory; released by {@link DirectoryLock.release}. */
export interface DirectoryLock {
  /** Releases the lock, so the directory can be locked again. */
  release(): Promise<void>;
}

/** A directory of files, the storage seam of every tidemark component. */
export interface Directory {
  /** The directory's path (or a label for in-memory directories), for error messages. */
  readonly path: string;
  /** File names in the directory (no subdirectories), unsorted. */
  list(): Promise<string[]>;
  /** True when the file exists. */
  exists(name: string): Promise<boolean>;
  /**
   * Opens a file. `create` fails with `TIDEMARK_IO` if it exists, and makes the new entry
   * durable (directory fsync) before resolving. `read`/`write` reject with
   * `TIDEMARK_NOT_FOUND` when the file is missing.
   */
  open(name: string, mode: OpenMode, options?: OpenOptions): Promise<DirectoryFile>;
  /** Reads a whole file. Rejects with `TIDEMARK_LIMIT` when it is larger than `maxBytes`. */
  readFile(name: string, maxBytes: number): Promise<Uint8Array>;
  /**
   * Atomically replaces `name` with `data`: write a temporary file, fdatasync it, rename it over
   * `name`, fsync the directory. After a crash the file holds the old or the new bytes, never a mix.
   */
  writeFileAtomic(name: string, data: Uint8Array): Promise<void>;
  /** Removes files (missing ones are ignored), then fsyncs the directory once. */
  remove(names: readonly string[]): Promise<void>;
  /**
   * rename(2) of file `from` to `to` (replacing `to` if it exists), then an fsync of the
   * directory, so the new name is durable when it resolves. Rejects with `TIDEMARK_NOT_FOUND`
   * when `from` is missing, `TIDEMARK_IO` otherwise. Optional: a directory without it gets no
   * preallocated WAL segments (the log creates each segment the plain way).
   */
  rename?(from: string, to: string): Promise<void>;
  /** fsync(2) of the directory itself, making creates, renames and unlinks durable. */
  sync(): Promise<void>;
  /** A subdirectory, created (and made durable in this directory) when missing. */
  subdirectory(name: string): Promise<Directory>;
  /** Names of the subdirectories, unsorted. */
  listSubdirectories(): Promise<string[]>;
  /**
   * Removes a subdirectory and everything in it (missing is not an error), then fsyncs this
   * directory. Files go first, so a crash midway leaves a directory that lists fewer files.
   */
  removeSubdirectory(name: string): Promise<void>;
  /**
   * Takes the exclusive writer lock of the data directory this directory belongs to: a `wal/`
   * directory and its `core-<n>/` logs share the lock of the directory that holds them, so one
   * data directory has one lock however it is opened. A second
   * lock, from this thread, another thread or another process, fails at once with
   * `TIDEMARK_LOCKED`.
   */
  lock(): Promise<DirectoryLock>;
}

/** A per-core log directory inside a WAL root (`core-<n>`). */
const CORE_DIR_NAME = /^core-\d+$/;
/** The WAL directory of a data directory. */
const WAL_DIR_NAME = 'wal';

/**
 * How many levels above a directory its lock lives, given the names on its path (last = its
 * own). A `core-<n>` directory is part of the per-core WAL root above it, and a `wal` directory
 * is part of the data directory above it — so `d/wal/core-3`, `d/wal` and `d` all lock `d`.
 * The top of the path (a root, or an in-memory directory with no parent) is never passed.
 */
export function lockLevelsUp(names: readonly string[]): number {
  let i = names.length - 1;
  if (i > 0 && CORE_DIR_NAME.test(names[i]!)) i--;
  while (i > 0 && names[i] === WAL_DIR_NAME) i--;
  return names.length - 1 - i;
}

/** Rejects names that could escape the directory. */
export function checkFileName(dir: string, name: string): void {
  if (name.length === 0 || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `invalid file name ${JSON.stringify(name)} in ${dir}`,
      {
        path: dir,
      },
    );
  }
}
