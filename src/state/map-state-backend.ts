/**
 * `MapStateBackend`: the `'map'` {@link StateBackend}, a thin adapter over a JavaScript `Map`.
 *
 * - Values are kept by reference (as `Map.set` does) and `get()` returns the stored object: no
 *   later write of the store changes it (a put replaces the reference, never the bytes), but the
 *   caller must not mutate a value it passed in or got back — that would change the state itself.
 * - Order: a `Map` has none, so a scan walks the keys sorted in UTF-8 byte order; the sorted key
 *   array is cached until a key is added or removed (an overwrite keeps it).
 * - Snapshots are copy-on-write of the whole `Map`: taking one is O(1); the first write after it
 *   copies the `Map` (O(n)), later writes do not until the next snapshot. Fine for the small
 *   states this backend is for; the slab backend copies one index path per write instead.
 * - A live scan walks the sorted keys as they were when it started and reads each value as it is
 *   now: keys present during the whole scan are seen once, in order; keys put or deleted during
 *   it may or may not be (as with the slab backend).
 */
import { TidemarkError } from '../errors.js';
import type { StateFileEntryRange } from '../format/state-file.js';
import { checkKey, checkValue, integerOption } from '../validation.js';
import type { StateBackend, StateBackendKind, StateScanOptions, StateSnapshot } from './state-backend.js';
import { asyncOver, compareUtf8, type StateScan } from './state-scan.js';

interface View {
  map: Map<string, Uint8Array>;
  sorted(): string[];
}

/** Where a scan starts and stops, in string form. */
interface Bounds {
  start: string | undefined;
  end: string | undefined;
  prefix: string | undefined;
  limit: number;
}

function scanLimit(options: StateScanOptions | undefined): number {
  return integerOption('scan limit', options?.limit, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: Number.MAX_SAFE_INTEGER,
  });
}

function prefixBounds(prefix: string, options: StateScanOptions | undefined): Bounds {
  checkKey('prefixScan(prefix)', prefix);
  return { start: prefix, end: undefined, prefix, limit: scanLimit(options) };
}

function rangeBoundsOf(
  start: string | undefined,
  end: string | undefined,
  options: StateScanOptions | undefined,
): Bounds {
  if (start !== undefined) checkKey('rangeScan(start)', start);
  if (end !== undefined) checkKey('rangeScan(end)', end);
  return { start, end, prefix: undefined, limit: scanLimit(options) };
}

const ALL: Bounds = { start: undefined, end: undefined, prefix: undefined, limit: Number.MAX_SAFE_INTEGER };

