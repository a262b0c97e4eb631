/**
 * Index pages of the slab store's B+-tree, held in `Float64Array` chunks rather than as
 * JavaScript objects: a page is `PAGE_WORDS` doubles (2 KiB), named by a page id.
 *
 * Layout (word offsets from the page base):
 * - `0` count: refs in a leaf, children in an internal page;
 * - `1` kind: `LEAF` or `INTERNAL`;
 * - `2` birth: the write epoch the page was written in (copy-on-write for snapshots: a page born
 *   at or before the newest live snapshot's epoch may be seen by it and is copied, never changed);
 * - leaf: `LEAF_CAPACITY` record refs from word 3, in key order;
 * - internal: `INTERNAL_CAPACITY` child page ids from word 3, then `INTERNAL_CAPACITY - 1`
 *   separator refs (separator `i` is a record whose key is ≤ every key under child `i + 1` and
 *   > every key under child `i`; it may be a record the live index no longer holds as an entry).
 */
import { assert } from '../errors.js';

export const PAGE_WORDS = 256;
const PAGE_SHIFT = 8;
const CHUNK_SHIFT = 11; // 2048 pages (4 MiB) per chunk
const CHUNK_PAGES = 1 << CHUNK_SHIFT;
export const HEADER_WORDS = 3;
export const COUNT = 0;
export const KIND = 1;
export const BIRTH = 2;
export const LEAF = 0;
export const INTERNAL = 1;
export const LEAF_CAPACITY = PAGE_WORDS - HEADER_WORDS;
export const INTERNAL_CAPACITY = (PAGE_WORDS - HEADER_WORDS + 1) >> 1;
/** Word offset of separator 0 in an internal page. */
export const SEPARATORS = HEADER_WORDS + INTERNAL_CAPACITY;

/** Threads: not thread-safe: one thread (the store's). */
export class PagePool {
  private readonly chunks: Float64Array[] = [];
  private readonly freeIds: number[] = [];
  private nextId = 0;

  /** Pages in use. */
  get pageCount(): number {
    return this.nextId - this.freeIds.length;
  }

  /** Bytes of the chunks allocated. */
  get allocatedBytes(): number {
    return this.chunks.length * CHUNK_PAGES * PAGE_WORDS * 8;
  }

  /** The chunk holding page `id`; index it from `base(id)`. */
  chunk(id: number): Float64Array {
    return this.chunks[id >>> CHUNK_SHIFT]!;
  }

  /** Word offset of page `id` in its chunk. */
  base(id: number): number {
    return (id & (CHUNK_PAGES - 1)) << PAGE_SHIFT;
  }

  /** A fresh page of `kind`, empty, born at `birth`. */
  allocate(kind: number, birth: number): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.nextId++;
      if (id >>> CHUNK_SHIFT >= this.chunks.length)
        this.chunks.push(new Float64Array(CHUNK_PAGES * PAGE_WORDS));
    }
    const c = this.chunk(id);
    const b = this.base(id);
    c[b + COUNT] = 0;
    c[b + KIND] = kind;
    c[b + BIRTH] = birth;
    return id;
  }

  /** A copy of page `id` born at `birth`. */
  copy(id: number, birth: number): number {
    const copy = this.allocate(LEAF, birth);
    const from = this.chunk(id);
    const fromBase = this.base(id);
    const to = this.chunk(copy);
    const toBase = this.base(copy);
    to.set(from.subarray(fromBase, fromBase + PAGE_WORDS), toBase);
    to[toBase + BIRTH] = birth;
    return copy;
  }

  /** Returns page `id` to the free list. */
  free(id: number): void {
    assert(id >= 0 && id < this.nextId, `page ${id} freed but never allocated`);
    const c = this.chunk(id);
    const b = this.base(id);
    assert(c[b + KIND] !== -1, `page ${id} freed twice`);
    c[b + KIND] = -1;
    this.freeIds.push(id);
  }
}
