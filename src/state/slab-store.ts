/**
 * `SlabStore`: a compact, ordered, in-memory key/value backend with no V8 collection limit.
 *
 * - Keys and values live in byte slabs ({@link SlabArena}): 1 MiB growing to `maxSlabBytes`
 *   (default 64 MiB) `ArrayBuffer`s, not JavaScript objects.
 * - The index is a B+-tree of typed-array pages ({@link SlabTree}) holding record refs.
 * - **Order**: keys are ordered by the unsigned bytes of their UTF-8 encoding. That is the order
 *   of Unicode code points, and differs from JavaScript's `<` on strings (UTF-16 code units) for
 *   astral characters: `'\u{1F600}' < '\uFFFF'` in JS, but `'\uFFFF'` (EF BF BF) sorts before
 *   `'\u{1F600}'` (F0 9F 98 80) here. Every scan uses this order.
 * - `get()` returns a fresh copy (a `Buffer`); no later write can change it.
 * - `snapshot()` is a point-in-time read view (copy-on-write of index pages); see
 *   {@link SlabSnapshot} for its memory cost.
 * - Garbage (overwritten and deleted records) is reclaimed by incremental compaction that puts
 *   and deletes drive: each step scans at most `compaction.stepBytes` of one slab, so no call
 *   pauses longer than that step.
 */
import { assert } from '../errors.js';
import type { StateFileEntryRange } from '../format/state-file.js';
import { checkKey, checkNumber, checkValue, integerOption } from '../validation.js';
import { SlabAppender } from './slab-append.js';
import { SLAB_SPAN, SlabArena } from './slab-arena.js';
import { SlabCompactor } from './slab-compactor.js';
import {
  copyValue,
  keysOf,
  rangeBounds,
  ScanIterator,
  type ScanOptions,
  type ScanSource,
  scanBounds,
} from './slab-cursor.js';
import { PagePool } from './slab-pages.js';
import { SlabSnapshot } from './slab-snapshot.js';
import { SlabTree } from './slab-tree.js';
import type { StateBackend } from './state-backend.js';
import type { StateScan } from './state-scan.js';

/** Options of {@link SlabStore}. */
export interface SlabStoreOptions {
  /** Size of the first slab, bytes (default 1 MiB; 4 KiB .. `maxSlabBytes`). Each next slab doubles up to `maxSlabBytes`. */
  minSlabBytes?: number;
  /** Largest slab, bytes (default 64 MiB; at most 256 MiB). A record larger than this gets a slab of its own. */
  maxSlabBytes?: number;
  /** Incremental compaction: reclaims overwritten and deleted records a bounded step at a time. Defaults per field. */
  compaction?: {
    /** Run compaction steps from `put()`/`delete()` (default true); else call `compactStep()`. */
    auto?: boolean;
    /** A slab is evacuated once at least this fraction of its bytes is garbage (default 0.4; 0.05 .. 0.95). */
    garbageRatio?: number;
    /** Most slab bytes one step scans (default 16 KiB; 256 B .. 64 MiB): the pause bound. */
    stepBytes?: number;
  };
}

/** What {@link SlabStore.stats} reports. */
export interface SlabStoreStats {
  /** Entries. */
  entries: number;
  /** Key + value bytes of the entries (the store's `sizeBytes`). */
  keyValueBytes: number;
  /** Bytes of the records the index points at (key + value + 2..10-byte header each). */
  liveBytes: number;
  /** Bytes of records no entry points at any more (overwritten, deleted), not yet reclaimed. */
  garbageBytes: number;
  /** Slabs allocated. */
  slabCount: number;
  /** Bytes of the slabs allocated (used or not). */
  slabBytes: number;
  /** Index pages in use (the live tree's and those kept for snapshots). */
  indexPages: number;
  /** Bytes of the index page chunks allocated. */
  indexBytes: number;
  /** Live snapshots. */
  snapshots: number;
  /** Bytes compaction copied so far. */
  compactedBytes: number;
}

const encoder = (s: string, into: { buf: Buffer }): number => {
  if (into.buf.length < s.length * 3)
    into.buf = Buffer.allocUnsafe(Math.max(s.length * 3, into.buf.length * 2));
  return into.buf.write(s, 0, 'utf8');
};

