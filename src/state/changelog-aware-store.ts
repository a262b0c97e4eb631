/**
 * `ChangelogAwareStore` (the seeds' "ChangelogAware StateStore", Ring 0): in-memory key/value
 * state whose every mutation is pushed into a {@link StateChangelogBuffer}; Ring 1 (an I/O
 * worker thread running the `ChangelogDrainer`) frames, group-commits and fdatasyncs it and takes
 * checkpoints from its own copy of the state. The event loop never waits on the disk: `put()`
 * touches memory only, and durability is awaited with {@link flushed} / {@link durable}.
 *
 * Positions: `put`, `delete` and `commit` return the entry's *changelog sequence* (1, 2, 3, …
 * from each open). It is not a WAL LSN: Ring 1 adds records of its own (checkpoint markers) to
 * the WAL, so the two count differently. `flushed(sequence)` is the durability promise.
 *
 * Backpressure when the ring is full (`backpressure` option):
 * - `'throw'`: the mutation is refused with `TIDEMARK_BACKPRESSURE` before anything changes;
 *   `await store.writable()` and retry.
 * - `'wait'` (default): the mutation is applied and queued in Ring 0 (bounded by
 *   `maxQueuedBytes`; past it, `TIDEMARK_BACKPRESSURE`) and moved into the ring as Ring 1 frees
 *   space. Like a stream's `write()` returning false: `if (!store.isWritable) await store.writable()`.
 */
import { abortedError, guardWaiter, type WaitOptions, waitSignal } from '../abort.js';
import { throwIfAborted } from '../abort-steps.js';
import { DurableWatermark } from '../changelog/durable-watermark.js';
import { loadEpoch, loadRingFailure, loadRingState } from '../changelog/ring-status.js';
import type { StateChangelogBuffer } from '../changelog/state-changelog-buffer.js';
import { assert, TidemarkError } from '../errors.js';
import type { CheckpointExtras, IncrementalCheckpointMetadata } from '../format/checkpoint-manifest.js';
import {
  DEFAULT_REPLAY_BYTES_PER_MS,
  MAX_KEY_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  PUT_KEY_LENGTH_SIZE,
  RING_FLUSH_REQUEST_WORD,
  RING_TAIL_WORD,
  RingStat,
  RingState,
  StateOp,
} from '../format/constants.js';
import { ABORT_ENCODER, CommitEncoder, type SourceOffsets } from '../format/entry-codec.js';
import {
  checkCommit,
  checkKey,
  checkPosition,
  checkValue,
  enumOption,
  integerOption,
  isUint8Array,
} from '../validation.js';
import { type CheckpointCallOptions, parseCheckpointCall } from './checkpoint-call.js';
import { FifoQueue } from './fifo-queue.js';
import type { StateBackend, StateScan, StateScanOptions, StateSnapshot } from './state-backend.js';

/** Queued entries the pump moves into the ring before it yields to the event loop. */
const PUMP_SLICE_ENTRIES = 4096;

/** A named backpressure policy for a full ring. */
export type BackpressurePolicy = 'wait' | 'throw';

