/**
 * `SimulatedDisk`: an in-memory file system that remembers, per file, which bytes are durable
 * (fdatasync'ed) and, per directory, which entries are durable (directory fsync'ed) — the model
 * behind SQLite's crash-test VFS, RocksDB's `FaultInjectionTestFS` and Jepsen's
 * lost-unfsynced-writes. What the process sees is the *volatile* view; a crash keeps only the
 * *durable* view, plus whatever the crash variant lets through of the rest:
 *
 * - `drop-unsynced`: every unsynced byte is lost (the minimum POSIX promises);
 * - `keep-prefix`: a random prefix of each file's unsynced writes reached the disk, in order;
 * - `torn-512` / `torn-4096`: unsynced writes reach the disk sector by sector; a random subset of
 *   sectors survives, and a torn sector holds zeros or garbage;
 * - with `dirOps: 'keep'` unsynced creates, renames and unlinks survive (ext4 often does this);
 *   with `'undo'` (default) they are undone.
 *
 * Every mutating call (create, write, truncate, fdatasync, rename, unlink, mkdir, rmdir,
 * directory fsync) is numbered. `beforeCall` sees each one before it happens — the moment a
 * crash image taken there describes — and `faults` make chosen calls fail (EIO, ENOSPC, short
 * writes), once or from then on. An fdatasync that fails loses that file's unsynced writes for
 * good, as Linux does after marking the pages clean (PostgreSQL's "fsyncgate").
 */

import { mulberry32 } from './prng.js';

/** What a crash lets through of what was not made durable. */
export type CrashVariant = 'drop-unsynced' | 'keep-prefix' | 'torn-512' | 'torn-4096';

/** Every crash variant. */
export const CRASH_VARIANTS: readonly CrashVariant[] = [
  'drop-unsynced',
  'keep-prefix',
  'torn-512',
  'torn-4096',
];

/** Options of {@link SimulatedDisk.crashImage}. */
export interface CrashOptions {
  /** What the crash lets through of the unsynced writes (see {@link CRASH_VARIANTS}). */
  variant: CrashVariant;
  /** Seed of the variant's random choices. Default 1. */
  seed?: number;
  /** Unsynced directory operations: undone (default) or kept. */
  dirOps?: 'undo' | 'keep';
}

/** Kinds of numbered calls. */
export type DiskCallKind =
  | 'create'
  | 'write'
  | 'truncate'
  | 'datasync'
  | 'rename'
  | 'unlink'
  | 'mkdir'
  | 'rmdir'
  | 'dirsync';

/** A numbered call about to happen. */
export interface DiskCall {
  /** 1-based number of this call on this disk. */
  n: number;
  /** What the call does (write, fsync, rename, …). */
  kind: DiskCallKind;
  /** Path of the file or directory it touches. */
  path: string;
}

/** A fault to inject. */
export interface FaultRule {
  /** Which calls: by kind (default any), number (default any from `fromCall`), path substring. */
  kind?: DiskCallKind;
  /** Fails exactly call number `atCall`… */
  atCall?: number;
  /** …or every matching call from this number on. */
  fromCall?: number;
  /** Only calls whose path contains this substring. Default: any path. */
  pathIncludes?: string;
  /** `EIO`, `ENOSPC`, or `short` (a write that stores half its bytes, then fails with ENOSPC). */
  error: 'EIO' | 'ENOSPC' | 'short';
  /** Fail once (default) or every matching call from then on. */
  repeat?: 'once' | 'always';
}

/**
 * The error a fault raises: shaped like a node:fs error, so `ioError` types it.
 *
 * Threads: an immutable value.
 */
export class InjectedFault extends Error {
  /** The errno name, as node:fs errors carry it: `EIO` or `ENOSPC`. */
  readonly code: string;
  constructor(code: 'EIO' | 'ENOSPC', call: DiskCall) {
    super(`${code}: injected fault at call ${call.n} (${call.kind} ${call.path})`);
    this.code = code;
  }
}

type UnsyncedOp =
  | { kind: 'write'; position: number; bytes: Uint8Array }
  | { kind: 'truncate'; length: number };

/**
 * A file: its volatile bytes, its durable bytes, and the writes in between.
 *
 * Threads: part of a `SimulatedDisk`: its thread only.
 */
export class FileNode {
  readonly kind = 'file';
  data: Uint8Array;
  length: number;
  durableData: Uint8Array;
  durableLength: number;
  unsynced: UnsyncedOp[] = [];

  constructor(data: Uint8Array = new Uint8Array(0), length = data.length) {
    this.data = data;
    this.length = length;
    this.durableData = data.slice(0, length);
    this.durableLength = length;
  }

  write(bytes: Uint8Array, position: number): void {
    const end = position + bytes.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2, 4096));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    if (position > this.length) this.data.fill(0, this.length, position);
    this.data.set(bytes, position);
    if (end > this.length) this.length = end;
    this.unsynced.push({ kind: 'write', position, bytes: new Uint8Array(bytes) }); // a copy, never a view
  }

  truncate(length: number): void {
    if (length > this.data.length) {
      const grown = new Uint8Array(length);
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    if (length > this.length) this.data.fill(0, this.length, length);
    this.length = length;
    this.unsynced.push({ kind: 'truncate', length });
  }

  sync(): void {
    this.durableData = this.data.slice(0, this.length);
    this.durableLength = this.length;
    this.unsynced = [];
  }

  /** After a failed fdatasync: what was unsynced never becomes durable (pages marked clean). */
  loseUnsynced(): void {
    this.unsynced = [];
  }
}

