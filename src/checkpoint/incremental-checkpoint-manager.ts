/**
 * `IncrementalCheckpointManager` (seed: LaminarDB's `laminar-storage` incremental checkpoints):
 * checkpoints whose cost follows the keys changed, not the state size.
 *
 * The manager holds **only the keys changed since its last checkpoint** (key → value or
 * tombstone), advanced by replaying the WAL from that checkpoint (the seeds' `wal.replay(
 * last_ckpt..now) → state.apply_batch() → state.create_checkpoint() → wal.truncate(epoch)`), so a
 * checkpoint never reads the writer's memory and never pauses it — in the pipeline it runs in
 * Ring 1's thread — and its memory follows the write rate, not the state size. A *delta*
 * checkpoint writes those keys, sorted, and names its parent. A *base* (the first checkpoint,
 * every one with `incremental: false`, and whenever the chain passes a compaction threshold —
 * `maxChainLength` deltas, or delta bytes over `maxDeltaRatio` of the base — as in RocksDB's and
 * Flink's incremental checkpoints) is a streaming merge of the previous base file, the deltas
 * since and the changes (base-merge.ts): read and written one ~1 MiB block at a time, never
 * materialising the state. Since the manager does not know which changed keys existed before,
 * a delta's manifest says `keys: UNCOUNTED_KEYS`; bases carry the exact count.
 */
import { abortSignalOf, isAborted, throwIfAborted } from '../abort-steps.js';
import { type CheckpointSpanContext, traceAsync, tracing } from '../diagnostics.js';
import { assert, isTidemarkError, TidemarkError } from '../errors.js';
import type {
  CheckpointExtras,
  CheckpointManifest,
  IncrementalCheckpointMetadata,
  OperatorCheckpoint,
} from '../format/checkpoint-manifest.js';
import { MANIFEST_VERSION, StateFileKind, UNCOUNTED_KEYS } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { type KeyBytesEntry, StateFileV3Encoder, sortStateMap } from '../format/state-file-v3.js';
import { FsDirectory } from '../io/fs-directory.js';
import {
  DISCARDING_REPLAY_STATE,
  type ReplayState,
  type ReplayTarget,
  replayWal,
  StateReplayer,
} from '../state/apply-entry.js';
import {
  type CheckpointCall,
  type CheckpointCallOptions,
  parseCheckpointCall,
} from '../state/checkpoint-call.js';
import { checkInteger } from '../validation.js';
import type { WalArchiver } from '../wal/wal-archiver.js';
import type { WalPosition } from '../wal/wal-reader.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';
import { type MergeResult, mergeChainIntoBase } from './base-merge.js';
import { loadChainManifests, loadOperators } from './checkpoint-chain.js';
import {
  type CheckpointConfig,
  type CheckpointOptions,
  resolveCheckpointOptions,
} from './checkpoint-config.js';
import { emitCheckpointStep } from './checkpoint-events.js';
import { chooseCheckpointKind } from './checkpoint-kind.js';
import { CheckpointPublisher } from './checkpoint-publisher.js';
import {
  type CheckpointDataFile,
  type CheckpointDraft,
  type CheckpointStore,
  FileSystemCheckpointStore,
} from './checkpoint-store.js';
import { ObjectStoreCheckpointStore } from './object-store-checkpoint-store.js';
import { ReplayRate } from './replay-estimate.js';
import { findLatestVerifiedChain, type VerifiedChain } from './stream-chain.js';

/**
 * Most WAL records one checkpoint replays past the previous one (2^23): the changes it holds stay
 * well under V8's 2^24-entry `Map` limit. A longer backlog takes several checkpoints, each a
 * consistent cut (in transactional mode, at the last Commit it replayed).
 */
export const MAX_CHECKPOINT_REPLAY_RECORDS = 8 * 1024 * 1024;