/** What the store needs from Ring 1 (implemented by the opener in `recovery/`). */
export interface Ring1Link {
  /**
   * Takes a checkpoint in Ring 1 of everything durable (and committed, in transactional mode).
   * `options.signal` asks Ring 1 to abandon it before its publish point (`TIDEMARK_ABORTED`).
   */
  checkpoint(
    extras?: CheckpointExtras,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<Ring1CheckpointResult>;
  /** Drains, syncs, stops the worker and releases the directory. */
  close(): Promise<void>;
  /** Keeps the process alive (true) while Ring 0 awaits Ring 1, and lets it exit otherwise. */
  setActive(active: boolean): void;
  /** A failure of the worker itself (it died), if any. */
  failure(): TidemarkError | undefined;
  /** The error of the last checkpoint Ring 1 failed to take on its own (periodic), if any. */
  lastCheckpointError(): TidemarkError | undefined;
}

/** What a Ring 1 checkpoint did (the manager's metadata). */
export type Ring1CheckpointResult = IncrementalCheckpointMetadata;

/** Options of a {@link ChangelogAwareStore}. */
export interface ChangelogAwareStoreOptions {
  /** Policy for a full ring. Default `'wait'`. */
  backpressure?: BackpressurePolicy;
  /** In `'wait'` mode, bytes that may queue in Ring 0 behind a full ring: an integer ≥ 0. Default 16 MiB. */
  maxQueuedBytes?: number;
  /** Only committed transactions count as durable and survive recovery (mutations wait for their Commit). Default false. */
  transactional?: boolean;
}

/** Initial contents (normally from recovery). */
export interface ChangelogAwareStoreInit {
  /** Ring 0's state (normally the recovered one); the store owns it from then on. */
  state: StateBackend;
  /** Per-source offsets as of the initial state (normally the recovered ones). */
  sourceOffsets: SourceOffsets;
  /** Watermark (event time, ms) of the initial state; undefined when none. */
  watermark: number | undefined;
}

/** What a {@link ChangelogAwareStore} is built from: its initial contents and its link to Ring 1. */
export interface ChangelogAwareStoreParts extends ChangelogAwareStoreInit {
  /** The changelog ring shared with Ring 1 (Ring 0 is its producer). */
  buffer: StateChangelogBuffer;
  /** Ring 0's handle on the Ring 1 worker. */
  ring1: Ring1Link;
}

/** Counters of a {@link ChangelogAwareStore}; Ring 1's come from shared memory. */
export interface ChangelogAwareStoreStats {
  /** Mutations and commits pushed by Ring 0. */
  entriesPushed: number;
  /** Highest changelog sequence known durable. */
  durableSequence: number;
  /** Times a push found the ring full. */
  ringFullEvents: number;
  /** Mutations queued in Ring 0 behind a full ring (`'wait'`). */
  entriesQueued: number;
  /** Mutations refused with `TIDEMARK_BACKPRESSURE`. */
  backpressureThrows: number;
  /** Times Ring 0 woke a sleeping Ring 1. */
  wakeups: number;
  /** Ring 1: records written to the WAL (count). */
  walRecordsAppended: number;
  /** Ring 1: bytes appended to the WAL, framing included (bytes). */
  walBytesWritten: number;
  /** Ring 1: WAL fdatasync calls (count). */
  walSyncs: number;
  /** Ring 1: group commits made durable (count). */
  walGroupsCommitted: number;
  /** Ring 1: most records in one group commit (count). */
  walMaxGroupRecords: number;
  /** Ring 1: total time in WAL fdatasync (ms). */
  walSyncTotalMs: number;
  /** Ring 1: longest single WAL fdatasync (ms). */
  walSyncMaxMs: number;
  /** Ring 1: bytes the WAL occupies. */
  walSizeBytes: number;
  /** Ring 1: checkpoints taken (count). */
  checkpoints: number;
  /** Ring 1: duration of the newest checkpoint (ms). */
  checkpointLastMs: number;
  /** Ring 1: drain passes that took at least one ring entry (count). */
  drainBatches: number;
  /** Ring 1: times it slept on an empty ring (count). */
  drainSleeps: number;
  /** Ring 1: times spinning found entries before it would have slept (count). */
  drainSpinHits: number;
  /**
   * Ring 1: durable WAL bytes written since the newest checkpoint — what a crash now would
   * replay. `checkpointWalBytes` bounds it (a checkpoint starts once it is reached).
   */
  walBytesSinceCheckpoint: number;
  /** Ring 1: `walBytesSinceCheckpoint` over the measured replay rate — a recovery's replay time now, ms. */
  estimatedReplayMs: number;
  /**
   * Ring 1, with an object store: WAL bytes (records) not yet in its archive — what a takeover
   * on another machine would lose now, the recovery point objective in bytes (refreshed every
   * 250 ms; `archiveIntervalMs` bounds it). 0 without an archive.
   */
  unarchivedBytes: number;
  /** Ring 1: WAL segments archived to the object store (count). */
  segmentsArchived: number;
  /** Ring 1: PUT requests its checkpoints made to the object store, data objects and manifests (2 for a small checkpoint; count). */
  checkpointObjectPuts: number;
}

interface Queued {
  op: typeof StateOp.Put | typeof StateOp.Delete | typeof StateOp.Commit | typeof StateOp.Abort;
  key: string;
  value: Uint8Array | undefined;
  encoder: CommitEncoder | typeof ABORT_ENCODER | undefined;
  bytes: number;
  epoch: number;
}

/**
 * Ring 0's state store. Open with `openChangelogAwareStore()` (tidemark's pipeline layer).
 *
 * Threads: Ring 0's side — use from the thread that opened it: the ring it pushes into is single-
 * producer, so two threads must never write one store (and an instance cannot be sent to another
 * thread). Ring 1 runs in its own worker thread; the two share only the `SharedArrayBuffer` ring
 * and status words.
 */
export class ChangelogAwareStore {
  private readonly watermarkWaiters: DurableWatermark;
  private readonly policy: BackpressurePolicy;
  private readonly maxQueuedBytes: number;
  private readonly queue = new FifoQueue<Queued>();
  private queuedBytes = 0;
  private pumping = false;
  private watching = false;
  private writableWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Largest put payload (4 + key + value bytes): the WAL's record cap, or a quarter of the arena if smaller. */
  private readonly maxPutPayloadBytes: number;
  private closePromise: Promise<void> | undefined;
  /** A failure found in Ring 0 itself (an entry the ring refused after it was queued: a bug). */
  private localFailure: TidemarkError | undefined;
  private readonly wakeEntries: number;
  private readonly wakeBytes: number;
  /** Pushes between two wake attempts while work stays piled up (see {@link afterPush}). */
  private readonly wakeEvery: number;
  private wakeCountdown = 1;
  private lastSequence = 0;
  private lastCommit = 0;
  private uncommitted = 0;
  private offsets: SourceOffsets;
  private currentWatermark: number | undefined;
  private closing = false;
  private closedError: TidemarkError | undefined;
  private checkpointInFlight: Promise<Ring1CheckpointResult> | undefined;
  private readonly counters = {
    entriesPushed: 0,
    ringFullEvents: 0,
    entriesQueued: 0,
    backpressureThrows: 0,
    wakeups: 0,
  };
  /** True when only committed transactions survive recovery. */
  readonly transactional: boolean;

