/**
 * The ordered index of the slab store: a B+-tree whose pages are typed arrays ({@link PagePool})
 * holding record refs into the byte slabs ({@link SlabArena}); keys compare in unsigned byte order
 * of their UTF-8 encoding.
 *
 * Snapshots are copy-on-write of pages (path copying, as LMDB does): every page carries the write
 * epoch it was born in; `snapshot()` pins the current root and starts a new epoch, and a write
 * copies each page on its path that was born at or before the newest live snapshot. A replaced
 * page is retired with the epoch it left the live tree in and freed once no live snapshot's epoch
 * lies in `[birth, retired)`. A snapshot therefore costs, beyond the live tree, the pages written
 * since it was taken (at most one root-to-leaf path per write) — bounded, and freed on release.
 *
 * Deletion frees empty pages and merges a page under a quarter full into a sibling when the two
 * fit in three quarters of a page; there are no sibling links (they do not survive copy-on-write),
 * so scans walk a root-to-leaf stack ({@link TreeCursor}).
 */
import { assert } from '../errors.js';
import type { SlabArena } from './slab-arena.js';
import { SnapshotEpochs } from './slab-epochs.js';
import {
  BIRTH,
  COUNT,
  HEADER_WORDS,
  INTERNAL,
  INTERNAL_CAPACITY,
  KIND,
  LEAF,
  LEAF_CAPACITY,
  type PagePool,
  SEPARATORS,
} from './slab-pages.js';

/** Deepest tree: fan-out ≥ 32 after merges, so 2^53 entries fit well within it. */
const MAX_DEPTH = 40;

/** Threads: not thread-safe: one thread (the store's). */
export class SlabTree {
  root: number;
  /** Entries in the live tree. */
  count = 0;
  /** Write epochs and live snapshots: pages born at or before the newest snapshot are copied on write. */
  readonly epochs = new SnapshotEpochs();
  /** Retired pages still visible to a snapshot: (id, birth, retired epoch) triples. */
  private retired: number[] = [];
  /** Bumped on every change to the live tree; iterators re-seek when it moved. */
  version = 0;
  /** Path of the last `descend()`: page ids from the root, and the child index taken in each. */
  private readonly pathIds = new Float64Array(MAX_DEPTH);
  private readonly pathIndexes = new Int32Array(MAX_DEPTH);
  /** Index of the leaf in `pathIds` after `descend()`. */
  private depth = 0;

  constructor(
    readonly pool: PagePool,
    readonly arena: SlabArena,
  ) {
    this.root = pool.allocate(LEAF, this.epochs.epoch);
  }

  /** Index of the child of internal page (c, b) whose range holds `q`. */
  private childIndex(c: Float64Array, b: number, q: Uint8Array, qLength: number): number {
    let lo = 0;
    let hi = c[b + COUNT]! - 1; // separators
    const s = b + SEPARATORS;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.arena.compare(c[s + mid]!, q, qLength) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** In leaf (c, b): the slot of `q` when present, else `~slot` where it would be inserted. */
  private leafSearch(c: Float64Array, b: number, q: Uint8Array, qLength: number): number {
    let lo = 0;
    let hi = c[b + COUNT]!;
    const r = b + HEADER_WORDS;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const d = this.arena.compare(c[r + mid]!, q, qLength);
      if (d < 0) lo = mid + 1;
      else if (d > 0) hi = mid;
      else return mid;
    }
    return ~lo;
  }

  /** The ref of key `q` in the tree under `root`, or -1. */
  find(root: number, q: Uint8Array, qLength: number): number {
    const pool = this.pool;
    let id = root;
    for (;;) {
      const c = pool.chunk(id);
      const b = pool.base(id);
      if (c[b + KIND] === LEAF) {
        const slot = this.leafSearch(c, b, q, qLength);
        return slot >= 0 ? c[b + HEADER_WORDS + slot]! : -1;
      }
      id = c[b + HEADER_WORDS + this.childIndex(c, b, q, qLength)]!;
    }
  }

  /**
   * True when the live tree points at record `ref` (key `q`): as the entry of its key or as a
   * separator on the key's path. Changes nothing.
   */
  refersTo(ref: number, q: Uint8Array, qLength: number): boolean {
    const pool = this.pool;
    let id = this.root;
    for (;;) {
      const c = pool.chunk(id);
      const b = pool.base(id);
      if (c[b + KIND] === LEAF) {
        const slot = this.leafSearch(c, b, q, qLength);
        return slot >= 0 && c[b + HEADER_WORDS + slot] === ref;
      }
      const i = this.childIndex(c, b, q, qLength);
      if (i > 0 && c[b + SEPARATORS + i - 1] === ref) return true;
      id = c[b + HEADER_WORDS + i]!;
    }
  }