/** What an {@link IncrementalCheckpointManager} works on. */
export interface IncrementalCheckpointManagerInit {
  /** Where checkpoints go. */
  store: CheckpointStore;
  /** The open WAL the checkpoints cover (the manager appends CheckpointMarkers and truncates it). */
  wal: WriteAheadLog;
  /** Tunables; defaults in {@link DEFAULT_CHECKPOINT_OPTIONS}. */
  options?: Partial<CheckpointOptions>;
  /** Transactional WAL: a checkpoint covers the state up to the last durable Commit. Default false. */
  transactional?: boolean;
  /** WAL archiving: sealed segments go to the archive before each truncation (see `WalArchiver`). */
  archiver?: WalArchiver | undefined;
  /**
   * Bytes of WAL records already after the latest checkpoint when the manager starts (what
   * recovery replayed): they count toward `walSizeThresholdBytes`, so a restart does not reset
   * the trigger. Default 0.
   */
  walBytesSinceCheckpoint?: number;
  /**
   * What recovery replayed at open, to seed the replay-rate estimate behind
   * `stats().estimatedReplayMs` (see replay-estimate.ts): bytes of WAL records and milliseconds.
   */
  recoveryReplay?:
    | {
        /** WAL bytes replayed (bytes). */
        bytes: number;
        /** Time the replay took (ms). */
        ms: number;
      }
    | undefined;
  /**
   * The writer's current key count, when it runs in the same thread (an estimate is fine: only
   * the base-or-delta choice reads it — a delta that would rewrite as many keys as the state
   * holds is written as a base). Without it the count at the last counted checkpoint is used.
   */
  stateSize?: (() => number) | undefined;
  /**
   * Id of the checkpoint recovery has just loaded and verified in full (the newest valid one),
   * when the caller has one: the manager's first checkpoint then builds on it after reading only
   * its manifests, instead of streaming every file of the newest chain to verify it again.
   */
  verifiedCheckpointId?: number | undefined;
  /**
   * Most WAL records one checkpoint replays past the previous one; a longer backlog takes several
   * checkpoints. An integer in [1, {@link MAX_CHECKPOINT_REPLAY_RECORDS}], default that maximum
   * (`TIDEMARK_INVALID_ARGUMENT` otherwise). Lower it to bound a checkpoint's memory and time.
   */
  maxReplayRecords?: number | undefined;
}

/** Per-call options of {@link IncrementalCheckpointManager.createCheckpoint}. */
export interface CreateCheckpointOptions {
  /** Write a base even when a delta is allowed (compact the chain now). Default false. */
  forceBase?: boolean;
  /**
   * Abandons the checkpoint once aborted, at its next safe point before the publish point (the
   * commit of its manifest): while queued, between the replay and the write, between data-file
   * chunks, and just before the manifest. The half-written draft is removed, no WAL is deleted,
   * the next checkpoint works, and the call rejects with `TIDEMARK_ABORTED` (`cause` =
   * `signal.reason`). Past the publish point the checkpoint completes and resolves as usual.
   */
  signal?: AbortSignal | undefined;
}

/** Counters of a manager. */
export interface IncrementalCheckpointStats {
  /** Checkpoints written this session (count). */
  checkpoints: number;
  /** Of those, bases (whole state) (count). */
  bases: number;
  /** Of those, deltas (changes since the parent) (count). */
  deltas: number;
  /** Bytes of data files written, all checkpoints. */
  bytesWritten: number;
  /** Duration of the newest checkpoint (ms; 0 before the first). */
  lastDurationMs: number;
  /**
   * WAL bytes appended since the newest checkpoint (what a crash now would replay, including
   * records still buffered). `walSizeThresholdBytes` bounds it: a checkpoint starts once it is
   * reached.
   */
  walBytesSinceCheckpoint: number;
  /** Measured WAL replay rate, bytes per ms (see replay-estimate.ts; 50,000 until measured). */
  replayBytesPerMs: number;
  /** `walBytesSinceCheckpoint` / `replayBytesPerMs`: how long a recovery now would replay, ms. */
  estimatedReplayMs: number;
  /**
   * PUT requests the checkpoints of this store's object store made (data objects, packed by the
   * CheckpointBatcher, and manifests: 2 for a small checkpoint); 0 for a local store (count).
   */
  objectPuts: number;
}

