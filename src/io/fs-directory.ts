/**
 * `FsDirectory`: the real {@link Directory} on node:fs. fdatasync for file data, fsync of the
 * directory after every create, rename and unlink, atomic replace by tmp → fdatasync → rename →
 * directory fsync (the durability crate's `FsDirectory`; the rename protocol of SQLite's and
 * RocksDB's CURRENT/MANIFEST files).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ioError, TidemarkError } from '../errors.js';
import { checkPath } from '../validation.js';
import {
  checkFileName,
  type Directory,
  type DirectoryFile,
  type DirectoryLock,
  lockLevelsUp,
  type OpenMode,
  type OpenOptions,
} from './directory.js';
import { acquireFsLock } from './fs-lock.js';

/** Suffix of temporary files written by `writeFileAtomic`; never a live file. */
export const TEMP_SUFFIX = '.tmp';

function fsyncPath(dirPath: string): void {
  const fd = fs.openSync(dirPath, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function syncDirectory(dirPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dirPath, 'r', (openErr, fd) => {
      if (openErr) return reject(ioError('open directory', dirPath, openErr));
      fs.fsync(fd, (syncErr) => {
        fs.close(fd, (closeErr) => {
          const err = syncErr ?? closeErr;
          if (err) reject(ioError('fsync directory', dirPath, err));
          else resolve();
        });
      });
    });
  });
}

class FsFile implements DirectoryFile {
  private closed = false;
  constructor(
    readonly path: string,
    private readonly fd: number,
    readonly dsync: boolean,
  ) {}

  size(): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.fstat(this.fd, (err, st) => (err ? reject(ioError('fstat', this.path, err)) : resolve(st.size)));
    });
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.read(this.fd, buffer, offset, length, position, (err, n) =>
        err ? reject(ioError('read', this.path, err)) : resolve(n),
      );
    });
  }

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (off: number, len: number, pos: number): void => {
        fs.write(this.fd, buffer, off, len, pos, (err, n) => {
          if (err) return reject(ioError('write', this.path, err));
          if (n === len) return resolve();
          if (n === 0) return reject(ioError('write', this.path, new Error('wrote 0 bytes')));
          step(off + n, len - n, pos + n);
        });
      };
      step(offset, length, position);
    });
  }

  writev(buffers: readonly Uint8Array[], position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (list: readonly Uint8Array[], pos: number): void => {
        let len = 0;
        for (const b of list) len += b.length;
        if (len === 0) {
          resolve();
          return;
        }
        fs.writev(this.fd, list as Uint8Array[], pos, (err, n) => {
          if (err) return reject(ioError('write', this.path, err));
          if (n === len) return resolve();
          if (n === 0) return reject(ioError('write', this.path, new Error('wrote 0 bytes')));
          // A short write: go on with what is left (the rest of a buffer, then the next ones).
          const rest: Uint8Array[] = [];
          let skip = n;
          for (const b of list) {
            if (skip >= b.length) skip -= b.length;
            else {
              rest.push(skip > 0 ? b.subarray(skip) : b);
              skip = 0;
            }
          }
          step(rest, pos + n);
        });
      };
      step(buffers, position);
    });
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.fd, (err) => (err ? reject(ioError('fdatasync', this.path, err)) : resolve()));
    });
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.ftruncate(this.fd, length, (err) =>
        err ? reject(ioError('ftruncate', this.path, err)) : resolve(),
      );
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve, reject) => {
      fs.close(this.fd, (err) => (err ? reject(ioError('close', this.path, err)) : resolve()));
    });
  }
}

/**
 * The node:fs {@link Directory}. The directory is created (and made durable) when missing.
 *
 * Threads: use an instance from the thread that opened it; other threads open their own
 * `FsDirectory` on the same path. Its `lock()` is one writer per directory across threads and
 * processes.
 */
export class FsDirectory implements Directory {
  private constructor(readonly path: string) {}

