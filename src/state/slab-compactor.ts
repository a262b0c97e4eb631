/**
 * Incremental compaction of the slab store's byte slabs (garbage collection of a log-structured
 * store, as in RocksDB's BlobDB or LFS's segment cleaner).
 *
 * A victim is a slab (not the head) whose garbage is at least `garbageRatio` of its used bytes,
 * the one with the most garbage first. A step scans at most `stepBytes` of the victim from where
 * the last step stopped; for each record it asks the live tree whether it points at it (as the
 * entry of its key, or as a separator on the key's path) and, only if so, copies it to the head
 * slab and repoints the tree (copy-on-write, so snapshots keep the old copy). A slab scanned to
 * its end is retired: freed at once, or when the last snapshot that may read it is released.
 *
 * Puts and deletes drive it: each byte they make garbage adds `1 / garbageRatio` bytes of debt,
 * and a step runs whenever the debt reaches `stepBytes` — enough to reclaim garbage as fast as it
 * is made, since a victim gives back at least `garbageRatio` of what is scanned. So no call pauses
 * for more than one step (`stepBytes` scanned, one tree lookup per record).
 */
import { assert } from '../errors.js';
import { SLAB_SPAN, type SlabArena } from './slab-arena.js';
import type { SlabTree } from './slab-tree.js';

/** Compaction settings (validated by the store). */
export interface SlabCompactorOptions {
  garbageRatio: number;
  stepBytes: number;
  auto: boolean;
}

/** Threads: not thread-safe: one thread (the store's). */
export class SlabCompactor {
  readonly stepBytes: number;
  private readonly garbageRatio: number;
  private readonly auto: boolean;
  private debt = 0;
  private victim = -1;
  private cursor = 0;
  /** Retired slabs still readable by a snapshot: (slab index, retired epoch) pairs. */
  private retired: number[] = [];
  private key = new Uint8Array(256);
  /** Bytes copied to the head so far. */
  copiedBytes = 0;

  constructor(
    private readonly tree: SlabTree,
    private readonly arena: SlabArena,
    options: SlabCompactorOptions,
  ) {
    this.garbageRatio = options.garbageRatio;
    this.stepBytes = options.stepBytes;
    this.auto = options.auto;
  }

  /** A write made `bytes` of garbage; runs a step when the debt calls for one. */
  owe(bytes: number): void {
    if (!this.auto) return;
    this.debt += bytes / this.garbageRatio;
    if (this.debt < this.stepBytes) return;
    this.debt -= this.stepBytes;
    if (this.step(this.stepBytes) === 0) this.debt = 0; // nothing to do: no debt either
  }

  /** Scans at most `maxBytes` of victim slabs; returns bytes scanned (0: no victim). */
  step(maxBytes: number): number {
    let scanned = 0;
    while (scanned < maxBytes) {
      if (this.victim < 0 && !this.pickVictim(false)) break;
      scanned += this.scan(maxBytes - scanned);
    }
    return scanned;
  }

  /** Compacts every victim to the end; with `all`, every slab holding any garbage. */
  compactAll(all: boolean): void {
    for (;;) {
      if (this.victim < 0 && !this.pickVictim(all)) return;
      this.scan(Number.MAX_SAFE_INTEGER);
    }
  }

  /** Frees retired slabs no live snapshot can read (after a snapshot release). */
  reclaim(): void {
    const kept: number[] = [];
    for (let i = 0; i < this.retired.length; i += 2) {
      const index = this.retired[i]!;
      const epoch = this.retired[i + 1]!;
      if (this.tree.epochs.visible(0, epoch)) kept.push(index, epoch);
      else this.arena.free(index);
    }
    this.retired = kept;
  }

  private pickVictim(all: boolean): boolean {
    let best = -1;
    let bestGarbage = 0;
    const slabs = this.arena.slabs;
    for (let i = 0; i < slabs.length; i++) {
      const s = slabs[i];
      if (s === undefined || s.retired || this.arena.isHead(i)) continue;
      const garbage = s.used - s.live;
      if (garbage === 0 || (!all && garbage < s.used * this.garbageRatio)) continue;
      if (garbage > bestGarbage) {
        best = i;
        bestGarbage = garbage;
      }
    }
    this.victim = best;
    this.cursor = 0;
    return best >= 0;
  }

  /** Scans the victim from the cursor for at most `budget` bytes (at least one record). */
  private scan(budget: number): number {
    const arena = this.arena;
    const tree = this.tree;
    const index = this.victim;
    const slab = arena.slab(index);
    const base = index * SLAB_SPAN;
    let scanned = 0;
    while (this.cursor < slab.used && scanned < budget) {
      const ref = base + this.cursor;
      arena.decode(ref);
      const length = arena.dRecordLength;
      const keyLength = arena.dKeyLength;
      if (this.key.length < keyLength) this.key = new Uint8Array(Math.max(keyLength, this.key.length * 2));
      this.key.set(slab.bytes.subarray(arena.dKey, arena.dKey + keyLength));
      if (tree.refersTo(ref, this.key, keyLength)) this.evacuate(ref);
      this.cursor += length;
      scanned += length;
    }
    if (this.cursor >= slab.used) {
      assert(slab.live === 0, `slab ${index} evacuated with ${slab.live} live bytes left`);
      arena.retire(index);
      if (tree.epochs.live.length === 0) arena.free(index);
      else this.retired.push(index, tree.epochs.epoch);
      this.victim = -1;
    }
    return scanned;
  }

  /** Copies record `ref` (key in `this.key`) to the head and repoints the live tree at the copy. */
  private evacuate(ref: number): void {
    const arena = this.arena;
    const tree = this.tree;
    arena.decode(ref);
    const keyLength = arena.dKeyLength;
    const slot = tree.descend(this.key, keyLength);
    const entry = slot >= 0 ? tree.leafRef(slot) : -1;
    if (entry === ref) {
      const slab = arena.dSlab;
      const valueStart = arena.dKey + keyLength;
      const valueLength = arena.dValueLength;
      const to = arena.append(this.key, 0, keyLength, slab.bytes, valueStart, valueLength);
      arena.kill(ref);
      tree.setLeafRef(slot, to);
      tree.replaceSeparators(ref, to);
      arena.decode(to);
      this.copiedBytes += arena.dRecordLength;
    } else if (entry >= 0) {
      tree.replaceSeparators(ref, entry); // a separator of a key overwritten since
    } else {
      tree.replaceDeadSeparators(ref); // a separator of a deleted key
    }
  }
}