/**
 * A state recovery already rebuilt — `checkpoint` (or nothing) plus the WAL replayed after it, up
 * to LSN `lsn` — handed to {@link IncrementalCheckpointManager.adoptRecoveredState}.
 */
export interface RecoveredCopy extends ReplayTarget {
  /** The checkpoint recovery started from, or undefined when it started from an empty state. */
  checkpoint: CheckpointManifest | undefined;
  /** Operator state of that checkpoint, by operator name. */
  operators: Map<string, Uint8Array>;
  /** LSN the state is as of: the last record applied (transactional: the last Commit). */
  lsn: number;
  /** Every key the replay changed since `checkpoint`, with its new value (`undefined`: deleted). */
  changed: Map<string, Uint8Array | undefined>;
}

/** Where the manager's replay stands: the last checkpoint plus the WAL replayed since. */
interface Position extends Omit<ReplayTarget, 'state'> {
  lsn: number;
  /** Where the record after `lsn` starts in the WAL, when known: the next replay starts there. */
  resumeAt?: WalPosition | undefined;
}

/**
 * Creates base and delta checkpoints from the WAL-fed changes since the last one (never a copy of
 * the state).
 *
 * Threads: not thread-safe — the thread that owns its WAL (Ring 1 in the pipeline); calls from
 * that thread queue.
 */
export class IncrementalCheckpointManager {
  /** The checkpoint options, every default filled in. */
  readonly options: CheckpointOptions;
  /** Publishes each checkpoint: manifest, CheckpointMarker, WAL truncation, retention. */
  readonly publisher: CheckpointPublisher;
  private readonly store: CheckpointStore;
  private readonly wal: WriteAheadLog;
  private readonly transactional: boolean;
  private position: Position | undefined;
  /** Keys changed since `parent` (valid only while `position` is): value, or undefined = deleted. */
  private readonly changed = new Map<string, Uint8Array | undefined>();
  private parent: CheckpointManifest | undefined;
  /** The manifests from the parent's base to the parent (what a new base merges). */
  private parentChain: CheckpointManifest[] = [];
  /** Keys at the last checkpoint whose count is known (a base, or a counted delta). */
  private countedKeys = 0;
  private extras: CheckpointExtras = {};
  private chain: Promise<unknown> = Promise.resolve();
  private lastCheckpointAtMs = performance.now();
  /** WAL bytes after the last checkpoint that this session's counters do not include. */
  private walBacklogBytes: number;
  private readonly maxReplayRecords: number;
  /** {@link appendedBytes} when the last checkpoint's position was taken. */
  private walMarkBytes: number;
  private last: IncrementalCheckpointMetadata | undefined;
  private readonly replayRate = new ReplayRate();
  private readonly stateSize: (() => number) | undefined;
  private verifiedCheckpointId: number | undefined;
  private readonly counters: Omit<
    IncrementalCheckpointStats,
    'walBytesSinceCheckpoint' | 'replayBytesPerMs' | 'estimatedReplayMs' | 'objectPuts'
  > = {
    checkpoints: 0,
    bases: 0,
    deltas: 0,
    bytesWritten: 0,
    lastDurationMs: 0,
  };

  constructor(init: IncrementalCheckpointManagerInit) {
    this.options = resolveCheckpointOptions(init.options);
    this.store = init.store;
    this.wal = init.wal;
    this.transactional = init.transactional ?? false;
    this.publisher = new CheckpointPublisher(
      init.store,
      { maxRetained: this.options.maxRetained, minRetainedBases: this.options.minRetainedBases },
      init.archiver,
    );
    this.walBacklogBytes = init.walBytesSinceCheckpoint ?? 0;
    this.walMarkBytes = this.appendedBytes();
    this.stateSize = init.stateSize;
    this.maxReplayRecords =
      init.maxReplayRecords === undefined
        ? MAX_CHECKPOINT_REPLAY_RECORDS
        : checkInteger('maxReplayRecords', init.maxReplayRecords, 1, MAX_CHECKPOINT_REPLAY_RECORDS);
    this.verifiedCheckpointId = init.verifiedCheckpointId;
    if (init.recoveryReplay) this.replayRate.observe(init.recoveryReplay.bytes, init.recoveryReplay.ms);
  }