/**
 * A compact, ordered, in-memory key/value store (module comment: order, copies, snapshots).
 *
 * Threads: not thread-safe — use from one thread; snapshots and cursors belong to that thread too.
 */
export class SlabStore implements StateBackend {
  /** This backend's name in the `stateBackend` option. */
  readonly kind = 'slab' as const;
  private readonly arena: SlabArena;
  private readonly pool = new PagePool();
  private readonly tree: SlabTree;
  private readonly compactor: SlabCompactor;
  private readonly scratch = { buf: Buffer.allocUnsafe(256) };
  private keyValueBytes = 0;
  /** Head positions when each live snapshot was taken, by epoch: records older are immutable. */
  private readonly marks = new Map<number, number>();
  /** Records at or after this position are seen by no snapshot and may be rewritten in place. */
  private inPlaceFrom = 0;
  private readonly liveSource: ScanSource;
  /**
   * While every entry so far was put in ascending key order into a store created empty (no
   * snapshot, delete or overwrite since): the bulk-load path, which appends at the tree's right
   * edge instead of searching it (a sorted checkpoint base loads this way). Dropped for good by
   * the first write that is not past the last key, and by any other change.
   */
  private appender: SlabAppender | undefined;

  /** Throws `TIDEMARK_INVALID_ARGUMENT` for an option out of range. */
  constructor(options: SlabStoreOptions = {}) {
    const max = integerOption('maxSlabBytes', options.maxSlabBytes, {
      min: 4096,
      max: SLAB_SPAN,
      fallback: 64 * 2 ** 20,
    });
    const min = integerOption('minSlabBytes', options.minSlabBytes, {
      min: 4096,
      max,
      fallback: Math.min(2 ** 20, max),
    });
    const c = options.compaction ?? {};
    const ratio =
      c.garbageRatio === undefined ? 0.4 : checkNumber('compaction.garbageRatio', c.garbageRatio, 0.05, 0.95);
    const step = integerOption('compaction.stepBytes', c.stepBytes, {
      min: 256,
      max: 64 * 2 ** 20,
      fallback: 16 * 1024,
    });
    this.arena = new SlabArena(min, max);
    this.tree = new SlabTree(this.pool, this.arena);
    this.compactor = new SlabCompactor(this.tree, this.arena, {
      garbageRatio: ratio,
      stepBytes: step,
      auto: c.auto !== false,
    });
    const tree = this.tree;
    this.liveSource = {
      pool: this.pool,
      arena: this.arena,
      root: () => tree.root,
      version: () => tree.version,
      check: () => {},
    };
    this.appender = new SlabAppender(this.tree);
  }

  /** Entries held. */
  get size(): number {
    return this.tree.count;
  }

  /** Key (UTF-8) + value bytes held. */
  get sizeBytes(): number {
    return this.keyValueBytes;
  }

  /** A copy of the value of `key`, or `undefined`. Throws `TIDEMARK_INVALID_ARGUMENT` for a malformed key. */
  get(key: string): Uint8Array | undefined {
    checkKey('get(key)', key);
    const n = encoder(key, this.scratch);
    const ref = this.tree.find(this.tree.root, this.scratch.buf, n);
    return ref < 0 ? undefined : copyValue(this.arena, ref);
  }

  /** True when `key` is held. */
  has(key: string): boolean {
    checkKey('has(key)', key);
    const n = encoder(key, this.scratch);
    return this.tree.find(this.tree.root, this.scratch.buf, n) >= 0;
  }

  /**
   * Sets `key` to a copy of `value`. Throws `TIDEMARK_INVALID_ARGUMENT` (key not a well-formed
   * string, value not a `Uint8Array`) or `TIDEMARK_LIMIT` (over the key or record caps) before
   * changing anything.
   */
  put(key: string, value: Uint8Array): void {
    checkKey('put(key)', key);
    checkValue('put(value)', key, value);
    const n = encoder(key, this.scratch);
    this.write(this.scratch.buf, n, value, 0, value.byteLength);
  }

  /** `put()` without the checks, for callers that made them (see `StateBackend.putUnchecked`). */
  putUnchecked(key: string, value: Uint8Array): void {
    const n = encoder(key, this.scratch);
    this.write(this.scratch.buf, n, value, 0, value.byteLength);
  }

