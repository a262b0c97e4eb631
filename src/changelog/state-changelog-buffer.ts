/**
 * `StateChangelogBuffer` (the seeds' Ring 0 SPSC changelog buffer): a single-producer
 * single-consumer ring of 32-byte {@link StateChangelogEntry} slots on a SharedArrayBuffer, with
 * a payload arena in the same shared memory that holds each entry's key and value bytes.
 *
 * Layout of the shared buffer (docs/FORMAT.md, "Ring 0 → Ring 1 shared memory"):
 *
 *     [ control block 256 B | error area 4 KiB | entries: capacity × 32 B | arena: arenaBytes ]
 *
 * Indices are free-running wrapping u32 counters, never reduced modulo the size; a slot is
 * `counter & mask`. With `capacity` a power of two ≤ 2^24 the unsigned difference is exact:
 *
 *     entries:   tail ≤ head,   used = (head − tail) mod 2^32,   0 ≤ used ≤ capacity
 *                empty ⇔ used = 0          full ⇔ used = capacity
 *
 *          tail                    head
 *            ▼                       ▼
 *     [ . . # # # # # # # # # # # # . . . ]      # = published, not yet consumed
 *     [ # # # # . . . . . . . . . # # # # ]      wrapped: head & mask < tail & mask
 *                ▲                 ▲
 *              head              tail
 *
 *     arena:     arenaTail ≤ arenaHead,  used = (arenaHead − arenaTail) mod 2^32 ≤ arenaBytes
 *                A payload is contiguous: when it does not fit before the end of the arena,
 *                the producer skips to offset 0 and the skipped bytes count as used until the
 *                consumer passes them (it releases up to the end of the last payload it read).
 *
 * Ordering: the producer writes the payload and the entry with plain stores, then publishes with
 * `Atomics.store(head)`; the consumer `Atomics.load`s head before reading them (a
 * synchronizes-with edge in the JS memory model). The consumer releases with `Atomics.store` of
 * tail and arenaTail after it has copied the payloads out.
 *
 * `push*()` allocate nothing and make no syscall; they return `false` when the ring or the arena
 * is full. Waking a sleeping consumer is a separate call ({@link wakeConsumer}), made by the
 * store only when work has piled up or someone awaits durability.
 */
import { TidemarkError } from '../errors.js';
import {
  BATCH_RECORD_HEADER_SIZE,
  BATCH_RECORD_LENGTH_OFFSET,
  BATCH_RECORD_TYPE_OFFSET,
  CHANGELOG_ENTRY_SIZE,
  CHANGELOG_ENTRY_WORDS,
  CHANGELOG_EPOCH_HI_WORD,
  CHANGELOG_EPOCH_LO_WORD,
  CHANGELOG_KEY_LENGTH_WORD,
  CHANGELOG_OP_WORD,
  CHANGELOG_PAYLOAD_LENGTH_WORD,
  CHANGELOG_PAYLOAD_POSITION_WORD,
  CHANGELOG_RESERVED_WORD,
  CHANGELOG_SEQUENCE_WORD,
  MAX_ARENA_BYTES,
  MAX_KEY_BYTES,
  MAX_RING_ENTRIES,
  PUT_KEY_LENGTH_SIZE,
  RING_ARENA_HEAD_WORD,
  RING_ARENA_SIZE_WORD,
  RING_ARENA_TAIL_WORD,
  RING_CAPACITY_WORD,
  RING_CONSUMER_SLEEPING_WORD,
  RING_CONTROL_SIZE,
  RING_EPOCH_WORD,
  RING_ERROR_AREA_SIZE,
  RING_HEAD_WORD,
  RING_LAYOUT_MAGIC,
  RING_LAYOUT_MAGIC_WORD,
  RING_PRODUCER_WAITING_WORD,
  RING_STATE_WORD,
  RING_STATS_COUNT,
  RING_STATS_FLOAT_OFFSET,
  RING_TAIL_WORD,
  RingState,
  StateOp,
} from '../format/constants.js';
import type { PayloadEncoder } from '../format/entry-codec.js';

/** Sizes of a new buffer. Both must be powers of two. */
export interface StateChangelogBufferOptions {
  /** Ring slots (entries). Default 65,536 (2 MiB of entries); at most 2^24. */
  capacityEntries?: number;
  /** Payload arena, bytes. Default 32 MiB; at most 1 GiB. */
  arenaBytes?: number;
}

