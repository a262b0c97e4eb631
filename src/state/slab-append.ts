/**
 * Bulk loading of the slab store's B+-tree from keys in ascending order (the bottom-up build of
 * a B+-tree from sorted input, as PostgreSQL's `nbtsort` and SQLite's sorter do): each record ref
 * goes to the end of the rightmost leaf, and a full page starts a new one whose first entry
 * becomes a separator in the page above — no root-to-leaf search and no split per entry, and
 * every page but the rightmost ends up full.
 *
 * The store uses it only while the tree has been built by appends alone since it was created
 * empty, with no snapshot taken: the pages on the right edge (`spine`) are then the ones the live
 * tree holds and no snapshot can see them. The first key that is not past the last one, or any
 * other write, delete, snapshot or compaction, ends it for good (the store drops the appender);
 * the tree it leaves is an ordinary B+-tree.
 */
import { assert } from '../errors.js';
import {
  COUNT,
  HEADER_WORDS,
  INTERNAL,
  INTERNAL_CAPACITY,
  LEAF,
  LEAF_CAPACITY,
  SEPARATORS,
} from './slab-pages.js';
import type { SlabTree } from './slab-tree.js';

export class SlabAppender {
  /** Page ids of the right edge, the leaf first, the root last. */
  private readonly spine: number[];
  /** Ref of the last entry appended, -1 before the first. */
  lastRef = -1;

  constructor(private readonly tree: SlabTree) {
    assert(tree.count === 0 && tree.epochs.live.length === 0, 'bulk load into a tree that is not empty');
    this.spine = [tree.root];
  }

  /** Appends `ref`, whose key is past every key in the tree. */
  append(ref: number): void {
    const tree = this.tree;
    tree.version++;
    tree.count++;
    this.lastRef = ref;
    const pool = tree.pool;
    const leaf = this.spine[0]!;
    const c = pool.chunk(leaf);
    const b = pool.base(leaf);
    const n = c[b + COUNT]!;
    if (n < LEAF_CAPACITY) {
      c[b + HEADER_WORDS + n] = ref;
      c[b + COUNT] = n + 1;
      return;
    }
    const next = pool.allocate(LEAF, tree.epochs.epoch);
    const nc = pool.chunk(next);
    const nb = pool.base(next);
    nc[nb + HEADER_WORDS] = ref;
    nc[nb + COUNT] = 1;
    this.spine[0] = next;
    this.addChild(1, next, ref);
  }

  /** Adds `child` (keys ≥ the record `separator`) at the right end of the spine's page at `level`. */
  private addChild(level: number, child: number, separator: number): void {
    const tree = this.tree;
    const pool = tree.pool;
    if (level === this.spine.length) {
      // The page below was the root: a new root above it.
      const root = pool.allocate(INTERNAL, tree.epochs.epoch);
      const c = pool.chunk(root);
      const b = pool.base(root);
      c[b + HEADER_WORDS] = tree.root;
      c[b + HEADER_WORDS + 1] = child;
      c[b + SEPARATORS] = separator;
      c[b + COUNT] = 2;
      this.spine.push(root);
      tree.root = root;
      return;
    }
    const id = this.spine[level]!;
    const c = pool.chunk(id);
    const b = pool.base(id);
    const n = c[b + COUNT]!;
    if (n < INTERNAL_CAPACITY) {
      c[b + HEADER_WORDS + n] = child;
      c[b + SEPARATORS + n - 1] = separator;
      c[b + COUNT] = n + 1;
      return;
    }
    // Full: `child` starts a new page at this level; `separator` goes up between the two.
    const next = pool.allocate(INTERNAL, tree.epochs.epoch);
    const nc = pool.chunk(next);
    const nb = pool.base(next);
    nc[nb + HEADER_WORDS] = child;
    nc[nb + COUNT] = 1;
    this.spine[level] = next;
    this.addChild(level + 1, next, separator);
  }
}
