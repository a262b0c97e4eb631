/**
 * The byte slabs of the slab store: every key and value lives in a large `ArrayBuffer`, not as
 * a JavaScript object, so the number of entries is not bounded by V8's collection limits and an
 * entry costs its bytes plus a 2..10-byte header.
 *
 * A record is `varint(keyLength) varint(valueLength) key value` (LEB128 varints; the key is its
 * UTF-8 encoding). Records are appended to the head slab and, once written, are never moved in
 * place: an overwrite appends a new record (or rewrites the value bytes in place when the length
 * is unchanged and no snapshot can see the record, see {@link SlabArena.position}) and the old one
 * becomes garbage until compaction evacuates its slab (log-structured, like RocksDB's BlobDB or
 * an LSM's value log).
 *
 * A record is named by a ref, one double: `slabIndex * SLAB_SPAN + offset` (exact up to 2^53).
 * Slabs grow geometrically from `minSlabBytes` to `maxSlabBytes` (so a small store does not hold a
 * 64 MiB buffer); a record larger than `maxSlabBytes` gets a slab of its own.
 */
import { assert } from '../errors.js';

/** Ref arithmetic: a slab is at most 256 MiB, so an offset fits below `SLAB_SPAN`. */
export const SLAB_SPAN = 2 ** 28;
/** Most slabs alive at once (2^24 × 256 MiB is far past any machine). */
const MAX_SLABS = 2 ** 24;

/** One byte slab. */
export interface Slab {
  readonly bytes: Uint8Array;
  /** A `Buffer` view of `bytes`, for fast UTF-8 decoding of keys. */
  readonly buf: Buffer;
  /** Allocation order, never reused: orders records by age across slab reuse (see `position`). */
  readonly seq: number;
  /** Bytes appended so far. */
  used: number;
  /** Bytes of records the live index points at (from the leaves). */
  live: number;
  /** True once evacuated: no new record goes here, it is freed when no snapshot can see it. */
  retired: boolean;
}

/** Bytes a LEB128 varint of `n` takes. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Threads: not thread-safe: one thread (the store's). */
export class SlabArena {
  readonly slabs: (Slab | undefined)[] = [];
  private readonly freeIndexes: number[] = [];
  private headIndex = -1;
  private nextSeq = 1;
  private nextSlabBytes: number;
  /** Sum of `used` over slabs still allocated. */
  usedBytes = 0;
  /** Sum of `live` over slabs still allocated. */
  liveBytes = 0;
  /** Sum of slab capacities still allocated. */
  allocatedBytes = 0;

  // Decoded by `decode()`; read right after the call (no allocation per record).
  /** Slab of the last decoded record. */
  dSlab!: Slab;
  /** Start of the key bytes of the last decoded record. */
  dKey = 0;
  /** Key length of the last decoded record. */
  dKeyLength = 0;
  /** Value length of the last decoded record (the value follows the key). */
  dValueLength = 0;
  /** Whole record length (header + key + value) of the last decoded record. */
  dRecordLength = 0;

  constructor(
    minSlabBytes: number,
    private readonly maxSlabBytes: number,
  ) {
    assert(minSlabBytes >= 64 && minSlabBytes <= maxSlabBytes && maxSlabBytes <= SLAB_SPAN, 'slab sizes');
    this.nextSlabBytes = minSlabBytes;
  }

  /** Number of slabs allocated. */
  get slabCount(): number {
    return this.slabs.length - this.freeIndexes.length;
  }

  /** Decodes the record at `ref` into the `d*` fields. */
  decode(ref: number): void {
    const index = (ref / SLAB_SPAN) | 0;
    const slab = this.slabs[index];
    assert(slab !== undefined, `ref ${ref} names a freed slab`);
    const b = slab.bytes;
    let p = ref - index * SLAB_SPAN;
    const start = p;
    let keyLength = b[p++]!;
    if (keyLength >= 0x80) {
      keyLength &= 0x7f;
      let shift = 128;
      let byte: number;
      do {
        byte = b[p++]!;
        keyLength += (byte & 0x7f) * shift;
        shift *= 128;
      } while (byte >= 0x80);
    }
    let valueLength = b[p++]!;
    if (valueLength >= 0x80) {
      valueLength &= 0x7f;
      let shift = 128;
      let byte: number;
      do {
        byte = b[p++]!;
        valueLength += (byte & 0x7f) * shift;
        shift *= 128;
      } while (byte >= 0x80);
    }
    this.dSlab = slab;
    this.dKey = p;
    this.dKeyLength = keyLength;
    this.dValueLength = valueLength;
    this.dRecordLength = p - start + keyLength + valueLength;
  }

  /**
   * Compares the key at `ref` with `query[0, queryLength)` in unsigned byte order: negative when
   * the stored key sorts first.
   */
  compare(ref: number, query: Uint8Array, queryLength: number): number {
    const index = (ref / SLAB_SPAN) | 0;
    const slab = this.slabs[index];
    assert(slab !== undefined, `ref ${ref} names a freed slab`);
    const b = slab.bytes;
    let p = ref - index * SLAB_SPAN;
    let keyLength = b[p++]!;
    if (keyLength >= 0x80) {
      this.decode(ref);
      p = this.dKey;
      keyLength = this.dKeyLength;
    } else {
      while (b[p++]! >= 0x80) {} // skip the value length
    }
    const n = Math.min(keyLength, queryLength);
    for (let i = 0; i < n; i++) {
      const d = b[p + i]! - query[i]!;
      if (d !== 0) return d;
    }
    return keyLength - queryLength;
  }

