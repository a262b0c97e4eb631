/**
 * `MemoryDirectory`: a {@link Directory} held in memory (the durability crate's
 * `MemoryDirectory`). Every write is immediately "durable"; use it for fast unit tests and for
 * state that need not outlive the process. Crash simulation lives in the fault-injecting directory.
 */
import { TidemarkError } from '../errors.js';
import {
  checkFileName,
  type Directory,
  type DirectoryFile,
  type DirectoryLock,
  lockLevelsUp,
  type OpenMode,
} from './directory.js';

interface MemoryNode {
  data: Uint8Array;
  length: number;
}

class MemoryFile implements DirectoryFile {
  private closed = false;
  readonly dsync = false;
  constructor(
    readonly path: string,
    private readonly node: MemoryNode,
    private readonly writable: boolean,
  ) {}

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
    const end = position + length;
    this.reserve(end);
    this.node.data.set(buffer.subarray(offset, offset + length), position);
    if (end > this.node.length) this.node.length = end;
  }

  async datasync(): Promise<void> {
    this.check();
  }

  async truncate(length: number): Promise<void> {
    this.check();
    this.reserve(length);
    if (length > this.node.length) this.node.data.fill(0, this.node.length, length);
    this.node.length = length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private reserve(end: number): void {
    if (end <= this.node.data.length) return;
    const grown = new Uint8Array(Math.max(end, this.node.data.length * 2, 4096));
    grown.set(this.node.data.subarray(0, this.node.length));
    this.node.data = grown;
  }
}

/**
 * An in-memory {@link Directory}.
 *
 * Threads: in-memory and not shared: one thread (a worker cannot see it).
 */
export class MemoryDirectory implements Directory {
  private readonly files = new Map<string, MemoryNode>();
  private readonly children = new Map<string, MemoryDirectory>();
  private locked = false;
  /** The directory this one was made by (`subdirectory`), for finding the lock's owner. */
  private parent: MemoryDirectory | undefined;

  constructor(readonly path = 'memory:') {}

  private node(name: string): MemoryNode {
    checkFileName(this.path, name);
    const node = this.files.get(name);
    if (!node) throw new TidemarkError('TIDEMARK_NOT_FOUND', `${this.path}/${name} does not exist`);
    return node;
  }

  async list(): Promise<string[]> {
    return [...this.files.keys()];
  }

  async exists(name: string): Promise<boolean> {
    checkFileName(this.path, name);
    return this.files.has(name);
  }

  async open(name: string, mode: OpenMode): Promise<DirectoryFile> {
    checkFileName(this.path, name);
    const p = `${this.path}/${name}`;
    if (mode === 'create') {
      if (this.files.has(name)) throw new TidemarkError('TIDEMARK_IO', `${p} already exists`, { path: p });
      const node = { data: new Uint8Array(0), length: 0 };
      this.files.set(name, node);
      return new MemoryFile(p, node, true);
    }
    return new MemoryFile(p, this.node(name), mode === 'write');
  }

  async readFile(name: string, maxBytes: number): Promise<Uint8Array> {
    const node = this.node(name);
    if (node.length > maxBytes) {
      throw new TidemarkError('TIDEMARK_LIMIT', `${this.path}/${name} is over the cap of ${maxBytes} bytes`);
    }
    return node.data.slice(0, node.length);
  }

  async writeFileAtomic(name: string, data: Uint8Array): Promise<void> {
    checkFileName(this.path, name);
    this.files.set(name, { data: data.slice(), length: data.length });
  }

  async remove(names: readonly string[]): Promise<void> {
    for (const name of names) this.files.delete(name);
  }

  async rename(from: string, to: string): Promise<void> {
    const node = this.node(from);
    checkFileName(this.path, to);
    this.files.delete(from);
    this.files.set(to, node);
  }

  async sync(): Promise<void> {}

  async subdirectory(name: string): Promise<Directory> {
    checkFileName(this.path, name);
    let child = this.children.get(name);
    if (!child) {
      child = new MemoryDirectory(`${this.path}/${name}`);
      child.parent = this;
      this.children.set(name, child);
    }
    return child;
  }

  async listSubdirectories(): Promise<string[]> {
    return [...this.children.keys()];
  }

  async removeSubdirectory(name: string): Promise<void> {
    checkFileName(this.path, name);
    this.children.delete(name);
  }

  async lock(): Promise<DirectoryLock> {
    // The lock lives on the data directory this one belongs to (see `lockLevelsUp`).
    const chain: MemoryDirectory[] = [];
    for (let d: MemoryDirectory | undefined = this; d; d = d.parent) chain.unshift(d);
    const names = chain.map((d, i) => (i === 0 ? d.path : d.path.slice(d.path.lastIndexOf('/') + 1)));
    const owner = chain[chain.length - 1 - lockLevelsUp(names)]!;
    if (owner.locked) {
      throw new TidemarkError('TIDEMARK_LOCKED', `${owner.path} is locked by another writer`, {
        path: owner.path,
      });
    }
    owner.locked = true;
    return {
      release: async () => {
        owner.locked = false;
      },
    };
  }
}