  // ---- writes: descend() makes the path writable, then one of the operations below uses it ----

  /**
   * Makes the root-to-leaf path of `q` writable (copying pages a snapshot may see) and returns
   * the leaf slot of `q` (`>= 0`) or `~slot` where it would go. Counts as a change.
   */
  descend(q: Uint8Array, qLength: number): number {
    const pool = this.pool;
    this.version++;
    let id = this.writable(this.root);
    this.root = id;
    for (let d = 0; ; d++) {
      assert(d < MAX_DEPTH, 'tree deeper than MAX_DEPTH');
      this.pathIds[d] = id;
      const c = pool.chunk(id);
      const b = pool.base(id);
      if (c[b + KIND] === LEAF) {
        this.depth = d;
        return this.leafSearch(c, b, q, qLength);
      }
      const i = this.childIndex(c, b, q, qLength);
      this.pathIndexes[d] = i;
      const child = c[b + HEADER_WORDS + i]!;
      id = this.writable(child);
      c[b + HEADER_WORDS + i] = id;
    }
  }

  /** Ref in slot `slot` of the leaf `descend()` reached. */
  leafRef(slot: number): number {
    const id = this.pathIds[this.depth]!;
    return this.pool.chunk(id)[this.pool.base(id) + HEADER_WORDS + slot]!;
  }

  /** Points slot `slot` of the leaf `descend()` reached at `ref` (same key). */
  setLeafRef(slot: number, ref: number): void {
    const id = this.pathIds[this.depth]!;
    this.pool.chunk(id)[this.pool.base(id) + HEADER_WORDS + slot] = ref;
  }

  /**
   * Replaces every separator on the path `descend()` took that equals `from` by `to` (records of
   * the same key). Returns how many were replaced.
   */
  replaceSeparators(from: number, to: number): number {
    let replaced = 0;
    for (let d = 0; d < this.depth; d++) {
      const i = this.pathIndexes[d]!;
      if (i === 0) continue;
      const id = this.pathIds[d]!;
      const c = this.pool.chunk(id);
      const at = this.pool.base(id) + SEPARATORS + i - 1;
      if (c[at] === from) {
        c[at] = to;
        replaced++;
      }
    }
    return replaced;
  }

  /**
   * Replaces every separator on the path `descend()` took that equals `from` (a record whose key
   * is no longer in the tree) by the first entry of the subtree to its right: still ≤ every key
   * there and > every key to its left, and a record the tree holds as an entry.
   */
  replaceDeadSeparators(from: number): void {
    const pool = this.pool;
    for (let d = 0; d < this.depth; d++) {
      const i = this.pathIndexes[d]!;
      if (i === 0) continue;
      const id = this.pathIds[d]!;
      const c = pool.chunk(id);
      const at = pool.base(id) + SEPARATORS + i - 1;
      if (c[at] !== from) continue;
      let sub = c[pool.base(id) + HEADER_WORDS + i]!;
      while (pool.chunk(sub)[pool.base(sub) + KIND] !== LEAF)
        sub = pool.chunk(sub)[pool.base(sub) + HEADER_WORDS]!;
      assert(pool.chunk(sub)[pool.base(sub) + COUNT]! > 0, 'empty leaf below the root');
      c[at] = pool.chunk(sub)[pool.base(sub) + HEADER_WORDS]!;
    }
  }