  /**
   * Opens a directory that must already exist, creating nothing (read-only recovery of a
   * mistyped path must not leave directories behind). Throws `TIDEMARK_NOT_FOUND` when it is
   * missing or not a directory.
   */
  static async openExisting(dirPath: string): Promise<FsDirectory> {
    const abs = path.resolve(checkPath('dirPath', dirPath));
    let isDir = false;
    try {
      isDir = fs.statSync(abs).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('stat', abs, err);
    }
    if (!isDir) {
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `${abs} is not an existing directory`, { path: abs });
    }
    return new FsDirectory(abs);
  }

  /**
   * Opens (creating when missing, with an fsync of each created parent) the directory at
   * `dirPath`. Throws `TIDEMARK_IO` when it cannot be created.
   */
  static async open(dirPath: string): Promise<FsDirectory> {
    const abs = path.resolve(checkPath('dirPath', dirPath));
    try {
      ensureDirectory(abs);
    } catch (err) {
      throw ioError('mkdir', abs, err);
    }
    return new FsDirectory(abs);
  }

  private file(name: string): string {
    checkFileName(this.path, name);
    return path.join(this.path, name);
  }

  /** Names of the entries that `keep` accepts. */
  private async entries(keep: (e: fs.Dirent) => boolean): Promise<string[]> {
    try {
      const entries = await fs.promises.readdir(this.path, { withFileTypes: true });
      return entries.filter(keep).map((e) => e.name);
    } catch (err) {
      throw ioError('readdir', this.path, err);
    }
  }

  list(): Promise<string[]> {
    return this.entries((e) => e.isFile());
  }

  async exists(name: string): Promise<boolean> {
    try {
      await fs.promises.stat(this.file(name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError('stat', this.file(name), err);
    }
  }

  async open(name: string, mode: OpenMode, options: OpenOptions = {}): Promise<DirectoryFile> {
    const p = this.file(name);
    const dsync = options.dsync === true && mode !== 'read';
    const access =
      mode === 'read'
        ? fs.constants.O_RDONLY
        : mode === 'write'
          ? fs.constants.O_RDWR
          : fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL;
    const flags = access | (dsync ? fs.constants.O_DSYNC : 0);
    let fd: number;
    try {
      fd = await new Promise<number>((resolve, reject) =>
        fs.open(p, flags, 0o644, (err, f) => (err ? reject(err) : resolve(f))),
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TidemarkError('TIDEMARK_NOT_FOUND', `${p} does not exist`, { path: p, cause: err });
      }
      throw ioError(`open (${mode})`, p, err);
    }
    if (mode === 'create') await syncDirectory(this.path);
    return new FsFile(p, fd, dsync);
  }

  async readFile(name: string, maxBytes: number): Promise<Uint8Array> {
    const p = this.file(name);
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(p, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TidemarkError('TIDEMARK_NOT_FOUND', `${p} does not exist`, { path: p, cause: err });
      }
      throw ioError('open', p, err);
    }
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) {
        throw new TidemarkError('TIDEMARK_LIMIT', `${p} is ${size} bytes, over the cap of ${maxBytes}`, {
          path: p,
        });
      }
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await handle.read(buf, got, size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } catch (err) {
      throw ioError('read', p, err);
    } finally {
      await handle.close();
    }
  }

  async writeFileAtomic(name: string, data: Uint8Array): Promise<void> {
    const target = this.file(name);
    const tmp = `${target}${TEMP_SUFFIX}`;
    try {
      const handle = await fs.promises.open(tmp, 'w', 0o644);
      try {
        await handle.writeFile(data);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(tmp, target);
    } catch (err) {
      throw ioError('atomic write', target, err);
    }
    await syncDirectory(this.path);
  }

  async remove(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    for (const name of names) {
      try {
        await fs.promises.unlink(this.file(name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('unlink', this.file(name), err);
      }
    }
    await syncDirectory(this.path);
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.file(from);
    const target = this.file(to);
    try {
      await fs.promises.rename(source, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new TidemarkError('TIDEMARK_NOT_FOUND', `${source} does not exist`, {
          path: source,
          cause: err,
        });
      }
      throw ioError('rename', source, err);
    }
    await syncDirectory(this.path);
  }

  sync(): Promise<void> {
    return syncDirectory(this.path);
  }

  async subdirectory(name: string): Promise<Directory> {
    return FsDirectory.open(this.file(name));
  }

  listSubdirectories(): Promise<string[]> {
    return this.entries((e) => e.isDirectory());
  }

  async removeSubdirectory(name: string): Promise<void> {
    const p = this.file(name);
    try {
      await fs.promises.rm(p, { recursive: true, force: true });
    } catch (err) {
      throw ioError('rm -r', p, err);
    }
    await syncDirectory(this.path);
  }

  async lock(): Promise<DirectoryLock> {
    let target: string;
    try {
      target = fs.realpathSync(this.path);
    } catch (err) {
      throw ioError('realpath', this.path, err);
    }
    for (let up = lockLevelsUp(target.split(path.sep)); up > 0; up--) target = path.dirname(target);
    const lock = acquireFsLock(target);
    await syncDirectory(target);
    return lock;
  }
}

/** mkdir -p, fsyncing the parent of every directory it creates. */
function ensureDirectory(abs: string): void {
  if (fs.existsSync(abs)) return;
  const parent = path.dirname(abs);
  if (parent !== abs) ensureDirectory(parent);
  try {
    fs.mkdirSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return;
  }
  fsyncPath(parent);
}