  /** Bytes appended to the WAL this session (written or still buffered). */
  private appendedBytes(): number {
    return this.wal.stats().bytesWritten + this.wal.bufferedBytes;
  }

  /**
   * WAL bytes appended after the newest checkpoint (including, until this manager's first
   * checkpoint, `walBytesSinceCheckpoint`): feeds {@link isDue}.
   */
  walBytesSinceCheckpoint(): number {
    return this.walBacklogBytes + this.appendedBytes() - this.walMarkBytes;
  }

  /** A manager on the local directory `config.checkpointDir` for `wal`. */
  static async open(
    config: CheckpointConfig,
    wal: WriteAheadLog,
    transactional = false,
  ): Promise<IncrementalCheckpointManager> {
    const store = new FileSystemCheckpointStore(await FsDirectory.open(config.checkpointDir), {
      compression: config.options.compression,
    });
    return new IncrementalCheckpointManager({ store, wal, options: config.options, transactional });
  }

  /** What the last checkpoint of this manager wrote. */
  get lastCheckpoint(): IncrementalCheckpointMetadata | undefined {
    return this.last;
  }

  /** WAL LSN the newest checkpoint this manager knows covers (0 before any). */
  get checkpointLsn(): number {
    return this.parent?.walPosition.lsn ?? this.position?.lsn ?? 0;
  }

  /** Counters. */
  stats(): IncrementalCheckpointStats {
    const walBytesSinceCheckpoint = this.walBytesSinceCheckpoint();
    return {
      ...this.counters,
      walBytesSinceCheckpoint,
      replayBytesPerMs: this.replayRate.bytesPerMs,
      estimatedReplayMs: this.replayRate.estimateMs(walBytesSinceCheckpoint),
      objectPuts: this.objectPuts(),
    };
  }

  private objectPuts(): number {
    if (!(this.store instanceof ObjectStoreCheckpointStore)) return 0;
    const s = this.store.stats();
    return s.puts + s.manifestPuts;
  }

  /**
   * The WAL byte count (`wal.stats().bytesWritten` scale) at which the newest checkpoint stands,
   * less the backlog recovery replayed: `bytesWritten − mark` is the durable WAL since it (for
   * Ring 1 to publish to Ring 0).
   */
  walBytesMark(): number {
    return this.walMarkBytes - this.walBacklogBytes;
  }

  /** Bytes the WAL occupies on disk (the seed's `wal_size`). */
  walSize(): number {
    return this.wal.walSize();
  }

  /**
   * True when a checkpoint is due: `intervalMs` has passed since the last one, or
   * `walSizeThresholdBytes` or more were appended to the WAL since it — and there is something
   * durable to checkpoint. (Not the WAL's size on disk: that never drops below the active
   * segment and the records retained checkpoints need, so a threshold under it would checkpoint
   * at every tick.)
   */
  isDue(nowMs = performance.now()): boolean {
    if (this.wal.failed || this.wal.durableLsn <= this.checkpointLsn) return false;
    const { intervalMs, walSizeThresholdBytes } = this.options;
    if (intervalMs > 0 && nowMs - this.lastCheckpointAtMs >= intervalMs) return true;
    return walSizeThresholdBytes > 0 && this.walBytesSinceCheckpoint() >= walSizeThresholdBytes;
  }