/** One consumed entry, as passed to the drain visitor (a reused object: copy what you keep). */
export interface StateChangelogEntry {
  /** Epoch the producer was in when it pushed the entry. */
  epoch: number;
  /** The mutation. */
  op: StateOp;
  /** Low 32 bits of the entry's changelog sequence. */
  sequenceLow: number;
  /** Key bytes (Put, Delete), else 0. */
  keyLength: number;
  /** Arena bytes holding the payload: a view valid only inside the visitor. */
  payload: Buffer;
  /** Offset of the payload in `payload` (the arena). */
  payloadOffset: number;
  /** Payload length in bytes: exactly the WAL record payload of `op`. */
  payloadLength: number;
}

function powerOfTwo(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 2 || value > max || (value & (value - 1)) !== 0) {
    throw new TidemarkError(
      'TIDEMARK_INVALID_ARGUMENT',
      `${name} must be a power of two in [2, ${max}], got ${value}`,
    );
  }
  return value;
}

/** Bytes of the WAL record header before each arena payload (see `pushPut`). */
const RECORD_HDR = BATCH_RECORD_HEADER_SIZE;

/** Byte offset of the entries region. */
const ENTRIES_OFFSET = RING_CONTROL_SIZE + RING_ERROR_AREA_SIZE;

/**
 * The SPSC ring. Ring 0 uses the producer half, Ring 1 the consumer half, over the same memory.
 *
 * Threads: shared by exactly two threads over a `SharedArrayBuffer`: one producer (Ring 0,
 * `create`) and one consumer (Ring 1, `attach`) — single-producer, single-consumer; never two
 * producers or two consumers.
 */
export class StateChangelogBuffer {
  /** The shared memory; pass it to the other thread and {@link StateChangelogBuffer.attach} there. */
  readonly shared: SharedArrayBuffer;
  /** Control words (Int32 view of the control block). */
  readonly control: Int32Array;
  /** Control as 64-bit words (for the durable watermark). */
  readonly control64: BigInt64Array;
  /** The error area (JSON written by Ring 1 when it fails). */
  readonly errorArea: Uint8Array;
  /** Ring 1's counters (see `RingStat`). */
  readonly statsArea: Float64Array;
  /** Ring slots (entries). */
  readonly capacityEntries: number;
  /** Size of the payload arena (bytes). */
  readonly arenaBytes: number;
  private readonly entries: Int32Array;
  private readonly arena: Buffer;
  private readonly entryMask: number;
  private readonly arenaMask: number;

  // Producer-local state (only the producer thread touches these).
  private head = 0;
  private arenaHead = 0;
  private cachedTail = 0;
  private cachedArenaTail = 0;
  /** Changelog sequence of the next entry pushed (set by the store from the recovered state). */
  nextSequence = 1;

  // Consumer-local state.
  private tail = 0;
  private readonly view: StateChangelogEntry;

  private constructor(shared: SharedArrayBuffer, create: StateChangelogBufferOptions | undefined) {
    this.shared = shared;
    this.control = new Int32Array(shared, 0, RING_CONTROL_SIZE / 4);
    this.control64 = new BigInt64Array(shared, 0, RING_CONTROL_SIZE / 8);
    this.errorArea = new Uint8Array(shared, RING_CONTROL_SIZE, RING_ERROR_AREA_SIZE);
    this.statsArea = new Float64Array(shared, RING_STATS_FLOAT_OFFSET * 8, RING_STATS_COUNT);
    if (create) {
      this.capacityEntries = create.capacityEntries!;
      this.arenaBytes = create.arenaBytes!;
      this.control[RING_CAPACITY_WORD] = this.capacityEntries;
      this.control[RING_ARENA_SIZE_WORD] = this.arenaBytes;
      Atomics.store(this.control, RING_LAYOUT_MAGIC_WORD, RING_LAYOUT_MAGIC);
    } else {
      if (Atomics.load(this.control, RING_LAYOUT_MAGIC_WORD) !== RING_LAYOUT_MAGIC) {
        throw new TidemarkError('TIDEMARK_INVALID_ARGUMENT', 'shared buffer is not a StateChangelogBuffer');
      }
      this.capacityEntries = powerOfTwo(
        'capacityEntries',
        this.control[RING_CAPACITY_WORD]!,
        MAX_RING_ENTRIES,
      );
      this.arenaBytes = powerOfTwo('arenaBytes', this.control[RING_ARENA_SIZE_WORD]!, MAX_ARENA_BYTES);
    }
    this.entries = new Int32Array(shared, ENTRIES_OFFSET, this.capacityEntries * CHANGELOG_ENTRY_WORDS);
    const arenaOffset = ENTRIES_OFFSET + this.capacityEntries * CHANGELOG_ENTRY_SIZE;
    this.arena = Buffer.from(shared, arenaOffset, this.arenaBytes);
    this.entryMask = this.capacityEntries - 1;
    this.arenaMask = this.arenaBytes - 1;
    this.head = Atomics.load(this.control, RING_HEAD_WORD) >>> 0;
    this.arenaHead = Atomics.load(this.control, RING_ARENA_HEAD_WORD) >>> 0;
    this.tail = Atomics.load(this.control, RING_TAIL_WORD) >>> 0;
    this.cachedTail = this.tail;
    this.cachedArenaTail = Atomics.load(this.control, RING_ARENA_TAIL_WORD) >>> 0;
    this.view = {
      epoch: 0,
      op: StateOp.Put,
      sequenceLow: 0,
      keyLength: 0,
      payload: this.arena,
      payloadOffset: 0,
      payloadLength: 0,
    };
  }

