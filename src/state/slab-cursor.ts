/**
 * Ordered scans over the slab store's B+-tree: a root-to-leaf stack (the tree has no sibling
 * links, which copy-on-write could not keep), and the iterator the scans return.
 *
 * A scan of the live store survives writes made while it runs: it remembers the last key it
 * returned and, when the tree changed since (`SlabTree.version`), seeks again to the first key
 * after it. It so sees every key that stays present during the whole scan, once, in order; keys
 * put or deleted during the scan may or may not be seen (as with a `Map`). A scan of a snapshot
 * never re-seeks: its pages do not change until the snapshot is released.
 */
import { assert, TidemarkError } from '../errors.js';
import { checkKey, integerOption } from '../validation.js';
import type { SlabArena } from './slab-arena.js';
import { COUNT, HEADER_WORDS, KIND, LEAF, type PagePool, SEPARATORS } from './slab-pages.js';
import { asyncOver, type StateScan } from './state-scan.js';

const MAX_DEPTH = 40;

/**
 * A position in the tree under one root: the page ids and slot indexes from root to leaf.
 *
 * Threads: not thread-safe: the thread of its store.
 */
export class TreeCursor {
  private readonly ids = new Float64Array(MAX_DEPTH);
  private readonly slots = new Int32Array(MAX_DEPTH);
  private depth = 0;
  /** True when the cursor is past the last key. */
  done = false;

  constructor(
    private readonly pool: PagePool,
    private readonly arena: SlabArena,
  ) {}

  /** Positions at the first key ≥ `q` (`> q` when `strict`), or the first key when `q` is absent. */
  seek(root: number, q: Uint8Array | undefined, qLength: number, strict: boolean): void {
    const pool = this.pool;
    const arena = this.arena;
    this.done = false;
    let id = root;
    for (let d = 0; ; d++) {
      assert(d < MAX_DEPTH, 'tree deeper than MAX_DEPTH');
      this.ids[d] = id;
      const c = pool.chunk(id);
      const b = pool.base(id);
      const n = c[b + COUNT]!;
      let lo = 0;
      if (c[b + KIND] === LEAF) {
        if (q !== undefined) {
          let hi = n;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            const cmp = arena.compare(c[b + HEADER_WORDS + mid]!, q, qLength);
            if (cmp < 0 || (strict && cmp === 0)) lo = mid + 1;
            else hi = mid;
          }
        }
        this.slots[d] = lo;
        this.depth = d;
        this.settle();
        return;
      }
      if (q !== undefined) {
        let hi = n - 1;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (arena.compare(c[b + SEPARATORS + mid]!, q, qLength) <= 0) lo = mid + 1;
          else hi = mid;
        }
      }
      this.slots[d] = lo;
      id = c[b + HEADER_WORDS + lo]!;
    }
  }

  /** The ref under the cursor (call only when not `done`). */
  ref(): number {
    const id = this.ids[this.depth]!;
    return this.pool.chunk(id)[this.pool.base(id) + HEADER_WORDS + this.slots[this.depth]!]!;
  }

  /** Moves to the next key. */
  next(): void {
    this.slots[this.depth]!++;
    this.settle();
  }

  /** Climbs past exhausted pages, then down the leftmost path of the next subtree. */
  private settle(): void {
    const pool = this.pool;
    let d = this.depth;
    for (;;) {
      const id = this.ids[d]!;
      if (this.slots[d]! < pool.chunk(id)[pool.base(id) + COUNT]!) break;
      if (d === 0) {
        this.done = true;
        return;
      }
      d--;
      this.slots[d]!++;
    }
    for (;;) {
      const id = this.ids[d]!;
      const c = pool.chunk(id);
      const b = pool.base(id);
      if (c[b + KIND] === LEAF) break;
      const child = c[b + HEADER_WORDS + this.slots[d]!]!;
      d++;
      this.ids[d] = child;
      this.slots[d] = 0;
      assert(pool.chunk(child)[pool.base(child) + COUNT]! > 0, 'empty page below the root');
    }
    this.depth = d;
  }
}

/** What a scan reads: a root that may move (the live tree) or not (a snapshot). */
export interface ScanSource {
  readonly pool: PagePool;
  readonly arena: SlabArena;
  /** The root to read now. */
  root(): number;
  /** A number that changes whenever `root()`'s pages or refs may have changed. */
  version(): number;
  /** Throws when the source can no longer be read (a released snapshot). */
  check(): void;
}

/** Bounds of a scan, as UTF-8 bytes. */
export interface ScanBounds {
  /** First key (inclusive); absent: from the first key. */
  start: Uint8Array | undefined;
  /** Keys must be < `end` (exclusive); absent: no upper bound. */
  end: Uint8Array | undefined;
  /** Keys must start with `prefix`; absent: any. */
  prefix: Uint8Array | undefined;
  /** Most entries returned. */
  limit: number;
}

/**
 * The iterator a scan returns: `[key, value]` in key order, the value a fresh copy.
 *
 * Threads: not thread-safe: the thread of its store.
 */