  private readonly buffer: StateChangelogBuffer;
  private readonly ring1: Ring1Link;
  private readonly state: StateBackend;

  constructor(init: ChangelogAwareStoreParts, options: ChangelogAwareStoreOptions = {}) {
    const { buffer } = init;
    this.buffer = buffer;
    this.ring1 = init.ring1;
    this.state = init.state;
    this.policy = enumOption('backpressure', options.backpressure, ['wait', 'throw'], 'wait');
    this.maxQueuedBytes = integerOption('maxQueuedBytes', options.maxQueuedBytes, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      fallback: 16 * 1024 * 1024,
    });
    this.transactional = options.transactional ?? false;
    this.maxPutPayloadBytes = Math.min(MAX_RECORD_PAYLOAD_BYTES, buffer.maxPayloadBytes);
    this.offsets = { ...init.sourceOffsets };
    this.currentWatermark = init.watermark;
    this.lastSequence = buffer.nextSequence - 1;
    this.wakeEntries = Math.max(1, buffer.capacityEntries >>> 4);
    this.wakeBytes = Math.max(1, buffer.arenaBytes >>> 4);
    this.wakeEvery = Math.max(1, this.wakeEntries >>> 6);
    this.watermarkWaiters = new DurableWatermark({
      buffer,
      failure: () => this.failure(),
      onWaiting: (waiting) => {
        this.watching = waiting;
        this.ring1.setActive(this.watching || this.pumping);
      },
      onWait: () => this.wake(),
    });
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────────

  // Reads are Ring 0's view: every put and delete made so far, including those not yet durable
  // (and, in transactional mode, not yet committed) — what a crash could still lose.

  /**
   * The value of `key`, or `undefined`. Throws `TIDEMARK_INVALID_ARGUMENT` for a key that is not
   * a well-formed string. With the slab backend (default) the value is a fresh copy; with the map
   * backend it is the object the state holds (do not mutate it). Either way no later write
   * changes it.
   */
  get(key: string): Uint8Array | undefined {
    return this.state.get(key);
  }

  /** True when `key` is held. Throws `TIDEMARK_INVALID_ARGUMENT` for a malformed key. */
  has(key: string): boolean {
    return this.state.has(key);
  }

  /** Number of keys. */
  get size(): number {
    return this.state.size;
  }

  /** UTF-8 key bytes + value bytes held. */
  get sizeBytes(): number {
    return this.state.sizeBytes;
  }

  /**
   * Entries whose key starts with `prefix`, in key order: the unsigned bytes of the UTF-8 key
   * (code point order; `'\uFFFF'` sorts before `'\u{1F600}'`, unlike JavaScript's `<`). At most
   * `options.limit` (an integer ≥ 0). Works with `for…of` and `for await…of`. A scan running
   * while the store is written sees every key present throughout once, in order; keys written
   * meanwhile may or may not be seen (take a {@link snapshot} for a fixed view). Throws
   * `TIDEMARK_INVALID_ARGUMENT` for a malformed prefix or limit.
   */
  prefixScan(prefix: string, options?: StateScanOptions): StateScan {
    return this.state.prefixScan(prefix, options);
  }