  /** Allocates a new ring. Throws `TIDEMARK_INVALID_ARGUMENT` for sizes that are not powers of two. */
  static create(options: StateChangelogBufferOptions = {}): StateChangelogBuffer {
    const capacityEntries = powerOfTwo(
      'capacityEntries',
      options.capacityEntries ?? 65_536,
      MAX_RING_ENTRIES,
    );
    const arenaBytes = powerOfTwo('arenaBytes', options.arenaBytes ?? 32 * 1024 * 1024, MAX_ARENA_BYTES);
    const shared = new SharedArrayBuffer(
      ENTRIES_OFFSET + capacityEntries * CHANGELOG_ENTRY_SIZE + arenaBytes,
    );
    // Touch every page now, at open, so no push pays a first-touch page fault (measured: the
    // faults of a fresh arena moved push p99 from ~0.6 µs to ~2.6 µs).
    new Uint8Array(shared).fill(0);
    return new StateChangelogBuffer(shared, { capacityEntries, arenaBytes });
  }

  /** Opens the other side of a ring created with {@link StateChangelogBuffer.create}. */
  static attach(shared: SharedArrayBuffer): StateChangelogBuffer {
    return new StateChangelogBuffer(shared, undefined);
  }

  /** Largest payload a single entry may carry: a quarter of the arena. */
  get maxPayloadBytes(): number {
    return this.arenaBytes >>> 2;
  }

  // ── producer (Ring 0) ──────────────────────────────────────────────────────────────────────

  /** Entries pushed and not yet known to be consumed (from the producer's cached tail). */
  get pendingEntries(): number {
    return (this.head - this.cachedTail) >>> 0;
  }

  /** Arena bytes in use as last seen by the producer. */
  get pendingArenaBytes(): number {
    return (this.arenaHead - this.cachedArenaTail) >>> 0;
  }