export class ScanIterator implements StateScan {
  private readonly cursor: TreeCursor;
  private seenVersion: number;
  private last = new Uint8Array(64);
  private lastLength = -1;
  private returned = 0;
  private finished = false;

  constructor(
    private readonly source: ScanSource,
    private readonly bounds: ScanBounds,
  ) {
    source.check();
    this.cursor = new TreeCursor(source.pool, source.arena);
    const start = bounds.start;
    this.cursor.seek(source.root(), start, start?.length ?? 0, false);
    this.seenVersion = source.version();
  }

  [Symbol.iterator](): this {
    return this;
  }

  /** `for await (const [key, value] of scan)`: the same cursor, one entry per turn. */
  [Symbol.asyncIterator](): AsyncIterableIterator<[string, Uint8Array]> {
    return asyncOver(this);
  }

  next(): IteratorResult<[string, Uint8Array]> {
    if (this.finished) return { done: true, value: undefined };
    this.source.check();
    const cursor = this.cursor;
    if (this.source.version() !== this.seenVersion) {
      // The tree changed under the cursor: seek past the last key returned.
      if (this.lastLength >= 0) cursor.seek(this.source.root(), this.last, this.lastLength, true);
      else cursor.seek(this.source.root(), this.bounds.start, this.bounds.start?.length ?? 0, false);
      this.seenVersion = this.source.version();
    } else if (this.lastLength >= 0) {
      cursor.next();
    }
    if (cursor.done || this.returned >= this.bounds.limit) return this.finish();
    const arena = this.source.arena;
    arena.decode(cursor.ref());
    const slab = arena.dSlab;
    const k = arena.dKey;
    const kl = arena.dKeyLength;
    const { end, prefix } = this.bounds;
    if (end !== undefined && compareBytes(slab.bytes, k, kl, end) >= 0) return this.finish();
    if (prefix !== undefined && !hasPrefix(slab.bytes, k, kl, prefix)) return this.finish();
    if (this.last.length < kl) this.last = new Uint8Array(Math.max(kl, this.last.length * 2));
    this.last.set(slab.bytes.subarray(k, k + kl));
    this.lastLength = kl;
    this.returned++;
    const key = slab.buf.toString('utf8', k, k + kl);
    const value = Buffer.allocUnsafe(arena.dValueLength);
    slab.buf.copy(value, 0, k + kl, k + kl + arena.dValueLength);
    return { done: false, value: [key, value] };
  }

  return(): IteratorResult<[string, Uint8Array]> {
    return this.finish();
  }

  private finish(): IteratorResult<[string, Uint8Array]> {
    this.finished = true;
    return { done: true, value: undefined };
  }
}

/** Unsigned byte order of `a[start, start + length)` against all of `b`. */
export function compareBytes(a: Uint8Array, start: number, length: number, b: Uint8Array): number {
  const n = Math.min(length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[start + i]! - b[i]!;
    if (d !== 0) return d;
  }
  return length - b.length;
}

function hasPrefix(a: Uint8Array, start: number, length: number, prefix: Uint8Array): boolean {
  if (length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[start + i] !== prefix[i]) return false;
  return true;
}

/** `TIDEMARK_CLOSED` for a read of a released snapshot. */
export function releasedError(): TidemarkError {
  return new TidemarkError('TIDEMARK_CLOSED', 'this slab store snapshot was released');
}

/** Options of a scan. */
export interface ScanOptions {
  /** Most entries returned (default: no limit). */
  limit?: number;
}

/** A copy of the value of the record at `ref`. */
export function copyValue(arena: SlabArena, ref: number): Buffer {
  arena.decode(ref);
  const start = arena.dKey + arena.dKeyLength;
  const out = Buffer.allocUnsafe(arena.dValueLength);
  arena.dSlab.buf.copy(out, 0, start, start + arena.dValueLength);
  return out;
}

export function scanBounds({
  start,
  end,
  prefix,
  limit: requested,
}: {
  start?: Uint8Array | undefined;
  end?: Uint8Array | undefined;
  prefix?: Uint8Array | undefined;
  limit?: number | undefined;
}): ScanBounds {
  const limit = integerOption('scan limit', requested, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: Number.MAX_SAFE_INTEGER,
  });
  return { start, end, prefix, limit };
}

/** Bounds of `rangeScan(start, end, options)`, validated. */
export function rangeBounds(
  start: string | undefined,
  end: string | undefined,
  options: ScanOptions,
): ScanBounds {
  if (start !== undefined) checkKey('rangeScan(start)', start);
  if (end !== undefined) checkKey('rangeScan(end)', end);
  return scanBounds({
    start: start === undefined ? undefined : Buffer.from(start, 'utf8'),
    end: end === undefined ? undefined : Buffer.from(end, 'utf8'),
    limit: options.limit,
  });
}

/** The keys of a scan. */
export function* keysOf(scan: Iterable<[string, Uint8Array]>): IterableIterator<string> {
  for (const [key] of scan) yield key;
}
