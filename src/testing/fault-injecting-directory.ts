/**
 * `FaultInjectingDirectory`: a {@link Directory} on a {@link SimulatedDisk}, for crash and fault
 * tests — tidemark's own, and users' tests of code built on tidemark (exported as
 * `tidemark/testing`).
 *
 * It keeps the `Directory` contract step by step, each step a numbered disk call, so a crash can
 * fall between any two: `open(…, 'create')` = create + directory fsync; `writeFileAtomic` =
 * create temp + write + fdatasync + rename + directory fsync; `remove` = unlinks + directory
 * fsync; `subdirectory` (new) = mkdir + parent fsync; `removeSubdirectory` = unlinks + rmdir +
 * parent fsync. Files opened with `dsync` sync each write.
 */
import { ioError, TidemarkError } from '../errors.js';
import {
  checkFileName,
  type Directory,
  type DirectoryFile,
  type DirectoryLock,
  lockLevelsUp,
  type OpenMode,
  type OpenOptions,
} from '../io/directory.js';
import { TEMP_SUFFIX } from '../io/fs-directory.js';
import { DirNode, FileNode, SimulatedDisk } from './simulated-disk.js';

/** An open file of a {@link FaultInjectingDirectory}: its node on the simulated disk and how it was opened. */
interface FaultFileInit {
  disk: SimulatedDisk;
  path: string;
  node: FileNode;
  /** Opened for writing (else writes are refused). */
  writable: boolean;
  /** Every write is followed by a datasync (O_DSYNC). */
  dsync: boolean;
}

class FaultFile implements DirectoryFile {
  private closed = false;
  private readonly disk: SimulatedDisk;
  readonly path: string;
  private readonly node: FileNode;
  private readonly writable: boolean;
  readonly dsync: boolean;

  // Named fields: `writable` and `dsync` are adjacent booleans, easy to swap positionally.
  constructor(init: FaultFileInit) {
    this.disk = init.disk;
    this.path = init.path;
    this.node = init.node;
    this.writable = init.writable;
    this.dsync = init.dsync;
  }

  private check(): void {
    if (this.closed)
      throw new TidemarkError('TIDEMARK_CLOSED', `${this.path} is closed`, { path: this.path });
  }

  async size(): Promise<number> {
    this.check();
    return this.node.length;
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.check();
    const n = Math.max(0, Math.min(length, this.node.length - position));
    buffer.set(this.node.data.subarray(position, position + n), offset);
    return n;
  }

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<void> {
    this.check();
    if (!this.writable)
      throw new TidemarkError('TIDEMARK_IO', `${this.path} is read-only`, { path: this.path });
    let fault: 'short' | undefined;
    try {
      fault = this.disk.call('write', this.path);
    } catch (err) {
      throw ioError('write', this.path, err);
    }
    if (fault === 'short') {
      const half = length >> 1;
      if (half > 0) this.node.write(buffer.subarray(offset, offset + half), position);
      throw ioError(
        'write',
        this.path,
        Object.assign(new Error(`ENOSPC: short write of ${half} of ${length} bytes`), { code: 'ENOSPC' }),
      );
    }
    this.node.write(buffer.subarray(offset, offset + length), position);
    if (this.dsync) await this.datasync();
  }

  async datasync(): Promise<void> {
    this.check();
    try {
      this.disk.call('datasync', this.path);
    } catch (err) {
      this.node.loseUnsynced();
      throw ioError('fdatasync', this.path, err);
    }
    if (!this.disk.lyingSync) this.node.sync();
  }