  /** `delete()` without the check (see `StateBackend.deleteUnchecked`). */
  deleteUnchecked(key: string): boolean {
    const n = encoder(key, this.scratch);
    return this.remove(this.scratch.buf, n);
  }

  /**
   * Sets the key `bytes[keyStart, keyStart + keyLength)` (well-formed UTF-8: read back from a
   * checksummed file or record, so not checked again) to a copy of
   * `bytes[valueStart, valueStart + valueLength)`. Allocates nothing per call (checkpoint loading
   * and WAL replay go through here).
   */
  putBytes(bytes: Uint8Array, entry: Readonly<StateFileEntryRange>): void {
    const { keyStart, keyLength, valueStart, valueLength } = entry;
    this.write(this.keyInScratch(bytes, keyStart, keyLength), keyLength, bytes, valueStart, valueLength);
  }

  /**
   * {@link putBytes} for a run of entries whose keys the caller has checked to be strictly
   * increasing (a sorted state file, whose reader refuses a key out of order before handing it
   * out), `first` true for the run's first entry. While the store is still bulk-loading (see
   * `appender`), every entry after the first is appended without comparing its key with the last
   * one and without copying it to scratch first; the first is compared as usual, so a run after
   * other keys is still placed right. The run must not be interleaved with other writes.
   */
  putBytesAscending(bytes: Uint8Array, entry: Readonly<StateFileEntryRange>, first: boolean): void {
    const appender = this.appender;
    if (appender !== undefined && !first && this.ascendingRun) {
      const { keyStart, keyLength, valueStart, valueLength } = entry;
      appender.append(this.arena.append(bytes, keyStart, keyLength, bytes, valueStart, valueLength));
      this.keyValueBytes += keyLength + valueLength;
      return;
    }
    this.putBytes(bytes, entry);
    // The run may skip the comparison only while its first key went to the appender.
    this.ascendingRun = this.appender !== undefined;
  }

  /** True while the run of {@link putBytesAscending} in progress appends without comparing. */
  private ascendingRun = false;

  /** Removes the key `bytes[keyStart, keyStart + keyLength)`; true when it was held. */
  deleteBytes(bytes: Uint8Array, keyStart: number, keyLength: number): boolean {
    return this.remove(this.keyInScratch(bytes, keyStart, keyLength), keyLength);
  }

  private keyInScratch(bytes: Uint8Array, keyStart: number, keyLength: number): Buffer {
    if (this.scratch.buf.length < keyLength) this.scratch.buf = Buffer.allocUnsafe(keyLength * 2);
    const buf = this.scratch.buf;
    if (keyLength <= 32) for (let i = 0; i < keyLength; i++) buf[i] = bytes[keyStart + i]!;
    else buf.set(bytes.subarray(keyStart, keyStart + keyLength));
    return buf;
  }

  /** Sets key `buf[0, n)` to a copy of `value[vs, vs + vl)`. */
  private write(buf: Buffer, n: number, value: Uint8Array, vs: number, vl: number): void {
    const tree = this.tree;
    const arena = this.arena;
    const appender = this.appender;
    if (appender !== undefined) {
      if (appender.lastRef < 0 || arena.compare(appender.lastRef, buf, n) < 0) {
        appender.append(arena.append(buf, 0, n, value, vs, vl));
        this.keyValueBytes += n + vl;
        return;
      }
      this.appender = undefined;
    }
    const slot = tree.descend(buf, n);
    if (slot >= 0) {
      const old = tree.leafRef(slot);
      arena.decode(old);
      const oldValueLength = arena.dValueLength;
      if (oldValueLength === vl && arena.position(old) >= this.inPlaceFrom) {
        const at = arena.dKey + arena.dKeyLength;
        arena.dSlab.bytes.set(vs === 0 && vl === value.byteLength ? value : value.subarray(vs, vs + vl), at);
        return;
      }
      const recordLength = arena.dRecordLength;
      const ref = arena.append(buf, 0, n, value, vs, vl);
      tree.setLeafRef(slot, ref);
      tree.replaceSeparators(old, ref);
      arena.kill(old);
      this.keyValueBytes += vl - oldValueLength;
      this.compactor.owe(recordLength);
    } else {
      const ref = arena.append(buf, 0, n, value, vs, vl);
      tree.insert(~slot, ref);
      this.keyValueBytes += n + vl;
    }
  }

