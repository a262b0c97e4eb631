/**
 * `IncrementalCheckpointManager` (seed: LaminarDB's `laminar-storage` incremental checkpoints):
 * checkpoints whose cost follows the keys changed, not the state size.
 *
 * The manager keeps its *own* copy of the state, advanced by replaying the WAL from its last
 * checkpoint (the seeds' `wal.replay(last_ckpt..now) → state.apply_batch() →
 * state.create_checkpoint() → wal.truncate(epoch)`), so a checkpoint never reads the writer's
 * memory and never pauses it — in the pipeline it runs in Ring 1's thread. While replaying it
 * records every key a Put or Delete touched; a *delta* checkpoint writes just those keys (their
 * value, or a tombstone) and names its parent. A *base* writes every key: the first checkpoint,
 * with `incremental: false`, and whenever the chain passes a compaction threshold
 * (`maxChainLength` deltas, or delta bytes over `maxDeltaRatio` of the base) — as in RocksDB's
 * and Flink's incremental checkpoints, a chain is bounded and then folded into a fresh base.
 * Bases are written in 1 MiB chunks, so the thread writing them keeps serving its event loop.
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
import { MANIFEST_VERSION, StateFileKind } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { encodeStateFileChunks, type StateFileEntry } from '../format/state-file.js';
import { FsDirectory } from '../io/fs-directory.js';
import { type ReplayTarget, replayWal, StateReplayer } from '../state/apply-entry.js';
import {
  type CheckpointCall,
  type CheckpointCallOptions,
  parseCheckpointCall,
} from '../state/checkpoint-call.js';
import type { WalArchiver } from '../wal/wal-archiver.js';
import type { WalPosition } from '../wal/wal-reader.js';
import type { WriteAheadLog } from '../wal/write-ahead-log.js';
import { loadLatestCheckpoint, replayStartOf } from './checkpoint-chain.js';
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
  checkpoints: number;
  bases: number;
  deltas: number;
  /** Bytes of data files written, all checkpoints. */
  bytesWritten: number;
  lastDurationMs: number;
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

interface Copy extends ReplayTarget {
  lsn: number;
  /** Where the record after `lsn` starts in the WAL, when known: the next replay starts there. */
  resumeAt?: WalPosition | undefined;
}

/**
 * Creates base and delta checkpoints from a private, WAL-fed copy of the state.
 *
 * Threads: not thread-safe — the thread that owns its WAL (Ring 1 in the pipeline); calls from
 * that thread queue.
 */
export class IncrementalCheckpointManager {
  readonly options: CheckpointOptions;
  readonly publisher: CheckpointPublisher;
  private readonly store: CheckpointStore;
  private readonly wal: WriteAheadLog;
  private readonly transactional: boolean;
  private copy: Copy | undefined;
  /** Keys changed since `parent` (valid only while `copy` is). */
  private readonly changed = new Map<string, Uint8Array | undefined>();
  private parent: CheckpointManifest | undefined;
  private extras: CheckpointExtras = {};
  private chain: Promise<unknown> = Promise.resolve();
  private lastCheckpointAtMs = performance.now();
  /** WAL bytes after the last checkpoint that this session's counters do not include. */
  private walBacklogBytes: number;
  /** {@link appendedBytes} when the last checkpoint's position was taken. */
  private walMarkBytes: number;
  private last: IncrementalCheckpointMetadata | undefined;
  private readonly counters: IncrementalCheckpointStats = {
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
    const store = new FileSystemCheckpointStore(await FsDirectory.open(config.checkpointDir));
    return new IncrementalCheckpointManager({ store, wal, options: config.options, transactional });
  }

  /** What the last checkpoint of this manager wrote. */
  get lastCheckpoint(): IncrementalCheckpointMetadata | undefined {
    return this.last;
  }

  /** WAL LSN the newest checkpoint this manager knows covers (0 before any). */
  get checkpointLsn(): number {
    return this.parent?.walPosition.lsn ?? this.copy?.lsn ?? 0;
  }