  async truncate(length: number): Promise<void> {
    this.check();
    try {
      this.disk.call('truncate', this.path);
    } catch (err) {
      throw ioError('ftruncate', this.path, err);
    }
    this.node.truncate(length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * A directory on a {@link SimulatedDisk}; see the module comment.
 *
 * Threads: not thread-safe: the thread of its `SimulatedDisk`.
 */
export class FaultInjectingDirectory implements Directory {
  /** The root directory of `disk` (default: a fresh disk). */
  static root(disk = new SimulatedDisk()): FaultInjectingDirectory {
    return new FaultInjectingDirectory(disk, disk.root, 'fault:');
  }

  private constructor(
    /** The simulated disk under this directory: crash it, add faults, count calls. */
    readonly disk: SimulatedDisk,
    private readonly node: DirNode,
    readonly path: string,
  ) {}

  private attempt<T>(kind: Parameters<SimulatedDisk['call']>[0], path: string, op: string, then: () => T): T {
    try {
      this.disk.call(kind, path);
    } catch (err) {
      throw ioError(op, path, err);
    }
    return then();
  }

  private file(name: string): FileNode {
    checkFileName(this.path, name);
    const node = this.node.entries.get(name);
    if (node?.kind !== 'file')
      throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.path}/${name} does not exist`, {
        path: `${this.path}/${name}`,
      });
    return node;
  }

  async list(): Promise<string[]> {
    return [...this.node.entries].filter(([, n]) => n.kind === 'file').map(([name]) => name);
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(this.path, name);
    return this.node.entries.get(name)?.kind === 'file';
  }

  async open(name: string, mode: OpenMode, options: OpenOptions = {}): Promise<DirectoryFile> {
    checkFileName(this.path, name);
    const p = `${this.path}/${name}`;
    const dsync = options.dsync === true;
    if (mode === 'create') {
      if (this.node.entries.has(name))
        throw new TidemarkError('TIDEMARK_IO', `${p} already exists`, { path: p });
      const node = new FileNode();
      this.attempt('create', p, 'create', () => this.node.entries.set(name, node));
      await this.sync();
      return new FaultFile({ disk: this.disk, path: p, node, writable: true, dsync });
    }
    return new FaultFile({
      disk: this.disk,
      path: p,
      node: this.file(name),
      writable: mode === 'write',
      dsync,
    });
  }

  async readFile(name: string, maxBytes: number): Promise<Uint8Array> {
    const node = this.file(name);
    if (node.length > maxBytes)
      throw new TidemarkError('TIDEMARK_LIMIT', `${this.path}/${name} is over the cap of ${maxBytes} bytes`, {
        path: `${this.path}/${name}`,
      });
    return node.data.slice(0, node.length);
  }

  async writeFileAtomic(name: string, data: Uint8Array): Promise<void> {
    checkFileName(this.path, name);
    const tmpName = `${name}${TEMP_SUFFIX}`;
    const tmp = `${this.path}/${tmpName}`;
    const node = new FileNode();
    this.attempt('create', tmp, 'create', () => this.node.entries.set(tmpName, node));
    const file = new FaultFile({ disk: this.disk, path: tmp, node, writable: true, dsync: false });
    await file.write(data, 0, data.length, 0);
    await file.datasync();
    this.attempt('rename', `${this.path}/${name}`, 'rename', () => {
      this.node.entries.delete(tmpName);
      this.node.entries.set(name, node);
    });
    await this.sync();
  }

  async remove(names: readonly string[]): Promise<void> {
    for (const name of names) {
      checkFileName(this.path, name);
      if (this.node.entries.get(name)?.kind !== 'file') continue;
      this.attempt('unlink', `${this.path}/${name}`, 'unlink', () => this.node.entries.delete(name));
    }
    await this.sync();
  }

  async rename(from: string, to: string): Promise<void> {
    const node = this.file(from);
    checkFileName(this.path, to);
    this.attempt('rename', `${this.path}/${to}`, 'rename', () => {
      this.node.entries.delete(from);
      this.node.entries.set(to, node);
    });
    await this.sync();
  }

  async sync(): Promise<void> {
    this.attempt('dirsync', this.path, 'fsync', () => this.node.sync());
  }

  async subdirectory(name: string): Promise<Directory> {
    checkFileName(this.path, name);
    const p = `${this.path}/${name}`;
    let child = this.node.entries.get(name);
    if (child?.kind === 'file') throw new TidemarkError('TIDEMARK_IO', `${p} is a file`, { path: p });
    if (!child) {
      const created = new DirNode();
      this.attempt('mkdir', p, 'mkdir', () => this.node.entries.set(name, created));
      await this.sync();
      child = created;
    }
    return new FaultInjectingDirectory(this.disk, child, p);
  }

  async listSubdirectories(): Promise<string[]> {
    return [...this.node.entries].filter(([, n]) => n.kind === 'dir').map(([name]) => name);
  }

  async removeSubdirectory(name: string): Promise<void> {
    checkFileName(this.path, name);
    const child = this.node.entries.get(name);
    if (child?.kind !== 'dir') return;
    const sub = new FaultInjectingDirectory(this.disk, child, `${this.path}/${name}`);
    for (const grandchild of await sub.listSubdirectories()) await sub.removeSubdirectory(grandchild);
    for (const file of await sub.list())
      sub.attempt('unlink', `${sub.path}/${file}`, 'unlink', () => child.entries.delete(file));
    this.attempt('rmdir', sub.path, 'rmdir', () => this.node.entries.delete(name));
    await this.sync();
  }

  async lock(): Promise<DirectoryLock> {
    // The lock lives on the data directory this one belongs to (see `lockLevelsUp`).
    const names = this.path.split('/');
    let owner: DirNode = this.disk.root;
    for (const name of names.slice(1, names.length - lockLevelsUp(names))) {
      const next = owner.entries.get(name);
      if (next?.kind !== 'dir')
        throw new TidemarkError('TIDEMARK_IO', `${this.path} is gone`, { path: this.path });
      owner = next;
    }
    if (owner.locked)
      throw new TidemarkError('TIDEMARK_LOCKED', `${this.path} is locked by another writer`, {
        path: this.path,
      });
    owner.locked = true;
    return {
      release: async () => {
        owner.locked = false;
      },
    };
  }
}