/**
 * A directory: its volatile entries and its durable entries.
 *
 * Threads: part of a `SimulatedDisk`: its thread only.
 */
export class DirNode {
  readonly kind = 'dir';
  entries = new Map<string, FileNode | DirNode>();
  durableEntries = new Map<string, FileNode | DirNode>();
  locked = false;

  sync(): void {
    this.durableEntries = new Map(this.entries);
  }
}

/**
 * An in-memory disk with crash images and fault injection (see the module comment).
 *
 * Threads: not thread-safe: one thread (a worker cannot see it).
 */
export class SimulatedDisk {
  /** The disk's root directory node (what {@link FaultInjectingDirectory.root} opens). */
  readonly root: DirNode;
  /** Mutating calls so far. */
  calls = 0;
  /** Called before each mutating call; may throw to stop the run there. */
  beforeCall: ((call: DiskCall) => void) | undefined;
  /** Faults to inject (checked in order; a `once` rule is removed when it fires). */
  readonly faults: FaultRule[] = [];
  /** Faults injected so far. */
  readonly injected: DiskCall[] = [];
  /**
   * A disk that lies: fdatasync succeeds without making anything durable (some consumer drives
   * with a volatile write cache do this). For checking that a test notices lost acknowledged writes.
   */
  lyingSync = false;

  constructor(root = new DirNode()) {
    this.root = root;
  }

  /**
   * Numbers a call, runs `beforeCall`, and throws the fault it must fail with, if any. Returns
   * the fault kind `short` for a short write (the caller stores half and then throws).
   */
  call(kind: DiskCallKind, path: string): 'short' | undefined {
    const call: DiskCall = { n: ++this.calls, kind, path };
    this.beforeCall?.(call);
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i]!;
      if (f.kind !== undefined && f.kind !== kind) continue;
      if (f.atCall !== undefined && f.atCall !== call.n) continue;
      if (f.fromCall !== undefined && call.n < f.fromCall) continue;
      if (f.pathIncludes !== undefined && !path.includes(f.pathIncludes)) continue;
      if ((f.repeat ?? 'once') === 'once') this.faults.splice(i, 1);
      this.injected.push(call);
      if (f.error === 'short') return 'short';
      throw new InjectedFault(f.error, call);
    }
    return undefined;
  }

  /** The disk as it would be found after a power cut now (see {@link CrashVariant}). */
  crashImage(options: CrashOptions): SimulatedDisk {
    const random = mulberry32(options.seed ?? 1);
    const keepDirOps = options.dirOps === 'keep';
    const files = new Map<FileNode, FileNode>();
    const copyFile = (f: FileNode): FileNode => {
      let copy = files.get(f);
      if (copy) return copy;
      copy = new FileNode(survivingBytes(f, options.variant, random));
      files.set(f, copy);
      return copy;
    };
    const copyDir = (d: DirNode): DirNode => {
      const copy = new DirNode();
      for (const [name, node] of keepDirOps ? d.entries : d.durableEntries) {
        copy.entries.set(name, node.kind === 'file' ? copyFile(node) : copyDir(node));
      }
      copy.sync();
      return copy;
    };
    return new SimulatedDisk(copyDir(this.root));
  }

  /** Bytes of every file, by path (volatile view), for inspection in tests. */
  snapshot(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    const walk = (d: DirNode, prefix: string) => {
      for (const [name, node] of d.entries) {
        if (node.kind === 'file') out.set(`${prefix}${name}`, node.data.slice(0, node.length));
        else walk(node, `${prefix}${name}/`);
      }
    };
    walk(this.root, '');
    return out;
  }
}

/** The bytes of `f` after a crash, by variant. */
function survivingBytes(f: FileNode, variant: CrashVariant, random: () => number): Uint8Array {
  const base = new FileNode(f.durableData.slice(), f.durableLength);
  base.unsynced = [];
  if (variant === 'drop-unsynced' || f.unsynced.length === 0) return base.data.slice(0, base.length);
  if (variant === 'keep-prefix') {
    const keep = Math.floor(random() * (f.unsynced.length + 1));
    for (const op of f.unsynced.slice(0, keep)) {
      if (op.kind === 'write') base.write(op.bytes, op.position);
      else base.truncate(op.length);
    }
    return base.data.slice(0, base.length);
  }
  // Torn: sizes change as written, but each sector of each unsynced write survives or not, and a
  // sector that does not is zeros or garbage where the write had put data.
  const sector = variant === 'torn-512' ? 512 : 4096;
  for (const op of f.unsynced) {
    if (op.kind === 'truncate') {
      base.truncate(op.length);
      continue;
    }
    const bytes = op.bytes.slice();
    const first = Math.floor(op.position / sector);
    const last = Math.floor((op.position + bytes.length - 1) / sector);
    for (let s = first; s <= last; s++) {
      const from = Math.max(0, s * sector - op.position);
      const to = Math.min(bytes.length, (s + 1) * sector - op.position);
      const fate = random();
      if (fate < 0.5) continue; // the sector made it
      if (fate < 0.75) bytes.fill(0, from, to);
      else for (let i = from; i < to; i++) bytes[i] = Math.floor(random() * 256);
    }
    base.write(bytes, op.position);
  }
  return base.data.slice(0, base.length);
}