  /**
   * Entries with `start ≤ key < end` (start inclusive, end exclusive; `undefined` for an open
   * end), in UTF-8 byte order, at most `options.limit`; empty when `end ≤ start`. Same contract
   * as {@link prefixScan}.
   */
  rangeScan(start: string | undefined, end: string | undefined, options?: StateScanOptions): StateScan {
    return this.state.rangeScan(start, end, options);
  }

  /**
   * A point-in-time read view of Ring 0's state (`get`, `has`, `size`, `sizeBytes`, scans): its reads do not change
   * while the store is written. Release it with `release()` or `using snap = store.snapshot()`;
   * reading it afterwards throws `TIDEMARK_CLOSED`. A live snapshot pins memory (slab: the index
   * pages written since; map: a copy of the whole `Map` on the first write after it).
   */
  snapshot(): StateSnapshot {
    return this.state.snapshot();
  }

  /** Every entry, in key order (UTF-8 bytes; see {@link prefixScan}). Ring 0's view. */
  entries(): StateScan {
    return this.state.entries();
  }
  /** The current epoch (advanced by Ring 1 after each checkpoint). */
  get epoch(): number {
    return loadEpoch(this.buffer);
  }
  /** Source offsets of the last commit. */
  get sourceOffsets(): Readonly<SourceOffsets> {
    return this.offsets;
  }
  /** Watermark (event time, ms) of the last commit. */
  get watermark(): number | undefined {
    return this.currentWatermark;
  }
  /** Changelog sequence of the last entry pushed (or queued). */
  get lastSequenceNumber(): number {
    return this.lastSequence;
  }
  /** Sequence of the last commit. */
  get lastCommitSequence(): number {
    return this.lastCommit;
  }
  /** Every entry with sequence ≤ this is durable. */
  get durableSequence(): number {
    return this.watermarkWaiters.current;
  }
  /** Mutations since the last commit. */
  get uncommittedCount(): number {
    return this.uncommitted;
  }
  /** False while mutations queue behind a full ring (`'wait'`); see {@link writable}. */
  get isWritable(): boolean {
    return this.queue.length === 0;
  }
  /** Why the last periodic checkpoint in Ring 1 failed, if it did (the WAL was kept; the store still works). */
  get lastCheckpointError(): TidemarkError | undefined {
    return this.ring1.lastCheckpointError();
  }
  /** The error that made the store read-only (Ring 1's failure), or the close. */
  get failed(): TidemarkError | undefined {
    return this.failure();
  }

  // ── mutations (Ring 0 hot path) ────────────────────────────────────────────────────────────

  /**
   * Applies `key = value` in memory and pushes it to the changelog. Returns its changelog
   * sequence. `key` is a well-formed string; `value` a `Uint8Array` or `Buffer`: the changelog
   * logs its bytes as they are at this call (copied into the ring, or into Ring 0's queue when the
   * ring is full), while the in-memory state keeps it by reference (do not mutate it). Checked before anything changes: `TIDEMARK_INVALID_ARGUMENT`
   * (a non-string or ill-formed key, a value that is not a Uint8Array), `TIDEMARK_LIMIT` (key
   * over 64 KiB, or 4 + key + value bytes over 16 MiB or over a quarter of `ring.arenaBytes`).
   * Also throws `TIDEMARK_CLOSED`, Ring 1's failure (`TIDEMARK_IO`, `TIDEMARK_NO_SPACE`) and
   * `TIDEMARK_BACKPRESSURE`.
   */
  put(key: string, value: Uint8Array): number {
    // Hot path: the key's well-formedness is checked by the ring as it encodes the key (an ASCII
    // key needs no check at all); every other path — a long key, a closed store, a full ring, a
    // key the ring refused — runs the full `checkKey` first, so a bad key is refused the same way
    // whichever path it takes, and always before anything changes.
    if (typeof key !== 'string' || key.length * 3 > MAX_KEY_BYTES) checkKey('put(key)', key);
    // A bad value or an oversized put: the key's own errors still come first.
    if (
      !isUint8Array(value) ||
      PUT_KEY_LENGTH_SIZE + key.length * 3 + value.length > this.maxPutPayloadBytes
    ) {
      checkKey('put(key)', key);
      checkValue('put(value)', key, value, this.maxPutPayloadBytes);
    }
    if (this.closing || !this.buffer.runningHint) this.refuse('put(key)', key);
    const epoch = this.buffer.epochHint;
    let pushed = false;
    if (this.queue.length === 0) {
      try {
        pushed = this.buffer.pushPut(key, value, epoch);
      } catch (err) {
        checkKey('put(key)', key);
        throw err;
      }
    }
    if (pushed) {
      this.counters.entriesPushed++;
      this.afterPush();
    } else {
      checkKey('put(key)', key);
      this.full({
        op: StateOp.Put,
        key,
        // A copy: the entry enters the ring later, and the log must hold the bytes given now, as
        // a put that fits copies them into the arena at once (a caller reusing one buffer for
        // every put would otherwise log its last contents for every queued put).
        value: Buffer.from(value),
        encoder: undefined,
        epoch,
        bytes: 4 + key.length * 3 + value.length,
      });
    }
    this.state.putUnchecked(key, value); // checked above, before anything was logged
    this.uncommitted++;
    return ++this.lastSequence;
  }