  /**
   * Pushes a Put of `key` = `value`. Returns `false` (and changes nothing) when the ring or the
   * arena has no room. Throws, changing nothing: `TIDEMARK_INVALID_ARGUMENT` for a key holding a
   * lone UTF-16 surrogate (UTF-8 cannot carry it: it would be written as U+FFFD and merge with
   * another key), `TIDEMARK_LIMIT` for a key over 64 KiB or a payload over {@link maxPayloadBytes}.
   * The key is checked as it is encoded, so a full ring returns `false` before looking at it.
   *
   * The key and value bytes are written into the arena once; an ASCII key (no code unit ≥ 0x80,
   * hence no surrogate) needs no other check. Nothing is allocated.
   */
  pushPut(key: string, value: Uint8Array, epoch: number): boolean {
    const n = key.length;
    const valueBytes = value.length;
    let bound = PUT_KEY_LENGTH_SIZE + n * 3 + valueBytes;
    // The cheap bound (3 UTF-8 bytes per UTF-16 unit) may overshoot the cap for a put that fits:
    // then reserve the exact size, so the cap the store checks at the call is the cap applied here.
    if (bound > this.arenaBytes >>> 2)
      bound = PUT_KEY_LENGTH_SIZE + Buffer.byteLength(key, 'utf8') + valueBytes;
    // Entries are packed back to back, with no alignment padding, so that consecutive records
    // form one contiguous arena run: Ring 1 writes a group as one iovec per run and CRCs each run
    // in one call. Padding each value to its source's alignment modulo 8 (V8 copies into shared
    // memory a word at a time only when source and destination agree modulo 8, else byte by
    // byte) made 7 in 8 records a run of their own; measured (docs/PERFORMANCE.md, "Arena
    // entries packed back to back"), a run per record costs Ring 1 more per record than the
    // byte-wise copy costs Ring 0, at 100 B and at 1 KiB values.
    // The arena entry is the record as a WAL batch stores it: a 5-byte record header (type,
    // payload length), then the payload; Ring 1 writes it to the file from here, uncopied.
    const at = this.reserve(bound);
    if (at < 0) return false;
    const arena = this.arena;
    const rec = at & this.arenaMask;
    const off = rec + RECORD_HDR;
    const keyAt = off + PUT_KEY_LENGTH_SIZE;
    let keyBytes = 0;
    for (; keyBytes < n; keyBytes++) {
      const c = key.charCodeAt(keyBytes);
      if (c >= 0x80) break;
      arena[keyAt + keyBytes] = c;
    }
    if (keyBytes < n) keyBytes = this.encodeKey(key, keyAt);
    else if (keyBytes > MAX_KEY_BYTES) throw keyOverCap(keyBytes);
    arena[off] = keyBytes;
    arena[off + 1] = keyBytes >>> 8;
    arena[off + 2] = keyBytes >>> 16;
    arena[off + 3] = 0; // keyBytes ≤ MAX_KEY_BYTES < 2^24
    arena.set(value, keyAt + keyBytes);
    const length = PUT_KEY_LENGTH_SIZE + keyBytes + valueBytes;
    this.writeRecordHeader(rec, StateOp.Put, length);
    this.publish(StateOp.Put, epoch, (at + RECORD_HDR) >>> 0, length, keyBytes);
    return true;
  }

  /** Pushes a Delete of `key`. Same contract as {@link pushPut}. */
  pushDelete(key: string, epoch: number): boolean {
    const n = key.length;
    let bound = n * 3;
    if (bound > this.arenaBytes >>> 2) bound = Buffer.byteLength(key, 'utf8');
    const at = this.reserve(bound);
    if (at < 0) return false;
    const arena = this.arena;
    const rec = at & this.arenaMask;
    const off = rec + RECORD_HDR;
    let keyBytes = 0;
    for (; keyBytes < n; keyBytes++) {
      const c = key.charCodeAt(keyBytes);
      if (c >= 0x80) break;
      arena[off + keyBytes] = c;
    }
    if (keyBytes < n) keyBytes = this.encodeKey(key, off);
    else if (keyBytes > MAX_KEY_BYTES) throw keyOverCap(keyBytes);
    this.writeRecordHeader(rec, StateOp.Delete, keyBytes);
    this.publish(StateOp.Delete, epoch, (at + RECORD_HDR) >>> 0, keyBytes, keyBytes);
    return true;
  }

  /** Pushes a Commit or Abort whose payload `encoder` writes (not a hot path: commits are per batch). */
  pushEncoded(
    op: typeof StateOp.Commit | typeof StateOp.Abort,
    encoder: PayloadEncoder,
    epoch: number,
  ): boolean {
    const length = encoder.byteLength;
    const at = this.reserve(length);
    if (at < 0) return false;
    const rec = at & this.arenaMask;
    encoder.encodeInto(this.arena, rec + RECORD_HDR);
    this.writeRecordHeader(rec, op, length);
    this.publish(op, epoch, (at + RECORD_HDR) >>> 0, length, 0);
    return true;
  }

  /**
   * Ring 0's per-put look at the ring's state: true while Ring 1 runs. A plain read of the state
   * word, not `Atomics.load`, which V8 (Node 20) does not inline: two such calls were ~430 of a
   * put's ~3,000 instructions (callgrind). An aligned Int32 read never tears, and a stale
   * "running" is the same race as a failure landing just after the check: the put goes into the
   * ring, and whoever awaits its durability gets the failure. The push's own `Atomics.store`
   * keeps the compiler from caching this read across puts.
   */
  get runningHint(): boolean {
    return this.control[RING_STATE_WORD] === RingState.Running;
  }

  /** The epoch Ring 1 last published, by a plain read (see {@link runningHint}); for stamping entries. */
  get epochHint(): number {
    return this.control[RING_EPOCH_WORD]!;
  }

