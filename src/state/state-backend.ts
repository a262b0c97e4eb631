/**
 * `StateBackend`: what holds the key/value state of every engine (the simple store, both rings of
 * the changelog-aware store, per-core recovery), what replay applies WAL records to and what
 * checkpoints are written from and loaded into.
 *
 * Two implementations:
 * - `'slab'` ({@link SlabStore}, the default): byte slabs and a typed-array B+-tree; no V8
 *   collection limit, ~30–45 B of overhead per key, ordered scans and cheap snapshots.
 * - `'map'` ({@link MapStateBackend}): a thin adapter over a JavaScript `Map`; ~2× faster puts
 *   and point reads on small states (bench/state-backend.ts), but ~330 B of heap per key, at
 *   most 2^24 keys (V8's limit), and a scan sorts the keys first (cached until the key set
 *   changes).
 *
 * Key order, for every scan of either backend: the unsigned bytes of the key's UTF-8 encoding,
 * which is Unicode code point order. It differs from JavaScript's `<` on strings (UTF-16 code
 * units) for astral characters: `'\uFFFF'` (EF BF BF) sorts before `'\u{1F600}'` (F0 9F 98 80).
 */
import type { StateFileEntryRange } from '../format/state-file.js';
import { enumOption } from '../validation.js';
import { MapStateBackend } from './map-state-backend.js';
import { SlabStore } from './slab-store.js';
import type { StateScan } from './state-scan.js';

export type { StateScan } from './state-scan.js';

/** The backends by name (the `stateBackend` option of both openers). */
export const STATE_BACKENDS = ['slab', 'map'] as const;

/** Which structure holds the state: `'slab'` (default) or `'map'` (see the module comment). */
export type StateBackendKind = (typeof STATE_BACKENDS)[number];

/** Options of a scan. */
export interface StateScanOptions {
  /** Most entries returned: an integer ≥ 0 (default: no limit). */
  limit?: number;
}

/** A read-only view of a state (the live one, or a snapshot of it). */
export interface StateReader extends Iterable<[string, Uint8Array]> {
  /** Entries held. */
  readonly size: number;
  /** UTF-8 key bytes + value bytes held. */
  readonly sizeBytes: number;
  /** The value of `key`, or `undefined`. Throws `TIDEMARK_INVALID_ARGUMENT` for a malformed key. */
  get(key: string): Uint8Array | undefined;
  /** True when `key` is held. Throws `TIDEMARK_INVALID_ARGUMENT` for a malformed key. */
  has(key: string): boolean;
  /** Entries whose key starts with `prefix`, in key order. */
  prefixScan(prefix: string, options?: StateScanOptions): StateScan;
  /** Entries with `start ≤ key < end` (either `undefined`: open), in key order; empty when `end ≤ start`. */
  rangeScan(start: string | undefined, end: string | undefined, options?: StateScanOptions): StateScan;
  /** Every entry, in key order. */
  entries(): StateScan;
  /** Every key, in key order. */
  keys(): IterableIterator<string>;
}

/**
 * A point-in-time read view: its reads do not change while the state is written. Release it
 * (`release()`, or `using snap = store.snapshot()`): a live snapshot pins memory. Reading after
 * release throws `TIDEMARK_CLOSED`.
 */
export interface StateSnapshot extends StateReader, Disposable {
  /** Frees what the snapshot pins. Idempotent. */
  release(): void;
}

/** A mutable state. */
export interface StateBackend extends StateReader {
  /** Which implementation this is. */
  readonly kind: StateBackendKind;
  /** Sets `key` to `value` (the slab backend copies it; the map backend keeps the reference). */
  put(key: string, value: Uint8Array): void;
  /** Removes `key`; true when it was held. */
  delete(key: string): boolean;
  /**
   * {@link put} without the argument checks, for a caller that already made them (the stores'
   * own `put`, replay of checksummed records): `key` a well-formed string within the key cap,
   * `value` a `Uint8Array` within the record cap. Anything else is undefined behaviour.
   */
  putUnchecked(key: string, value: Uint8Array): void;
  /** {@link delete} without the argument check (same contract as {@link putUnchecked}). */
  deleteUnchecked(key: string): boolean;
  /**
   * Sets the key `bytes[entry.keyStart, +entry.keyLength)` (well-formed UTF-8, as read back from a
   * checksummed file or record) to a copy of `bytes[valueStart, valueStart + valueLength)`.
   * The slab backend allocates nothing per call; used by checkpoint loading and replay.
   */
  putBytes(bytes: Uint8Array, entry: Readonly<StateFileEntryRange>): void;
  /** Removes the key `bytes[keyStart, keyStart + keyLength)`; true when it was held. */
  deleteBytes(bytes: Uint8Array, keyStart: number, keyLength: number): boolean;
  /** A point-in-time read view (see {@link StateSnapshot}). */
  snapshot(): StateSnapshot;
}

/**
 * Checks the `stateBackend` option (`'slab'`, `'map'` or `undefined` for `'slab'`). Throws
 * `TIDEMARK_INVALID_ARGUMENT` naming `argument` otherwise.
 */
export function stateBackendOption(argument: string, value: unknown): StateBackendKind {
  return enumOption(argument, value, STATE_BACKENDS, 'slab');
}

/** A copy of `state` in a backend of the same kind (O(n): every entry is copied). */
export function copyStateBackend(state: StateBackend): StateBackend {
  const copy = createStateBackend(state.kind);
  for (const [key, value] of state) copy.put(key, value);
  return copy;
}

/** An empty state of `kind` (default `'slab'`). */
export function createStateBackend(kind: StateBackendKind = 'slab'): StateBackend {
  return kind === 'map' ? new MapStateBackend() : new SlabStore();
}