  /** Removes `key` in memory and pushes the Delete. Same contract as {@link put}. */
  delete(key: string): number {
    if (typeof key !== 'string' || key.length * 3 > MAX_KEY_BYTES) checkKey('delete(key)', key);
    if (
      key.length * 3 > this.buffer.maxPayloadBytes &&
      Buffer.byteLength(key) > this.buffer.maxPayloadBytes
    ) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `delete(key): a key of ${Buffer.byteLength(key)} bytes is over a quarter of the ring's arena (${this.buffer.maxPayloadBytes})`,
        { argument: 'delete(key)' },
      );
    }
    if (this.closing || !this.buffer.runningHint) this.refuse('delete(key)', key);
    const epoch = this.buffer.epochHint;
    let pushed = false;
    if (this.queue.length === 0) {
      try {
        pushed = this.buffer.pushDelete(key, epoch);
      } catch (err) {
        checkKey('delete(key)', key);
        throw err;
      }
    }
    if (pushed) {
      this.counters.entriesPushed++;
      this.afterPush();
    } else {
      checkKey('delete(key)', key);
      this.full({
        op: StateOp.Delete,
        key,
        value: undefined,
        encoder: undefined,
        epoch,
        bytes: key.length * 3,
      });
    }
    this.state.deleteUnchecked(key);
    this.uncommitted++;
    return ++this.lastSequence;
  }

  /**
   * Pushes a Commit with the sources' offsets and the watermark (event time, ms): they become
   * durable in the same WAL record, in order, with every mutation before them. Returns the
   * commit's changelog sequence; `await store.flushed(sequence)` for durability. Offsets are
   * non-negative safe integers, the watermark a safe integer: anything else is
   * `TIDEMARK_INVALID_ARGUMENT`, thrown before anything changes.
   */
  commit(sourceOffsets: SourceOffsets, watermark?: number): number {
    checkCommit('commit', sourceOffsets, watermark);
    this.checkWritable();
    const merged = { ...this.offsets, ...sourceOffsets };
    const epoch = loadEpoch(this.buffer);
    const encoder = new CommitEncoder(epoch, merged, watermark ?? this.currentWatermark);
    if (encoder.byteLength > this.buffer.maxPayloadBytes) {
      throw new TidemarkError(
        'TIDEMARK_LIMIT',
        `commit: a commit record of ${encoder.byteLength} bytes is over a quarter of the ring's arena (${this.buffer.maxPayloadBytes})`,
        { argument: 'commit(sourceOffsets)' },
      );
    }
    if (this.queue.length > 0 || !this.buffer.pushEncoded(StateOp.Commit, encoder, epoch)) {
      this.full({ op: StateOp.Commit, key: '', value: undefined, encoder, epoch, bytes: encoder.byteLength });
    } else {
      this.counters.entriesPushed++;
      this.afterPush();
    }
    this.offsets = merged;
    if (watermark !== undefined) this.currentWatermark = watermark;
    this.uncommitted = 0;
    this.lastCommit = ++this.lastSequence;
    return this.lastCommit;
  }

  // ── durability ─────────────────────────────────────────────────────────────────────────────

  /**
   * Resolves once every entry with sequence ≤ `sequence` is durable. Rejects with the store's
   * failure (or `TIDEMARK_CLOSED`), and with `TIDEMARK_INVALID_ARGUMENT` for a sequence that is
   * not a non-negative safe integer or was never returned, or `options` that are not
   * `{ signal?: AbortSignal }`. With `options.signal`, an abort rejects this wait alone with
   * `TIDEMARK_ABORTED` (`cause`: the signal's reason); the entry still becomes durable.
   */
  flushed(sequence: number, options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      checkPosition('flushed(sequence)', sequence);
      signal = waitSignal('flushed(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (sequence > this.lastSequence) {
      return Promise.reject(
        new TidemarkError(
          'TIDEMARK_INVALID_ARGUMENT',
          `flushed(${sequence}): no entry past sequence ${this.lastSequence} was pushed`,
          { argument: 'flushed(sequence)' },
        ),
      );
    }
    return this.watermarkWaiters.wait(sequence, { signal, what: 'flushed' });
  }

  /**
   * Asks Ring 1 to commit its group now (no delay) and resolves once everything pushed so far is
   * durable. Rejects with the store's failure, or `TIDEMARK_CLOSED` once closed; `options.signal`
   * as in {@link flushed} (an abort stops the wait, never the commit).
   */
  durable(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = waitSignal('durable(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closedError) return Promise.reject(this.failure() ?? this.closedError);
    if (signal?.aborted) return Promise.reject(abortedError('durable', signal));
    if (this.lastSequence <= this.watermarkWaiters.current) return Promise.resolve();
    Atomics.add(this.buffer.control, RING_FLUSH_REQUEST_WORD, 1);
    return this.watermarkWaiters.wait(this.lastSequence, { signal, what: 'durable' });
  }

  /**
   * Resolves when nothing is queued behind a full ring (immediately in `'throw'` mode or when
   * writable). Rejects with the store's failure; `options.signal` as in {@link flushed} (an
   * abort stops the wait; what is queued still moves into the ring).
   */
  writable(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = waitSignal('writable(options)', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortedError('writable', signal));
    if (this.queue.length === 0 && (this.policy === 'wait' || this.ringHasRoom())) {
      return Promise.resolve();
    }
    const failed = this.failure();
    if (failed) return Promise.reject(failed);
    return new Promise((resolve, reject) => {
      const w = guardWaiter('writable', signal, {
        resolve,
        reject,
        remove: () => {
          const i = this.writableWaiters.indexOf(w);
          if (i >= 0) this.writableWaiters.splice(i, 1);
        },
      });
      this.writableWaiters.push(w);
      if (!this.pumping) this.startPump();
    });
  }

  /** `await using store = await openChangelogAwareStore(…)`: {@link close} when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Takes a checkpoint in Ring 1 (replaying the WAL onto Ring 1's own copy of the state; Ring 0
   * is never paused) after everything pushed so far is durable. In transactional mode the
   * checkpoint covers the last commit. One at a time: a second call while one runs returns the
   * same promise (unless it brings `extras`: connectors, operators, sinks — see `CheckpointExtras`;
   * without them the previous ones are carried forward). A base or a delta, as Ring 1's
   * `IncrementalCheckpointManager` decides. Rejects with `TIDEMARK_IO` / `TIDEMARK_NO_SPACE`; a
   * failed checkpoint deletes no WAL.
   *
   * The argument is either the extras themselves or `{ extras?, signal? }` (see
   * `CheckpointCallOptions`). With a signal the call never joins another's checkpoint; an abort
   * before Ring 1 commits the manifest abandons it (draft removed, no WAL deleted, the next
   * checkpoint works) and rejects `TIDEMARK_ABORTED` (`cause` = `signal.reason`); an abort after
   * that point changes nothing and the call resolves with the published checkpoint. The promise
   * always says what really happened in Ring 1.
   */
  checkpoint(extrasOrOptions?: CheckpointExtras | CheckpointCallOptions): Promise<Ring1CheckpointResult> {
    if (this.closing) {
      return Promise.reject(
        this.failure() ?? new TidemarkError('TIDEMARK_CLOSED', 'the store is closed or closing'),
      );
    }
    let call: ReturnType<typeof parseCheckpointCall>;
    try {
      call = parseCheckpointCall('checkpoint(extras)', extrasOrOptions, false);
      throwIfAborted('checkpoint', call.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    const { extras, signal } = call;
    if (signal !== undefined) {
      return (async () => {
        await this.durable({ signal });
        return this.ring1.checkpoint(extras, { signal });
      })();
    }
    if (this.checkpointInFlight && extrasOrOptions === undefined) return this.checkpointInFlight;
    const run = (async () => {
      await this.durable();
      return this.ring1.checkpoint(extras);
    })();
    this.checkpointInFlight = run;
    const clear = () => {
      this.checkpointInFlight = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /** Counters (Ring 0's own, plus Ring 1's from shared memory). */
  stats(): ChangelogAwareStoreStats {
    const r = this.buffer.statsArea;
    return {
      ...this.counters,
      durableSequence: this.watermarkWaiters.current,
      walRecordsAppended: r[RingStat.recordsAppended]!,
      walBytesWritten: r[RingStat.bytesWritten]!,
      walSyncs: r[RingStat.syncs]!,
      walGroupsCommitted: r[RingStat.groupsCommitted]!,
      walMaxGroupRecords: r[RingStat.maxGroupRecords]!,
      walSyncTotalMs: r[RingStat.syncTotalMs]!,
      walSyncMaxMs: r[RingStat.syncMaxMs]!,
      walSizeBytes: r[RingStat.walSizeBytes]!,
      checkpoints: r[RingStat.checkpoints]!,
      checkpointLastMs: r[RingStat.checkpointLastMs]!,
      drainBatches: r[RingStat.drainBatches]!,
      drainSleeps: r[RingStat.drainSleeps]!,
      drainSpinHits: r[RingStat.drainSpinHits]!,
      walBytesSinceCheckpoint: Math.max(0, r[RingStat.bytesWritten]! - r[RingStat.walCheckpointMark]!),
      estimatedReplayMs:
        Math.max(0, r[RingStat.bytesWritten]! - r[RingStat.walCheckpointMark]!) /
        (r[RingStat.replayBytesPerMs]! || DEFAULT_REPLAY_BYTES_PER_MS),
      unarchivedBytes: r[RingStat.unarchivedBytes]!,
      segmentsArchived: r[RingStat.segmentsArchived]!,
      checkpointObjectPuts: r[RingStat.checkpointObjectPuts]!,
    };
  }

  /**
   * Moves what is queued into the ring, waits until it is durable, stops Ring 1 (which syncs and
   * closes the WAL) and releases the directory. Memoized: every call returns the same promise.
   * Rejects with a failure that prevented the final sync. Afterwards every mutation throws, and
   * `durable()`/`checkpoint()` reject, with `TIDEMARK_CLOSED` (or the failure).
   */
  close(): Promise<void> {
    this.closePromise ??= this.closeOnce();
    return this.closePromise;
  }

  private async closeOnce(): Promise<void> {
    this.closing = true;
    let err: unknown;
    try {
      if (!this.failure()) {
        await this.writable();
        await this.checkpointInFlight?.catch(() => {});
        await this.durable();
      }
    } catch (e) {
      err = e;
    }
    try {
      await this.ring1.close();
    } catch (e) {
      err ??= e;
    }
    this.closedError = new TidemarkError('TIDEMARK_CLOSED', 'the store is closed');
    this.watermarkWaiters.rejectAll(this.failure());
    this.settleWritableWaiters();
    if (err) throw err;
  }

  /** @internal Appends an Abort so a discarded uncommitted tail can never be revived (used by recovery). */
  pushAbort(): void {
    const epoch = loadEpoch(this.buffer);
    if (!this.buffer.pushEncoded(StateOp.Abort, ABORT_ENCODER, epoch)) {
      this.full({ op: StateOp.Abort, key: '', value: undefined, encoder: ABORT_ENCODER, epoch, bytes: 0 });
    }
    this.lastSequence++;
  }

  // ── internals ──────────────────────────────────────────────────────────────────────────────

  private failure(): TidemarkError | undefined {
    if (loadRingState(this.buffer) === RingState.Failed) return loadRingFailure(this.buffer);
    return this.localFailure ?? this.ring1.failure() ?? this.closedError;
  }

  /** A mutation of `key` on a store that is not writable: a bad key is still refused as such first. */
  private refuse(argument: string, key: string): never {
    checkKey(argument, key);
    this.checkWritable();
    assert(false, 'refuse() is only called on a store that is not writable');
  }

  private checkWritable(): void {
    if (this.closing || loadRingState(this.buffer) !== RingState.Running) {
      const failed = this.failure();
      if (failed) throw failed;
      throw new TidemarkError('TIDEMARK_CLOSED', 'the store is closed or closing');
    }
  }

  /** In `'throw'` mode, writable again once the ring is at most half full (entries and arena). */
  private ringHasRoom(): boolean {
    const b = this.buffer;
    b.wakeConsumer();
    return b.pendingEntries <= b.capacityEntries >>> 1 && b.pendingArenaBytes <= b.arenaBytes >>> 1;
  }

  /** Wakes Ring 1 when work has piled up (a wake costs ~70 µs, so not on every push). */
  private afterPush(): void {
    const b = this.buffer;
    if (b.pendingEntries >= this.wakeEntries || b.pendingArenaBytes >= this.wakeBytes) {
      // While Ring 1 lags behind (busy in a sync, not asleep), work stays piled up after a wake;
      // trying again on every push cost each put three Atomics calls (~300 instructions) for
      // nothing. Retry every `wakeEvery` pushes (1/1024 of the ring) instead; a full ring still
      // wakes Ring 1 at once.
      if (--this.wakeCountdown > 0) return;
      this.wakeCountdown = this.wakeEvery;
      this.wake();
    }
  }

  private wake(): void {
    if (this.buffer.wakeConsumer()) this.counters.wakeups++;
  }

  /** Queues `entry` behind a full ring (or throws `TIDEMARK_BACKPRESSURE`); the object is kept as the queue entry. */
  private full(entry: Queued): void {
    const { bytes } = entry;
    if (this.queue.length === 0) this.counters.ringFullEvents++;
    if (this.policy === 'throw' || this.queuedBytes + bytes > this.maxQueuedBytes) {
      this.counters.backpressureThrows++;
      throw new TidemarkError(
        'TIDEMARK_BACKPRESSURE',
        this.policy === 'throw'
          ? `the changelog ring is full (${this.buffer.capacityEntries} entries, ${this.buffer.arenaBytes} arena bytes): await store.writable() and retry`
          : `${this.queuedBytes} bytes are queued behind a full changelog ring (maxQueuedBytes ${this.maxQueuedBytes}): await store.writable()`,
      );
    }
    this.queue.push(entry);
    this.queuedBytes += bytes;
    this.counters.entriesQueued++;
    this.wake();
    if (!this.pumping) this.startPump();
  }

  /** Starts the pump; it never rejects (a failure inside it fails the store and settles every waiter). */
  private startPump(): void {
    this.pump().catch((err: unknown) => {
      this.localFailure ??=
        err instanceof TidemarkError
          ? err
          : new TidemarkError('TIDEMARK_BUG', `Ring 0 pump failed: ${String(err)}`, { cause: err });
      this.queue.clear();
      this.queuedBytes = 0;
      this.watermarkWaiters.rejectAll(this.localFailure);
      this.settleWritableWaiters();
    });
  }

  /** Settles `writable()` waiters: rejected with the store's failure, if any, else resolved. */
  private settleWritableWaiters(): void {
    const waiters = this.writableWaiters;
    this.writableWaiters = [];
    const failed = this.failure();
    for (const w of waiters) {
      if (failed) w.reject(failed);
      else w.resolve();
    }
  }

  /** Moves queued entries into the ring as Ring 1 frees space; resolves `writable()` waiters. */
  private async pump(): Promise<void> {
    this.pumping = true;
    this.ring1.setActive(true);
    const b = this.buffer;
    try {
      for (;;) {
        let moved = 0;
        while (this.queue.length > 0) {
          const q = this.queue.peek()!;
          const ok =
            q.op === StateOp.Put
              ? b.pushPut(q.key, q.value!, q.epoch)
              : q.op === StateOp.Delete
                ? b.pushDelete(q.key, q.epoch)
                : b.pushEncoded(q.op, q.encoder!, q.epoch);
          if (!ok) break;
          this.queue.shift();
          this.queuedBytes -= q.bytes;
          this.counters.entriesPushed++;
          // A ring of 65,536 slots can take tens of thousands of queued entries in one pass:
          // yield to the event loop between slices so that pass never stalls it for long.
          if (++moved === PUMP_SLICE_ENTRIES) {
            moved = 0;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
        if (this.queue.length === 0 && (this.policy === 'wait' || this.ringHasRoom())) break;
        if (this.failure()) break;
        b.setProducerWaiting(true);
        const tail = b.loadTail();
        this.wake();
        const r = Atomics.waitAsync(b.control, RING_TAIL_WORD, tail, 100);
        if (r.async) await r.value;
        b.setProducerWaiting(false);
      }
    } finally {
      this.pumping = false;
      this.ring1.setActive(this.watching);
      this.settleWritableWaiters();
    }
  }
}