  /** Sets the "producer waiting for space" flag; the consumer notifies the tail word when set. */
  setProducerWaiting(waiting: boolean): void {
    Atomics.store(this.control, RING_PRODUCER_WAITING_WORD, waiting ? 1 : 0);
  }

  /** The consumer's tail as a waitable word (for `Atomics.waitAsync`). */
  loadTail(): number {
    return Atomics.load(this.control, RING_TAIL_WORD);
  }

  /**
   * Refreshes the producer's view of the consumer's position and wakes the consumer if it is
   * sleeping (one futex wake; never called per push). Returns true when it woke it.
   */
  wakeConsumer(): boolean {
    this.cachedTail = Atomics.load(this.control, RING_TAIL_WORD) >>> 0;
    this.cachedArenaTail = Atomics.load(this.control, RING_ARENA_TAIL_WORD) >>> 0;
    if (Atomics.load(this.control, RING_CONSUMER_SLEEPING_WORD) !== 1) return false;
    Atomics.notify(this.control, RING_HEAD_WORD, 1);
    return true;
  }

  /**
   * Reserves contiguous arena bytes for a record header and a payload of up to `bound` bytes;
   * returns the wrapping arena position of the header, or -1 when full.
   */
  private reserve(payloadBound: number): number {
    const bound = payloadBound + RECORD_HDR;
    if (payloadBound > this.arenaBytes >>> 2) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `changelog payload of up to ${payloadBound} bytes is over the cap of ${this.arenaBytes >>> 2} (a quarter of arenaBytes)`,
      );
    }
    if ((this.head - this.cachedTail) >>> 0 >= this.capacityEntries) {
      this.cachedTail = Atomics.load(this.control, RING_TAIL_WORD) >>> 0;
      if ((this.head - this.cachedTail) >>> 0 >= this.capacityEntries) return -1;
    }
    let at = this.arenaHead;
    const off = at & this.arenaMask;
    if (off + bound > this.arenaBytes) at = (at + (this.arenaBytes - off)) >>> 0; // skip to offset 0
    if (((at - this.cachedArenaTail) >>> 0) + bound > this.arenaBytes) {
      this.cachedArenaTail = Atomics.load(this.control, RING_ARENA_TAIL_WORD) >>> 0;
      if (((at - this.cachedArenaTail) >>> 0) + bound > this.arenaBytes) return -1;
    }
    return at;
  }

  /**
   * Writes a key that is not all ASCII at arena offset `off` (its bytes were reserved with the
   * 3-bytes-per-unit bound) and returns its UTF-8 length. Only a string with a UTF-16 surrogate can
   * be ill-formed; `isWellFormed` answers at once for a one-byte (Latin-1) string.
   */
  private encodeKey(key: string, off: number): number {
    if (!key.isWellFormed()) {
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        'a changelog key must be a well-formed string (it holds a lone UTF-16 surrogate)',
      );
    }
    const keyBytes = this.arena.write(key, off, 'utf8');
    if (keyBytes > MAX_KEY_BYTES) throw keyOverCap(keyBytes);
    return keyBytes;
  }

  /** Writes the record header of a WAL batch (u8 type, u32 LE payload length) at arena offset `at`. */
  private writeRecordHeader(at: number, type: number, length: number): void {
    const arena = this.arena;
    arena[at + BATCH_RECORD_TYPE_OFFSET] = type;
    const p = at + BATCH_RECORD_LENGTH_OFFSET;
    arena[p] = length;
    arena[p + 1] = length >>> 8;
    arena[p + 2] = length >>> 16;
    arena[p + 3] = length >>> 24;
  }

  private publish(op: number, epoch: number, at: number, length: number, keyBytes: number): void {
    const slot = (this.head & this.entryMask) * CHANGELOG_ENTRY_WORDS;
    const e = this.entries;
    e[slot + CHANGELOG_EPOCH_LO_WORD] = epoch >>> 0;
    e[slot + CHANGELOG_EPOCH_HI_WORD] = (epoch / 4294967296) >>> 0;
    e[slot + CHANGELOG_RESERVED_WORD] = 0;
    e[slot + CHANGELOG_PAYLOAD_POSITION_WORD] = at;
    e[slot + CHANGELOG_PAYLOAD_LENGTH_WORD] = length;
    e[slot + CHANGELOG_KEY_LENGTH_WORD] = keyBytes;
    e[slot + CHANGELOG_OP_WORD] = op;
    e[slot + CHANGELOG_SEQUENCE_WORD] = this.nextSequence >>> 0;
    this.arenaHead = (at + length) >>> 0;
    this.head = (this.head + 1) >>> 0;
    this.nextSequence++;
    this.control[RING_ARENA_HEAD_WORD] = this.arenaHead | 0; // informational: published by the head store below
    Atomics.store(this.control, RING_HEAD_WORD, this.head | 0);
  }

  // ── consumer (Ring 1) ──────────────────────────────────────────────────────────────────────

  /** Entries published and not yet consumed (consumer's view). */
  available(): number {
    return (Atomics.load(this.control, RING_HEAD_WORD) - this.tail) >>> 0;
  }

  /**
   * Consumes up to `max` entries in order — stopping early once `maxBytes` of payload have been
   * visited — calling `visit` for each with a reused entry view whose payload is valid only during
   * the call; then releases their slots and arena bytes. Returns the number consumed.
   */
  drain(
    visit: (entry: StateChangelogEntry) => void,
    max: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): number {
    const head = Atomics.load(this.control, RING_HEAD_WORD) >>> 0;
    let count = (head - this.tail) >>> 0;
    if (count === 0) return 0;
    if (count > max) count = max;
    const e = this.entries;
    const view = this.view;
    let releaseTo = 0;
    let bytes = 0;
    let i = 0;
    for (; i < count && bytes < maxBytes; i++) {
      const slot = ((this.tail + i) & this.entryMask) * CHANGELOG_ENTRY_WORDS;
      const at = e[slot + CHANGELOG_PAYLOAD_POSITION_WORD]! >>> 0;
      const length = e[slot + CHANGELOG_PAYLOAD_LENGTH_WORD]! >>> 0;
      view.epoch =
        (e[slot + CHANGELOG_EPOCH_HI_WORD]! >>> 0) * 4294967296 + (e[slot + CHANGELOG_EPOCH_LO_WORD]! >>> 0);
      view.op = (e[slot + CHANGELOG_OP_WORD]! & 0xff) as StateOp;
      view.sequenceLow = e[slot + CHANGELOG_SEQUENCE_WORD]! >>> 0;
      view.keyLength = e[slot + CHANGELOG_KEY_LENGTH_WORD]! >>> 0;
      view.payloadOffset = at & this.arenaMask;
      view.payloadLength = length;
      visit(view);
      releaseTo = (at + length) >>> 0;
      bytes += length;
    }
    count = i;
    this.tail = (this.tail + count) >>> 0;
    if (this.deferArenaRelease) this.arenaReleasable = releaseTo;
    else Atomics.store(this.control, RING_ARENA_TAIL_WORD, releaseTo | 0);
    Atomics.store(this.control, RING_TAIL_WORD, this.tail | 0);
    if (Atomics.load(this.control, RING_PRODUCER_WAITING_WORD) === 1) {
      Atomics.notify(this.control, RING_TAIL_WORD);
    }
    return count;
  }

  /**
   * Consumer: when set, {@link drain} releases the entries' slots but not their arena bytes: the
   * consumer still reads them (Ring 1 writes them to the WAL in place) and gives them back with
   * {@link releaseArena} once that write has returned.
   */
  deferArenaRelease = false;
  /** With {@link deferArenaRelease}: the arena position just after the last payload drained. */
  arenaReleasable = 0;

  /**
   * Gives Ring 0 back the arena bytes before wrapping position `position` (an
   * {@link arenaReleasable} value; positions only move forward), and wakes a producer waiting
   * for space.
   */
  releaseArena(position: number): void {
    Atomics.store(this.control, RING_ARENA_TAIL_WORD, position | 0);
    if (Atomics.load(this.control, RING_PRODUCER_WAITING_WORD) === 1) {
      Atomics.notify(this.control, RING_TAIL_WORD);
    }
  }

  /** Marks the consumer as sleeping (so the producer's {@link wakeConsumer} notifies). */
  setConsumerSleeping(sleeping: boolean): void {
    Atomics.store(this.control, RING_CONSUMER_SLEEPING_WORD, sleeping ? 1 : 0);
  }

  /** The head word's current value (for `Atomics.waitAsync` by the consumer). */
  loadHead(): number {
    return Atomics.load(this.control, RING_HEAD_WORD);
  }
}

function keyOverCap(keyBytes: number): TidemarkError {
  return new TidemarkError('TIDEMARK_LIMIT', `key of ${keyBytes} bytes is over the cap of ${MAX_KEY_BYTES}`);
}