  /** Resolves once every checkpoint queued so far has settled (never rejects). */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Removes half-written checkpoints (see {@link CheckpointStore.cleanupOrphans}); runs between checkpoints. */
  cleanupOrphans(): Promise<string[]> {
    const run = this.chain.then(() => this.store.cleanupOrphans());
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Checkpoints everything durable in the WAL (in transactional mode: up to the last durable
   * Commit) with epoch `epoch` (raised to the state's epoch if lower). Calls queue: one checkpoint
   * at a time. `extras` (connectors, operators, sinks, watermarks) replace the previous ones;
   * without them the previous ones are carried forward. `options.forceBase` compacts now.
   *
   * `extras` may also be the options form `{ extras?, signal?, forceBase? }` (see
   * `CheckpointCallOptions`); malformed arguments reject with `TIDEMARK_INVALID_ARGUMENT` before
   * anything is queued.
   *
   * Resolves what was written. Rejects with the I/O (`TIDEMARK_IO`, `TIDEMARK_NO_SPACE`) or
   * corruption error that stopped it; no WAL is deleted then, and the next call rebuilds the
   * copy from the latest valid checkpoint. With a signal that aborts before the publish point:
   * `TIDEMARK_ABORTED`, the draft removed (see {@link CreateCheckpointOptions.signal}).
   */
  createCheckpoint(
    epoch: number,
    extras?: CheckpointExtras | (CheckpointCallOptions & Pick<CreateCheckpointOptions, 'forceBase'>),
    options: CreateCheckpointOptions = {},
  ): Promise<IncrementalCheckpointMetadata> {
    if (!Number.isSafeInteger(epoch) || epoch < 0)
      return Promise.reject(
        new TidemarkError('TIDEMARK_INVALID_ARGUMENT', `epoch must be an integer ≥ 0, got ${epoch}`),
      );
    let call: CheckpointCall;
    let signal: AbortSignal | undefined;
    try {
      // The second argument is the extras, or `{ extras?, signal?, forceBase? }`.
      call = parseCheckpointCall('createCheckpoint(extras)', extras, true);
      signal = abortSignalOf('createCheckpoint(options)', options) ?? call.signal;
      throwIfAborted('checkpoint', signal);
    } catch (err) {
      return Promise.reject(err);
    }
    const forceBase = (options.forceBase ?? call.forceBase) === true;
    const request = { extras: call.extras, forceBase, signal };
    const run = this.chain.then(() =>
      traceAsync(
        tracing.checkpoint,
        (): CheckpointSpanContext => ({ engine: 'incremental', epoch }),
        async (ctx) => {
          const done = await this.checkpointNow(epoch, request);
          if (ctx) {
            ctx.id = done.id;
            ctx.kind = done.kind;
            ctx.keysWritten = done.keysWritten;
            ctx.bytes = done.bytes;
            ctx.lsn = done.lsn;
          }
          return done;
        },
      ),
    );
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Starts from what recovery already rebuilt instead of loading the latest checkpoint and
   * replaying the WAL a second time: the next checkpoint is a delta of `recovered.changed` on
   * `recovered.checkpoint` (or a base, as the compaction thresholds decide). Only
   * `recovered.changed` is kept (not `recovered.state`), so the caller's state is never held
   * here; the caller must not change the `changed` values afterwards. Loads the checkpoint's
   * chain manifests (`TIDEMARK_CORRUPTION`, `TIDEMARK_IO`). Call before any checkpoint; rejects
   * with `TIDEMARK_BUG` otherwise.
   */
  async adoptRecoveredState(recovered: RecoveredCopy): Promise<void> {
    assert(this.position === undefined, 'adoptRecoveredState() after the manager built its own copy');
    const chain = recovered.checkpoint ? await loadChainManifests(this.store, recovered.checkpoint.id) : [];
    this.setParent(chain, recovered.operators);
    // The recovered state's size: the best count there is (only the compaction heuristic uses it).
    this.countedKeys = recovered.state.size;
    for (const [key, value] of recovered.changed) this.changed.set(key, value);
    this.position = {
      epoch: recovered.epoch,
      sourceOffsets: { ...recovered.sourceOffsets },
      watermark: recovered.watermark,
      lastCommitLsn: recovered.lastCommitLsn,
      lsn: recovered.lsn,
    };
  }

  /** The newest checkpoint whose chain verifies (streamed, never materialised), as the parent. */
  private async loadPosition(): Promise<Position> {
    const latest = (await this.recoveredChain()) ?? (await findLatestVerifiedChain(this.store));
    this.setParent(latest?.chain ?? [], latest?.operators);
    const m = this.parent;
    const lsn = m?.walPosition.lsn ?? 0;
    return {
      lsn,
      epoch: m?.epoch ?? 0,
      sourceOffsets: { ...(m?.sourceOffsets ?? {}) },
      watermark: m?.watermark ?? undefined,
      lastCommitLsn: lsn,
    };
  }

  /** The chain of `verifiedCheckpointId` (once: later reloads verify), or undefined. */
  private async recoveredChain(): Promise<VerifiedChain | undefined> {
    const id = this.verifiedCheckpointId;
    this.verifiedCheckpointId = undefined;
    if (id === undefined) return undefined;
    const chain = await loadChainManifests(this.store, id);
    const { operators } = await loadOperators(this.store, chain[chain.length - 1]!);
    return { chain, operators };
  }

  /** The checkpoint the next delta builds on (last of `chain`); its extras are carried forward. */
  private setParent(chain: CheckpointManifest[], operators: Map<string, Uint8Array> | undefined): void {
    const m = chain[chain.length - 1];
    this.parent = m;
    this.parentChain = chain;
    this.changed.clear();
    this.countedKeys = 0;
    for (const c of chain) if (c.state.keys !== UNCOUNTED_KEYS) this.countedKeys = c.state.keys;
    if (m) {
      this.extras = {
        connectors: m.connectors,
        operators: Object.fromEntries(operators ?? []),
        sinkEpochs: m.sinkEpochs,
        sinkCommitStatuses: m.sinkCommitStatuses,
        sourceWatermarks: m.sourceWatermarks,
        perCoreWalPositions: m.perCoreWalPositions,
      };
    }
  }

  private async checkpointNow(
    epoch: number,
    request: { extras: CheckpointExtras | undefined; forceBase: boolean; signal: AbortSignal | undefined },
  ): Promise<IncrementalCheckpointMetadata> {
    const { extras, forceBase, signal } = request;
    const t0 = performance.now();
    let draftId: number | undefined;
    try {
      throwIfAborted('checkpoint (queued)', signal);
      if (!this.transactional) await this.wal.sync();
      this.position ??= await this.loadPosition();
      const pos = this.position;
      // At most MAX_CHECKPOINT_REPLAY_RECORDS past the last checkpoint: `changed` is a Map, and V8
      // refuses one of more than 2^24 entries (a bulk load can outrun the checkpoints that follow
      // it). A longer backlog is covered by several checkpoints; the WAL-bytes trigger stays due.
      const durableLsn = this.wal.durableLsn;
      const target = Math.min(durableLsn, pos.lsn + this.maxReplayRecords);
      const bytesBefore = this.walBytesSinceCheckpoint();
      const markBytes = this.appendedBytes();
      let recordsReplayed = 0;
      let bytesReplayed = 0;
      if (target > pos.lsn) {
        // The replay writes straight into `changed`: a put sets the value, a delete removes the
        // key and then records its tombstone — no copy of the state is ever built.
        const sink: ReplayTarget<ReplayState> = { ...pos, state: DISCARDING_REPLAY_STATE };
        const replayer = new StateReplayer(sink, this.transactional, this.changed);
        const replayStart = performance.now();
        const read = await replayWal(this.wal.directory, replayer, {
          fromLsn: pos.lsn + 1,
          untilLsn: target,
          resumeAt: pos.resumeAt,
        });
        this.replayRate.observe(read.bytesReplayed, performance.now() - replayStart);
        pos.epoch = sink.epoch;
        pos.sourceOffsets = sink.sourceOffsets;
        pos.watermark = sink.watermark;
        pos.lastCommitLsn = sink.lastCommitLsn;
        recordsReplayed = read.records;
        bytesReplayed = read.bytesReplayed;
        // Transactional: the checkpoint covers the last Commit; what follows it is re-read next time.
        const lsn = this.transactional ? Math.max(pos.lastCommitLsn, pos.lsn) : target;
        if (lsn !== pos.lsn) pos.resumeAt = read.endPosition?.lsn === lsn + 1 ? read.endPosition : undefined;
        pos.lsn = lsn;
      }
      throwIfAborted('checkpoint (after the replay)', signal);
      if (epoch > pos.epoch) pos.epoch = epoch;
      if (extras) this.extras = { ...extras };
      draftId = await this.store.nextId();
      const draft = abortableDraft(this.draft(pos, draftId, forceBase ? 'base' : this.nextKind()), signal);
      const published = await this.publisher.publish(draft, this.wal);
      const m = published.manifest;
      this.parent = m;
      this.parentChain = m.kind === 'base' ? [m] : [...this.parentChain, m];
      if (m.state.keys !== UNCOUNTED_KEYS) this.countedKeys = m.state.keys;
      this.changed.clear();
      this.lastCheckpointAtMs = performance.now();
      // Capped below the durable end: what was not replayed is still to replay after a crash.
      this.walBacklogBytes = target < durableLsn ? Math.max(0, bytesBefore - bytesReplayed) : 0;
      this.walMarkBytes = markBytes;
      const stateFile = m.files.find((f) => f.role === m.kind)!;
      const durationMs = performance.now() - t0;
      this.counters.checkpoints++;
      if (m.kind === 'base') this.counters.bases++;
      else this.counters.deltas++;
      this.counters.bytesWritten += m.sizeBytes;
      this.counters.lastDurationMs = durationMs;
      this.last = {
        id: m.id,
        epoch: m.epoch,
        kind: m.kind,
        parentId: m.parentId,
        chainLength: m.chainLength,
        lsn: m.walPosition.lsn,
        keys: m.state.keys,
        keysWritten: m.state.entriesWritten,
        tombstones: m.state.tombstones,
        stateBytes: stateFile.sizeBytes,
        bytes: m.sizeBytes,
        recordsReplayed,
        deletedWalSegments: published.deletedWalSegments,
        deletedCheckpoints: published.deletedCheckpoints,
        durationMs,
      };
      emitCheckpointStep('published', m.id, { kind: m.kind });
      return this.last;
    } catch (err) {
      this.position = undefined;
      this.parent = undefined;
      this.parentChain = [];
      this.changed.clear();
      // An abandoned draft (files written, no manifest) goes now rather than at the next open.
      if (draftId !== undefined && isAborted(err)) await this.store.cleanupOrphans().catch(() => {});
      if (!isTidemarkError(err))
        throw new TidemarkError('TIDEMARK_BUG', `checkpoint failed: ${String(err)}`, { cause: err });
      throw err;
    }
  }

  /** Base or delta? A delta needs a parent, room in the chain, and to be smaller than a base. */
  private nextKind(): 'base' | 'delta' {
    return chooseCheckpointKind({
      parent: this.parent,
      options: this.options,
      changedKeys: this.changed.size,
      stateKeys: this.stateSize?.() ?? this.countedKeys,
    });
  }

  /** The changes, sorted by UTF-8 key bytes (the order of version 3 state files). */
  private sortedChanges(): KeyBytesEntry[] {
    return sortStateMap(this.changed);
  }

  private draft(pos: Position, id: number, kind: 'base' | 'delta'): CheckpointDraft {
    const changes = this.sortedChanges();
    let tombstones = 0;
    let chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
    const merged: MergeResult = { keys: 0, bytes: 0 };
    if (kind === 'base') {
      chunks = mergeChainIntoBase({ store: this.store, chain: this.parentChain, changes, result: merged });
    } else {
      const encoder = new StateFileV3Encoder(StateFileKind.Delta);
      // Encoded lazily, one block at a time, as the store writes.
      chunks = (function* () {
        yield* encoder.take();
        for (const { key, value } of changes) {
          encoder.add(key, value);
          yield* encoder.take();
        }
        yield* encoder.finish();
      })();
      for (const c of changes) if (c.value === undefined) tombstones++;
    }
    const files: CheckpointDataFile[] = [{ role: kind, chunks }];
    const { operators, sidecar } = this.operatorCheckpoints();
    if (sidecar.length > 0) files.push({ role: 'operators', chunks: sidecar });
    const p = this.parent;
    const x = this.extras;
    return {
      manifest: {
        version: MANIFEST_VERSION,
        id,
        epoch: pos.epoch,
        createdAtMs: Date.now(),
        kind,
        parentId: kind === 'base' ? null : p!.id,
        baseId: kind === 'base' ? id : p!.baseId,
        chainLength: kind === 'base' ? 0 : p!.chainLength + 1,
        walPosition: { lsn: pos.lsn },
        perCoreWalPositions: { ...(x.perCoreWalPositions ?? {}) },
        sourceOffsets: { ...pos.sourceOffsets },
        connectors: Object.fromEntries(
          Object.entries(x.connectors ?? {}).map(([k, c]) => [
            k,
            { ...c, metadata: { ...(c.metadata ?? {}) } },
          ]),
        ),
        operators,
        sinkEpochs: { ...(x.sinkEpochs ?? {}) },
        sinkCommitStatuses: { ...(x.sinkCommitStatuses ?? {}) },
        watermark: pos.watermark ?? null,
        sourceWatermarks: { ...(x.sourceWatermarks ?? {}) },
        // Byte counts (and a base's key count) are filled in by beforeCommit, once the state file is written.
        state: {
          keys: kind === 'base' ? 0 : UNCOUNTED_KEYS,
          entriesWritten: kind === 'base' ? 0 : changes.length,
          tombstones,
          baseBytes: 0,
          deltaBytesSinceBase: 0,
        },
      },
      files,
      beforeCommit: (m) => {
        const bytes = m.files.find((f) => f.role === kind)!.sizeBytes;
        if (kind === 'base') {
          m.state.keys = merged.keys;
          m.state.entriesWritten = merged.keys;
        }
        m.state.baseBytes = kind === 'base' ? bytes : p!.state.baseBytes;
        m.state.deltaBytesSinceBase = kind === 'base' ? 0 : p!.state.deltaBytesSinceBase + bytes;
      },
    };
  }

  /** Operator states: inline up to the threshold, the rest in one sidecar. */
  private operatorCheckpoints(): { operators: Record<string, OperatorCheckpoint>; sidecar: Uint8Array[] } {
    const operators: Record<string, OperatorCheckpoint> = {};
    const sidecar: Uint8Array[] = [];
    let offset = 0;
    for (const [name, data] of Object.entries(this.extras.operators ?? {})) {
      const sum = crc32c(data);
      if (data.length <= this.options.inlineOperatorStateBytes) {
        operators[name] = {
          stateB64: Buffer.from(data.buffer, data.byteOffset, data.length).toString('base64'),
          external: false,
          externalOffset: 0,
          externalLength: data.length,
          crc32c: sum,
        };
      } else {
        operators[name] = {
          external: true,
          externalOffset: offset,
          externalLength: data.length,
          crc32c: sum,
        };
        sidecar.push(data);
        offset += data.length;
      }
    }
    return { operators, sidecar };
  }
}

/**
 * `draft` with `signal` checked before each data chunk is written and once more just before the
 * manifest is committed (`beforeCommit`): the last point where a checkpoint can still be
 * abandoned without anything published.
 */
function abortableDraft(draft: CheckpointDraft, signal: AbortSignal | undefined): CheckpointDraft {
  if (signal === undefined) return draft;
  const what = `checkpoint ${draft.manifest.id}`;
  return {
    ...draft,
    files: draft.files.map((file) => ({ role: file.role, chunks: checkedChunks(file.chunks, what, signal) })),
    beforeCommit: (m) => {
      throwIfAborted(`${what} (before its manifest)`, signal);
      draft.beforeCommit?.(m);
    },
  };
}

async function* checkedChunks(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  what: string,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    throwIfAborted(`${what} (writing its data)`, signal);
    yield chunk;
  }
}