  /** Inserts `ref` at `slot` of the leaf `descend()` reached, splitting pages as needed. */
  insert(slot: number, ref: number): void {
    const pool = this.pool;
    const leaf = this.pathIds[this.depth]!;
    const c = pool.chunk(leaf);
    const b = pool.base(leaf);
    const n = c[b + COUNT]!;
    this.count++;
    if (n < LEAF_CAPACITY) {
      c.copyWithin(b + HEADER_WORDS + slot + 1, b + HEADER_WORDS + slot, b + HEADER_WORDS + n);
      c[b + HEADER_WORDS + slot] = ref;
      c[b + COUNT] = n + 1;
      return;
    }
    // Split. Appending past the last key of the rightmost leaf (ascending loads) leaves the left
    // page full, as SQLite's balance_quick and PostgreSQL's rightmost split do; otherwise halves.
    const m = slot === n && this.onRightEdge() ? n : n >> 1;
    const right = pool.allocate(LEAF, this.epochs.epoch);
    const rc = pool.chunk(right);
    const rb = pool.base(right);
    rc.set(c.subarray(b + HEADER_WORDS + m, b + HEADER_WORDS + n), rb + HEADER_WORDS);
    rc[rb + COUNT] = n - m;
    c[b + COUNT] = m;
    if (slot <= m && m !== n) {
      c.copyWithin(b + HEADER_WORDS + slot + 1, b + HEADER_WORDS + slot, b + HEADER_WORDS + m);
      c[b + HEADER_WORDS + slot] = ref;
      c[b + COUNT] = m + 1;
    } else {
      const s = slot - m;
      const rn = n - m;
      rc.copyWithin(rb + HEADER_WORDS + s + 1, rb + HEADER_WORDS + s, rb + HEADER_WORDS + rn);
      rc[rb + HEADER_WORDS + s] = ref;
      rc[rb + COUNT] = rn + 1;
    }
    this.insertChild(this.depth - 1, rc[rb + HEADER_WORDS]!, right);
  }

  /** True when the path `descend()` took runs along the last child of every internal page. */
  private onRightEdge(): boolean {
    for (let d = 0; d < this.depth; d++) {
      const id = this.pathIds[d]!;
      if (this.pathIndexes[d] !== this.pool.chunk(id)[this.pool.base(id) + COUNT]! - 1) return false;
    }
    return true;
  }

  /** Adds child `right` (keys ≥ `separator`) after the path's child in internal page at `d`. */
  private insertChild(d: number, separator: number, right: number): void {
    const pool = this.pool;
    if (d < 0) {
      const root = pool.allocate(INTERNAL, this.epochs.epoch);
      const c = pool.chunk(root);
      const b = pool.base(root);
      c[b + HEADER_WORDS] = this.pathIds[0]!;
      c[b + HEADER_WORDS + 1] = right;
      c[b + SEPARATORS] = separator;
      c[b + COUNT] = 2;
      this.root = root;
      return;
    }
    const id = this.pathIds[d]!;
    const c = pool.chunk(id);
    const b = pool.base(id);
    const n = c[b + COUNT]!;
    const at = this.pathIndexes[d]! + 1; // child index of `right`
    const children = Array.from(c.subarray(b + HEADER_WORDS, b + HEADER_WORDS + n));
    const separators = Array.from(c.subarray(b + SEPARATORS, b + SEPARATORS + n - 1));
    children.splice(at, 0, right);
    separators.splice(at - 1, 0, separator);
    if (n < INTERNAL_CAPACITY) {
      this.writeInternal(c, b, children, separators);
      return;
    }
    // Split: the middle separator moves up.
    const m = children.length >> 1;
    const up = separators[m - 1]!;
    const sibling = pool.allocate(INTERNAL, this.epochs.epoch);
    this.writeInternal(c, b, children.slice(0, m), separators.slice(0, m - 1));
    this.writeInternal(pool.chunk(sibling), pool.base(sibling), children.slice(m), separators.slice(m));
    this.insertChild(d - 1, up, sibling);
  }

  private writeInternal(c: Float64Array, b: number, children: number[], separators: number[]): void {
    assert(
      children.length <= INTERNAL_CAPACITY && separators.length === children.length - 1,
      'internal page shape',
    );
    c.set(children, b + HEADER_WORDS);
    c.set(separators, b + SEPARATORS);
    c[b + COUNT] = children.length;
  }

  /** Removes slot `slot` of the leaf `descend()` reached; frees or merges pages left too empty. */
  remove(slot: number): void {
    const leaf = this.pathIds[this.depth]!;
    const c = this.pool.chunk(leaf);
    const b = this.pool.base(leaf);
    const n = c[b + COUNT]!;
    assert(slot >= 0 && slot < n, 'remove of a slot past the leaf');
    c.copyWithin(b + HEADER_WORDS + slot, b + HEADER_WORDS + slot + 1, b + HEADER_WORDS + n);
    c[b + COUNT] = n - 1;
    this.count--;
    this.rebalance(this.depth);
  }