  /** Counters. */
  stats(): IncrementalCheckpointStats {
    return { ...this.counters };
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
   * Starts from a state recovery already rebuilt instead of loading the latest checkpoint and
   * replaying the WAL a second time: the next checkpoint is a delta of `recovered.changed` on
   * `recovered.checkpoint` (or a base, as the compaction thresholds decide). The manager uses
   * `recovered.state` as its own copy from then on, so the caller must not change it while the
   * manager is in use. Call before any checkpoint; throws `TIDEMARK_BUG` otherwise.
   */
  adoptRecoveredState(recovered: RecoveredCopy): void {
    assert(this.copy === undefined, 'adoptRecoveredState() after the manager built its own copy');
    this.setParent(recovered.checkpoint, recovered.operators);
    for (const [key, value] of recovered.changed) this.changed.set(key, value);
    this.copy = {
      state: recovered.state,
      epoch: recovered.epoch,
      sourceOffsets: { ...recovered.sourceOffsets },
      watermark: recovered.watermark,
      lastCommitLsn: recovered.lastCommitLsn,
      lsn: recovered.lsn,
    };
  }

  private async loadCopy(): Promise<Copy> {
    const latest = await loadLatestCheckpoint(this.store);
    this.setParent(latest.checkpoint?.manifest, latest.checkpoint?.operators);
    return replayStartOf(latest.checkpoint);
  }

  /** The checkpoint the next delta builds on; its extras are carried forward. */
  private setParent(m: CheckpointManifest | undefined, operators: Map<string, Uint8Array> | undefined): void {
    this.parent = m;
    this.changed.clear();
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
      this.copy ??= await this.loadCopy();
      const copy = this.copy;
      const target = this.wal.durableLsn;
      const markBytes = this.appendedBytes();
      let recordsReplayed = 0;
      if (target > copy.lsn) {
        const replayer = new StateReplayer(copy, this.transactional, this.changed);
        const read = await replayWal(this.wal.directory, replayer, {
          fromLsn: copy.lsn + 1,
          untilLsn: target,
          resumeAt: copy.resumeAt,
        });
        recordsReplayed = read.records;
        // Transactional: the checkpoint covers the last Commit; what follows it is re-read next time.
        const lsn = this.transactional ? Math.max(copy.lastCommitLsn, copy.lsn) : target;
        if (lsn !== copy.lsn)
          copy.resumeAt = read.endPosition?.lsn === lsn + 1 ? read.endPosition : undefined;
        copy.lsn = lsn;
      }
      throwIfAborted('checkpoint (after the replay)', signal);
      if (epoch > copy.epoch) copy.epoch = epoch;
      if (extras) this.extras = { ...extras };
      draftId = await this.store.nextId();
      const draft = abortableDraft(
        this.draft(copy, draftId, forceBase ? 'base' : this.nextKind(copy)),
        signal,
      );
      const published = await this.publisher.publish(draft, this.wal);
      const m = published.manifest;
      this.parent = m;
      this.changed.clear();
      this.lastCheckpointAtMs = performance.now();
      this.walBacklogBytes = 0;
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
      this.copy = undefined;
      this.parent = undefined;
      this.changed.clear();
      // An abandoned draft (files written, no manifest) goes now rather than at the next open.
      if (draftId !== undefined && isAborted(err)) await this.store.cleanupOrphans().catch(() => {});
      if (!isTidemarkError(err))
        throw new TidemarkError('TIDEMARK_BUG', `checkpoint failed: ${String(err)}`, { cause: err });
      throw err;
    }
  }

  /** Base or delta? A delta needs a parent, room in the chain, and to be smaller than a base. */
  private nextKind(copy: Copy): 'base' | 'delta' {
    return chooseCheckpointKind({
      parent: this.parent,
      options: this.options,
      changedKeys: this.changed.size,
      stateKeys: copy.state.size,
    });
  }

  private draft(copy: Copy, id: number, kind: 'base' | 'delta'): CheckpointDraft {
    const state = copy.state;
    const changed = this.changed;
    let entries: number;
    let tombstones = 0;
    let source: Iterable<StateFileEntry>;
    if (kind === 'base') {
      entries = state.size;
      source = state.entries();
    } else {
      entries = changed.size;
      for (const value of changed.values()) if (value === undefined) tombstones++;
      source = changed.entries();
    }
    const files: CheckpointDataFile[] = [
      {
        role: kind,
        chunks: encodeStateFileChunks(
          kind === 'base' ? StateFileKind.Base : StateFileKind.Delta,
          entries,
          source,
        ),
      },
    ];
    const { operators, sidecar } = this.operatorCheckpoints();
    if (sidecar.length > 0) files.push({ role: 'operators', chunks: sidecar });
    const p = this.parent;
    const x = this.extras;
    return {
      manifest: {
        version: MANIFEST_VERSION,
        id,
        epoch: copy.epoch,
        createdAtMs: Date.now(),
        kind,
        parentId: kind === 'base' ? null : p!.id,
        baseId: kind === 'base' ? id : p!.baseId,
        chainLength: kind === 'base' ? 0 : p!.chainLength + 1,
        walPosition: { lsn: copy.lsn },
        perCoreWalPositions: { ...(x.perCoreWalPositions ?? {}) },
        sourceOffsets: { ...copy.sourceOffsets },
        connectors: Object.fromEntries(
          Object.entries(x.connectors ?? {}).map(([k, c]) => [
            k,
            { ...c, metadata: { ...(c.metadata ?? {}) } },
          ]),
        ),
        operators,
        sinkEpochs: { ...(x.sinkEpochs ?? {}) },
        sinkCommitStatuses: { ...(x.sinkCommitStatuses ?? {}) },
        watermark: copy.watermark ?? null,
        sourceWatermarks: { ...(x.sourceWatermarks ?? {}) },
        // Byte counts are filled in by beforeCommit, once the state file is written.
        state: {
          keys: state.size,
          entriesWritten: entries,
          tombstones,
          baseBytes: 0,
          deltaBytesSinceBase: 0,
        },
      },
      files,
      beforeCommit: (m) => {
        const bytes = m.files.find((f) => f.role === kind)!.sizeBytes;
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