/** First index of `sorted` whose key is ≥ `start`. */
function lowerBound(sorted: string[], start: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8(sorted[mid]!, start) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class MapScan implements StateScan {
  private readonly keys: string[];
  private i: number;
  private returned = 0;
  private finished = false;

  constructor(
    private readonly view: View,
    private readonly bounds: Bounds,
    private readonly check: () => void,
  ) {
    check();
    this.keys = view.sorted();
    this.i = bounds.start === undefined ? 0 : lowerBound(this.keys, bounds.start);
  }

  [Symbol.iterator](): this {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<[string, Uint8Array]> {
    return asyncOver(this);
  }

  next(): IteratorResult<[string, Uint8Array]> {
    if (this.finished) return { done: true, value: undefined };
    this.check();
    const { end, prefix, limit } = this.bounds;
    while (this.i < this.keys.length && this.returned < limit) {
      const key = this.keys[this.i++]!;
      if (end !== undefined && compareUtf8(key, end) >= 0) break;
      if (prefix !== undefined && !key.startsWith(prefix)) break;
      const value = this.view.map.get(key);
      if (value === undefined) continue; // deleted since the scan started
      this.returned++;
      return { done: false, value: [key, value] };
    }
    return this.return();
  }

  return(): IteratorResult<[string, Uint8Array]> {
    this.finished = true;
    return { done: true, value: undefined };
  }
}

function* keysOf(scan: StateScan): IterableIterator<string> {
  for (const [key] of scan) yield key;
}

/** A snapshot of a {@link MapStateBackend}: the `Map` as it was (the store copies before writing). */
class MapSnapshot implements StateSnapshot {
  readonly size: number;
  private released = false;
  private readonly view: View;
  private readonly check = () => {
    if (this.released) throw new TidemarkError('TIDEMARK_CLOSED', 'this state snapshot was released');
  };

  constructor(
    map: Map<string, Uint8Array>,
    sorted: () => string[],
    readonly sizeBytes: number,
  ) {
    this.size = map.size;
    let keys: string[] | undefined;
    this.view = { map, sorted: () => (keys ??= sorted()) };
  }

  get(key: string): Uint8Array | undefined {
    this.check();
    checkKey('get(key)', key);
    return this.view.map.get(key);
  }

  has(key: string): boolean {
    this.check();
    checkKey('has(key)', key);
    return this.view.map.has(key);
  }

  prefixScan(prefix: string, options?: StateScanOptions): StateScan {
    return new MapScan(this.view, prefixBounds(prefix, options), this.check);
  }

  rangeScan(start: string | undefined, end: string | undefined, options?: StateScanOptions): StateScan {
    return new MapScan(this.view, rangeBoundsOf(start, end, options), this.check);
  }

  entries(): StateScan {
    return new MapScan(this.view, ALL, this.check);
  }

  keys(): IterableIterator<string> {
    return keysOf(this.entries());
  }

  [Symbol.iterator](): StateScan {
    return this.entries();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.view.map = new Map();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** The `'map'` state backend (module comment: references, order, snapshots). */
export class MapStateBackend implements StateBackend {
  readonly kind: StateBackendKind = 'map';
  private map = new Map<string, Uint8Array>();
  /** True while a snapshot holds `map`: the next write copies it first. */
  private shared = false;
  private sortedKeys: string[] | undefined;
  private bytes = 0;
  private readonly view: View = {
    map: this.map,
    sorted: () => this.sorted(),
  };
  private readonly noCheck = () => {};

  /** Starts with `entries` (kept by reference), if given. */
  constructor(entries?: Iterable<readonly [string, Uint8Array]>) {
    if (entries) for (const [key, value] of entries) this.put(key, value);
  }

  get size(): number {
    return this.map.size;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get(key: string): Uint8Array | undefined {
    checkKey('get(key)', key);
    return this.map.get(key);
  }

  has(key: string): boolean {
    checkKey('has(key)', key);
    return this.map.has(key);
  }

  put(key: string, value: Uint8Array): void {
    checkKey('put(key)', key);
    checkValue('put(value)', key, value);
    this.set(key, value);
  }

  delete(key: string): boolean {
    checkKey('delete(key)', key);
    return this.remove(key);
  }

  /** `put()` without the checks (see `StateBackend.putUnchecked`). */
  putUnchecked(key: string, value: Uint8Array): void {
    this.set(key, value);
  }

  /** `delete()` without the check (see `StateBackend.deleteUnchecked`). */
  deleteUnchecked(key: string): boolean {
    return this.remove(key);
  }

  putBytes(
    bytes: Uint8Array,
    { keyStart, keyLength, valueStart, valueLength }: Readonly<StateFileEntryRange>,
  ): void {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const value = Buffer.allocUnsafe(valueLength);
    b.copy(value, 0, valueStart, valueStart + valueLength);
    this.set(b.toString('utf8', keyStart, keyStart + keyLength), value);
  }

  deleteBytes(bytes: Uint8Array, keyStart: number, keyLength: number): boolean {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return this.remove(b.toString('utf8', keyStart, keyStart + keyLength));
  }

  prefixScan(prefix: string, options?: StateScanOptions): StateScan {
    return new MapScan(this.view, prefixBounds(prefix, options), this.noCheck);
  }

  rangeScan(start: string | undefined, end: string | undefined, options?: StateScanOptions): StateScan {
    return new MapScan(this.view, rangeBoundsOf(start, end, options), this.noCheck);
  }

  entries(): StateScan {
    return new MapScan(this.view, ALL, this.noCheck);
  }

  keys(): IterableIterator<string> {
    return keysOf(this.entries());
  }

  /** Every entry, in key order (`for (const [key, value] of state)`). */
  [Symbol.iterator](): StateScan {
    return this.entries();
  }

  snapshot(): StateSnapshot {
    this.shared = true;
    const sorted = this.sortedKeys;
    const map = this.map;
    // The snapshot sorts its own keys lazily unless the store's cached order is already current.
    return new MapSnapshot(map, () => sorted ?? [...map.keys()].sort(compareUtf8), this.bytes);
  }

  private set(key: string, value: Uint8Array): void {
    this.writable();
    const old = this.map.get(key);
    if (old === undefined) {
      this.sortedKeys = undefined;
      this.bytes += Buffer.byteLength(key, 'utf8');
    } else {
      this.bytes -= old.byteLength;
    }
    this.map.set(key, value);
    this.bytes += value.byteLength;
  }

  private remove(key: string): boolean {
    const old = this.map.get(key);
    if (old === undefined) return false;
    this.writable();
    this.map.delete(key);
    this.sortedKeys = undefined;
    this.bytes -= Buffer.byteLength(key, 'utf8') + old.byteLength;
    return true;
  }

  /** Copies the `Map` away from the snapshot that holds it, once. */
  private writable(): void {
    if (!this.shared) return;
    this.map = new Map(this.map);
    this.view.map = this.map;
    this.shared = false;
  }

  private sorted(): string[] {
    this.sortedKeys ??= [...this.map.keys()].sort(compareUtf8);
    return this.sortedKeys;
  }
}
