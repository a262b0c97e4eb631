import type {
  Directory,
  DirectoryFile,
  DirectoryLock,
  OpenMode,
  OpenOptions,
} from '../../src/io/directory.ts';

/** Wraps a directory so that the Nth fdatasync on any file fails with EIO. */
export class FailingSyncDirectory implements Directory {
  syncCalls = 0;
  constructor(
    private readonly inner: Directory,
    private readonly failOnSync: number,
  ) {}
  get path() {
    return this.inner.path;
  }
  list() {
    return this.inner.list();
  }
  exists(name: string) {
    return this.inner.exists(name);
  }
  async open(name: string, mode: OpenMode, options?: OpenOptions): Promise<DirectoryFile> {
    const file = await this.inner.open(name, mode, options);
    const owner = this;
    return {
      path: file.path,
      dsync: file.dsync,
      size: () => file.size(),
      read: (b, o, l, p) => file.read(b, o, l, p),
      write: (b, o, l, p) => file.write(b, o, l, p),
      truncate: (l) => file.truncate(l),
      close: () => file.close(),
      async datasync() {
        owner.syncCalls++;
        if (owner.syncCalls === owner.failOnSync)
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        return file.datasync();
      },
    };
  }
  readFile(name: string, max: number) {
    return this.inner.readFile(name, max);
  }
  writeFileAtomic(name: string, data: Uint8Array) {
    return this.inner.writeFileAtomic(name, data);
  }
  remove(names: readonly string[]) {
    return this.inner.remove(names);
  }
  sync() {
    return this.inner.sync();
  }
  subdirectory(name: string) {
    return this.inner.subdirectory(name);
  }
  listSubdirectories() {
    return this.inner.listSubdirectories();
  }
  removeSubdirectory(name: string) {
    return this.inner.removeSubdirectory(name);
  }
  lock(): Promise<DirectoryLock> {
    return this.inner.lock();
  }
}