  /** Removes `key`; true when it was held. Throws `TIDEMARK_INVALID_ARGUMENT` for a malformed key. */
  delete(key: string): boolean {
    checkKey('delete(key)', key);
    const n = encoder(key, this.scratch);
    return this.remove(this.scratch.buf, n);
  }

  private remove(buf: Buffer, n: number): boolean {
    this.appender = undefined;
    if (this.tree.find(this.tree.root, buf, n) < 0) return false;
    const slot = this.tree.descend(buf, n);
    assert(slot >= 0, 'key found, then not found on the writable path');
    const old = this.tree.leafRef(slot);
    this.arena.decode(old);
    const recordLength = this.arena.dRecordLength;
    this.keyValueBytes -= this.arena.dKeyLength + this.arena.dValueLength;
    this.tree.remove(slot);
    this.arena.kill(old);
    this.compactor.owe(recordLength);
    return true;
  }

  /** Entries whose key starts with `prefix` (UTF-8 bytes), in key order. */
  prefixScan(prefix: string, options: ScanOptions = {}): StateScan {
    checkKey('prefixScan(prefix)', prefix);
    const p = Buffer.from(prefix, 'utf8');
    return new ScanIterator(this.liveSource, scanBounds({ start: p, prefix: p, limit: options.limit }));
  }

  /**
   * Entries with `start ≤ key < end` (start inclusive, end exclusive; either `undefined` for
   * open), in key order. Empty when `end ≤ start`.
   */
  rangeScan(start: string | undefined, end: string | undefined, options: ScanOptions = {}): StateScan {
    return new ScanIterator(this.liveSource, rangeBounds(start, end, options));
  }

  /** Every entry, in key order. */
  entries(): StateScan {
    return new ScanIterator(this.liveSource, scanBounds({}));
  }

  /** Every key, in key order. */
  keys(): IterableIterator<string> {
    return keysOf(this.entries());
  }

  /** Every entry, in key order (`for (const [key, value] of store)`). */
  [Symbol.iterator](): StateScan {
    return this.entries();
  }

  /** A point-in-time read view; call `release()` when done (see {@link SlabSnapshot}). */
  snapshot(): SlabSnapshot {
    this.appender = undefined;
    const mark = this.arena.headPosition();
    const { root, epoch } = this.tree.takeSnapshot();
    this.marks.set(epoch, mark);
    this.inPlaceFrom = mark;
    return new SlabSnapshot({
      tree: this.tree,
      root,
      epoch,
      size: this.tree.count,
      sizeBytes: this.keyValueBytes,
      release: () => this.release(epoch),
    });
  }

  private release(epoch: number): void {
    this.tree.releaseSnapshot(epoch);
    this.marks.delete(epoch);
    const newest = this.tree.epochs.newest;
    this.inPlaceFrom = newest === 0 ? 0 : this.marks.get(newest)!;
    this.compactor.reclaim();
  }

  /** One compaction step of at most `maxBytes` scanned (default `compaction.stepBytes`); returns bytes scanned. */
  compactStep(options: { maxBytes?: number } = {}): number {
    const maxBytes = integerOption('compactStep(maxBytes)', options.maxBytes, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      fallback: this.compactor.stepBytes,
    });
    this.appender = undefined;
    return this.compactor.step(maxBytes);
  }

  /** Compacts until no slab is over the garbage ratio (or, with `all`, holds any garbage). */
  compact(options: { all?: boolean } = {}): void {
    this.appender = undefined;
    this.compactor.compactAll(options.all === true);
  }

  /** Memory figures (see {@link SlabStoreStats}). */
  stats(): SlabStoreStats {
    const a = this.arena;
    return {
      entries: this.tree.count,
      keyValueBytes: this.keyValueBytes,
      liveBytes: a.liveBytes,
      garbageBytes: a.usedBytes - a.liveBytes,
      slabCount: a.slabCount,
      slabBytes: a.allocatedBytes,
      indexPages: this.pool.pageCount,
      indexBytes: this.pool.allocatedBytes,
      snapshots: this.tree.epochs.live.length,
      compactedBytes: this.compactor.copiedBytes,
    };
  }
}