  /** Age of the record at `ref`: larger is newer, across slabs (see `Slab.seq`). */
  position(ref: number): number {
    const index = (ref / SLAB_SPAN) | 0;
    const slab = this.slabs[index];
    assert(slab !== undefined, `ref ${ref} names a freed slab`);
    return slab.seq * SLAB_SPAN + (ref - index * SLAB_SPAN);
  }

  /** Position the next appended record will have (records at or after it are newer). */
  headPosition(): number {
    const head = this.slabs[this.headIndex];
    return head === undefined ? this.nextSeq * SLAB_SPAN : head.seq * SLAB_SPAN + head.used;
  }

  /**
   * Appends a record of `key[0, keyLength)` and `value[valueStart, valueStart + valueLength)`;
   * returns its ref. Counts it live.
   */
  append(
    key: Uint8Array,
    keyStart: number,
    keyLength: number,
    value: Uint8Array,
    valueStart: number,
    valueLength: number,
  ): number {
    const headerLength = varintSize(keyLength) + varintSize(valueLength);
    const recordLength = headerLength + keyLength + valueLength;
    const index = this.reserve(recordLength);
    const slab = this.slabs[index]!;
    const b = slab.bytes;
    const offset = slab.used;
    let p = offset;
    for (let n = keyLength; ; ) {
      if (n < 0x80) {
        b[p++] = n;
        break;
      }
      b[p++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    for (let n = valueLength; ; ) {
      if (n < 0x80) {
        b[p++] = n;
        break;
      }
      b[p++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    // Short runs byte by byte; longer ones through a plain Uint8Array view (`subarray` on a
    // Buffer goes through its species constructor, several times the cost, once per record).
    if (keyLength <= 32) for (let i = 0; i < keyLength; i++) b[p + i] = key[keyStart + i]!;
    else b.set(new Uint8Array(key.buffer, key.byteOffset + keyStart, keyLength), p);
    p += keyLength;
    if (valueLength <= 32) for (let i = 0; i < valueLength; i++) b[p + i] = value[valueStart + i]!;
    else b.set(new Uint8Array(value.buffer, value.byteOffset + valueStart, valueLength), p);
    slab.used += recordLength;
    slab.live += recordLength;
    this.usedBytes += recordLength;
    this.liveBytes += recordLength;
    return index * SLAB_SPAN + offset;
  }

  /** The record at `ref` is no longer pointed at by the live index: its bytes become garbage. */
  kill(ref: number): void {
    this.decode(ref);
    const slab = this.dSlab;
    slab.live -= this.dRecordLength;
    this.liveBytes -= this.dRecordLength;
    assert(slab.live >= 0 && this.liveBytes >= 0, 'slab live bytes went negative');
  }

  /** The slab at `index` (asserted allocated). */
  slab(index: number): Slab {
    const slab = this.slabs[index];
    assert(slab !== undefined, `slab ${index} is not allocated`);
    return slab;
  }

  /** True when `index` is the slab new records go to. */
  isHead(index: number): boolean {
    return index === this.headIndex;
  }

  /** Frees a retired slab (no index and no snapshot points into it any more). */
  free(index: number): void {
    const slab = this.slab(index);
    assert(slab.retired && slab.live === 0, `slab ${index} freed while live`);
    this.usedBytes -= slab.used;
    this.allocatedBytes -= slab.bytes.byteLength;
    this.slabs[index] = undefined;
    this.freeIndexes.push(index);
  }

  /** Marks a slab evacuated; new records never go to it again. */
  retire(index: number): void {
    const slab = this.slab(index);
    assert(!slab.retired && index !== this.headIndex, `slab ${index} retired twice or while head`);
    slab.retired = true;
  }

  /** Index of a slab with room for `recordLength` bytes, allocating one when needed. */
  private reserve(recordLength: number): number {
    const head = this.slabs[this.headIndex];
    if (head !== undefined && head.bytes.byteLength - head.used >= recordLength) return this.headIndex;
    if (recordLength > this.maxSlabBytes) return this.allocate(recordLength); // a slab of its own
    let size = this.nextSlabBytes;
    while (size < recordLength) size *= 2;
    size = Math.min(size, this.maxSlabBytes);
    this.nextSlabBytes = Math.min(size * 2, this.maxSlabBytes);
    this.headIndex = this.allocate(size);
    return this.headIndex;
  }

  private allocate(size: number): number {
    assert(size <= SLAB_SPAN, `slab of ${size} bytes`);
    const bytes = new Uint8Array(size);
    const index = this.freeIndexes.pop() ?? this.slabs.length;
    assert(index < MAX_SLABS, 'too many slabs');
    this.slabs[index] = {
      bytes,
      buf: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      seq: this.nextSeq++,
      used: 0,
      live: 0,
      retired: false,
    };
    this.allocatedBytes += size;
    return index;
  }
}
