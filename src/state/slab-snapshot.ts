/**
 * A point-in-time read view of a {@link SlabStore}.
 *
 * Its reads do not change while the store is written: it holds the root of the tree as it was,
 * and the store copies a page before changing it while any snapshot may see it. Memory cost while
 * it lives: the index pages written since it was taken (at most one root-to-leaf path, ~2 KiB per
 * level, per write; many writes to the same pages share copies) and the slabs compaction evacuated
 * since (kept until release, as the snapshot's records may be in them). Both are freed by
 * `release()`; reading after `release()` throws `TIDEMARK_CLOSED`. Release every snapshot: an
 * unreleased one keeps that memory for the life of the store.
 */

import { checkKey } from '../validation.js';
import {
  copyValue,
  keysOf,
  rangeBounds,
  releasedError,
  ScanIterator,
  type ScanOptions,
  type ScanSource,
  scanBounds,
} from './slab-cursor.js';
import type { SlabTree } from './slab-tree.js';
import type { StateSnapshot } from './state-backend.js';
import type { StateScan } from './state-scan.js';

/** What the store hands a new snapshot. */
export interface SlabSnapshotInit {
  tree: SlabTree;
  root: number;
  epoch: number;
  size: number;
  sizeBytes: number;
  release: () => void;
}

/**
 * A read-only view of the store as it was when `snapshot()` was called.
 *
 * Threads: not thread-safe: read it in the thread of the store that made it.
 */
export class SlabSnapshot implements StateSnapshot {
  /** Entries at the snapshot's time. */
  readonly size: number;
  /** Key + value bytes at the snapshot's time. */
  readonly sizeBytes: number;
  private released = false;
  private readonly tree: SlabTree;
  private readonly root: number;
  private readonly onRelease: () => void;
  private readonly source: ScanSource;
  private readonly scratch = { buf: Buffer.allocUnsafe(256) };

  /** @internal Only the store makes snapshots: call `SlabStore.snapshot()`. */
  constructor(init: SlabSnapshotInit) {
    this.tree = init.tree;
    this.root = init.root;
    this.size = init.size;
    this.sizeBytes = init.sizeBytes;
    this.onRelease = init.release;
    this.source = {
      pool: init.tree.pool,
      arena: init.tree.arena,
      root: () => this.root,
      version: () => 0,
      check: () => {
        if (this.released) throw releasedError();
      },
    };
  }

  /** A copy of the value `key` had, or `undefined`. */
  get(key: string): Uint8Array | undefined {
    const ref = this.find('get(key)', key);
    return ref < 0 ? undefined : copyValue(this.tree.arena, ref);
  }

  /** True when `key` was held. */
  has(key: string): boolean {
    return this.find('has(key)', key) >= 0;
  }

  /** Entries whose key started with `prefix`, in key order (UTF-8 byte order). */
  prefixScan(prefix: string, options: ScanOptions = {}): StateScan {
    checkKey('prefixScan(prefix)', prefix);
    const p = Buffer.from(prefix, 'utf8');
    return new ScanIterator(this.source, scanBounds({ start: p, prefix: p, limit: options.limit }));
  }

  /** Entries with `start ≤ key < end` (either `undefined` for open), in key order. */
  rangeScan(start: string | undefined, end: string | undefined, options: ScanOptions = {}): StateScan {
    return new ScanIterator(this.source, rangeBounds(start, end, options));
  }

  /** Every entry, in key order. */
  entries(): StateScan {
    return new ScanIterator(this.source, scanBounds({}));
  }

  /** Every key, in key order. */
  keys(): IterableIterator<string> {
    return keysOf(this.entries());
  }

  /** Every entry, in key order. */
  [Symbol.iterator](): StateScan {
    return this.entries();
  }

  /** `using snap = store.snapshot()`: released when the scope ends. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** Frees what the snapshot pins. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }

  private find(argument: string, key: string): number {
    this.source.check();
    checkKey(argument, key);
    if (this.scratch.buf.length < key.length * 3) this.scratch.buf = Buffer.allocUnsafe(key.length * 3);
    const n = this.scratch.buf.write(key, 0, 'utf8');
    return this.tree.find(this.root, this.scratch.buf, n);
  }
}