  private rebalance(d: number): void {
    const pool = this.pool;
    const id = this.pathIds[d]!;
    const c = pool.chunk(id);
    const b = pool.base(id);
    const n = c[b + COUNT]!;
    const leaf = c[b + KIND] === LEAF;
    if (d === 0) {
      assert(id === this.root, 'rebalance reached a page that is not the root');
      // Collapse a root with one child (repeatedly, as the child may have one too).
      let root = id;
      while (
        pool.chunk(root)[pool.base(root) + KIND] !== LEAF &&
        pool.chunk(root)[pool.base(root) + COUNT] === 1
      ) {
        const child = pool.chunk(root)[pool.base(root) + HEADER_WORDS]!;
        this.retirePage(root);
        root = child;
      }
      this.root = root;
      return;
    }
    const capacity = leaf ? LEAF_CAPACITY : INTERNAL_CAPACITY;
    if (n >= capacity >> 2) return;
    const parent = this.pathIds[d - 1]!;
    const pc = pool.chunk(parent);
    const pb = pool.base(parent);
    const pn = pc[pb + COUNT]!;
    const i = this.pathIndexes[d - 1]!;
    if (n === 0) {
      this.removeChild(pc, pb, i);
      this.retirePage(id);
      this.rebalance(d - 1);
      return;
    }
    if (pn < 2) return;
    const left = i + 1 < pn ? i : i - 1;
    const lid = this.writable(pc[pb + HEADER_WORDS + left]!);
    pc[pb + HEADER_WORDS + left] = lid;
    const rid = pc[pb + HEADER_WORDS + left + 1]!;
    const lc = pool.chunk(lid);
    const lb = pool.base(lid);
    const rc = pool.chunk(rid);
    const rb = pool.base(rid);
    const ln = lc[lb + COUNT]!;
    const rn = rc[rb + COUNT]!;
    if (ln + rn > (capacity * 3) >> 2) return;
    if (leaf) {
      lc.set(rc.subarray(rb + HEADER_WORDS, rb + HEADER_WORDS + rn), lb + HEADER_WORDS + ln);
      lc[lb + COUNT] = ln + rn;
    } else {
      lc.set(rc.subarray(rb + HEADER_WORDS, rb + HEADER_WORDS + rn), lb + HEADER_WORDS + ln);
      lc[lb + SEPARATORS + ln - 1] = pc[pb + SEPARATORS + left]!;
      lc.set(rc.subarray(rb + SEPARATORS, rb + SEPARATORS + rn - 1), lb + SEPARATORS + ln);
      lc[lb + COUNT] = ln + rn;
    }
    this.removeChild(pc, pb, left + 1);
    this.retirePage(rid);
    this.rebalance(d - 1);
  }

  /** Removes child `i` of internal page (c, b) with the separator that bounds it. */
  private removeChild(c: Float64Array, b: number, i: number): void {
    const n = c[b + COUNT]!;
    c.copyWithin(b + HEADER_WORDS + i, b + HEADER_WORDS + i + 1, b + HEADER_WORDS + n);
    const s = i === 0 ? 0 : i - 1;
    c.copyWithin(b + SEPARATORS + s, b + SEPARATORS + s + 1, b + SEPARATORS + n - 1);
    c[b + COUNT] = n - 1;
  }

  // ---- copy-on-write and snapshots ----

  /** `id` itself when no snapshot can see it, else a copy born now (the original is retired). */
  private writable(id: number): number {
    const c = this.pool.chunk(id);
    if (c[this.pool.base(id) + BIRTH]! > this.epochs.newest) return id;
    const copy = this.pool.copy(id, this.epochs.epoch);
    this.retirePage(id);
    return copy;
  }

  /** Page `id` left the live tree: freed now, or once no snapshot can see it. */
  private retirePage(id: number): void {
    const birth = this.pool.chunk(id)[this.pool.base(id) + BIRTH]!;
    if (birth > this.epochs.newest) this.pool.free(id);
    else this.retired.push(id, birth, this.epochs.epoch);
  }

  /** Pins the live tree: returns its root and epoch; writes from now on copy shared pages. */
  takeSnapshot(): { root: number; epoch: number } {
    return { root: this.root, epoch: this.epochs.take() };
  }

  /** Unpins snapshot `epoch` and frees the retired pages no live snapshot can see any more. */
  releaseSnapshot(epoch: number): void {
    this.epochs.release(epoch);
    const kept: number[] = [];
    const r = this.retired;
    for (let i = 0; i < r.length; i += 3) {
      if (this.epochs.visible(r[i + 1]!, r[i + 2]!)) kept.push(r[i]!, r[i + 1]!, r[i + 2]!);
      else this.pool.free(r[i]!);
    }
    this.retired = kept;
  }
}
