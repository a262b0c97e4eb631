/**
 * `RecoveryManager` (the seeds' `RecoveryManager`, `RecoveryConfig`, `RecoveredState`):
 * latest valid checkpoint + WAL replay, the core invariant
 * `Checkpoint(epoch) + WAL.replay(epoch..current) = Consistent State`.
 *
 * A data directory holds `LOCK`, `wal/` (segments) and `checkpoints/`.
 */

import * as path from 'node:path';
import { type AbortOptions, abortSignalOf, throwIfAborted } from '../abort-steps.js';
import { startAutoCheckpoint } from '../checkpoint/auto-checkpoint.js';
import {
  type LatestCheckpoint,
  loadLatestCheckpoint,
  replayStartOf,
  type SkippedCheckpoint,
} from '../checkpoint/checkpoint-chain.js';
import type { CheckpointOptions } from '../checkpoint/checkpoint-config.js';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.js';
import {
  type CreateCheckpointOptions,
  IncrementalCheckpointManager,
  MAX_CHECKPOINT_REPLAY_RECORDS,
} from '../checkpoint/incremental-checkpoint-manager.js';
import { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import { type RecoverySpanContext, traceAsync, tracing } from '../diagnostics.js';
import { isTidemarkError, TidemarkError } from '../errors.js';
import type {
  CheckpointExtras,
  CheckpointManifest,
  IncrementalCheckpointMetadata,
} from '../format/checkpoint-manifest.js';
import { ABORT_ENCODER, type SourceOffsets } from '../format/entry-codec.js';
import type { Directory, DirectoryLock } from '../io/directory.js';
import { FsDirectory } from '../io/fs-directory.js';
import { MemoryDirectory } from '../io/memory-directory.js';
import { replayWal, StateReplayer } from '../state/apply-entry.js';
import { type CheckpointCallOptions, parseCheckpointCall } from '../state/checkpoint-call.js';
import type { StateBackend, StateBackendKind } from '../state/state-backend.js';
import { WalStateStore } from '../state/wal-state-store.js';
import { checkOptionsObject } from '../validation.js';
import { listSegments, readSegmentHead } from '../wal/segment-files.js';
import type { TornTail, WalDamage, WalRecoveryMode } from '../wal/segment-scanner.js';
import { listArchivedSegments, type WalArchiver } from '../wal/wal-archiver.js';
import { checkWalHistory } from '../wal/wal-history.js';
import { WalReader } from '../wal/wal-reader.js';
import { cutWalAt } from '../wal/wal-repair.js';
import { type WalOptions, WriteAheadLog } from '../wal/write-ahead-log.js';
import { checkRecoveryConfig } from './config-validation.js';
import {
  objectStoreOf,
  openCheckpointStore,
  type StorageOptions,
  startWalArchiver,
  WAL_DIR_NAME,
} from './storage-location.js';
import { fetchWalForOpen } from './unarchived-tail.js';
import { claimWriter } from './writer-claim.js';

export { CHECKPOINT_DIR_NAME, WAL_DIR_NAME } from './storage-location.js';

/**
 * Configuration of recovery and of the store it opens. With `objectStore`, checkpoints live in
 * object storage and sealed WAL segments are archived there (see {@link StorageOptions}).
 */
export interface RecoveryConfig extends StorageOptions {
  /** The data directory: a path, or any {@link Directory}. */
  dir: string | Directory;
  /**
   * When true, records after the last Commit are an unfinished transaction and are discarded
   * (an Abort record is appended on open so they can never be revived). Default false: every
   * durable record is applied.
   */
  transactional?: boolean;
  /** WAL options for the store opened by {@link RecoveryManager.open}. */
  wal?: WalOptions;
  /** Checkpoints kept (default 2). Shorthand for `checkpoint.maxRetained`. */
  maxRetained?: number;
  /** Incremental checkpointing: base/delta, compaction thresholds, retention (see `CheckpointOptions`). */
  checkpoint?: Partial<CheckpointOptions>;
  /**
   * What recovery does with damage in the WAL (RocksDB's WAL recovery modes; see
   * {@link WalRecoveryMode}): `'tolerate-torn-tail'` (default), `'absolute-consistency'`,
   * `'point-in-time'` (`open()` cuts the log at its first damage), or `'salvage'` (read-only:
   * `recover()` only; `open()` refuses it with `TIDEMARK_INVALID_ARGUMENT`). What was dropped or
   * skipped is in `stats.walDamage`.
   */
  mode?: WalRecoveryMode;
  /**
   * Also record, in `RecoveredState.changedSinceCheckpoint`, every key the replay changed (its
   * new value, or `undefined` when deleted): what a delta checkpoint of the recovered state
   * writes. Default false.
   */
  trackChangedKeys?: boolean;
  /**
   * What holds the state in memory (the recovered state and the open store's): `'slab'`
   * (default: byte slabs and a B+-tree, ~30–45 B per key beyond key and value, no limit on the
   * number of keys) or `'map'` (a JavaScript `Map`: about twice as fast for puts and point reads
   * on small states per bench/state-backend.ts, but ~330 B of heap per key, at most 2^24 keys, and
   * each scan after a key was added or removed sorts the keys). Anything else is
   * `TIDEMARK_INVALID_ARGUMENT`.
   */
  stateBackend?: StateBackendKind;
}

/** Timings and counts of one recovery. */
export interface RecoveryStats {
  /** Id of the checkpoint used, or undefined when recovery started from an empty state. */
  checkpointId: number | undefined;
  /** WAL LSN that checkpoint covers (0 without one): replay started after it. */
  checkpointLsn: number;
  /** Newer checkpoints that failed verification and were passed over. */
  checkpointsSkipped: SkippedCheckpoint[];
  /** WAL records replayed. */
  recordsReplayed: number;
  /** Mutations discarded because their transaction never committed. */
  uncommittedDiscarded: number;
  /** Bytes of WAL read. */
  bytesRead: number;
  /** Bytes of the WAL records replayed (after the checkpoint): what a new checkpoint would cover. */
  bytesReplayed: number;
  /** Archived WAL segments copied from the object store into an empty local WAL (open on a new machine). */
  segmentsFetched: number;
  /** `point-in-time`: where the log was ended; `salvage`: every damaged range skipped. */
  walDamage: WalDamage[];
  /** Torn tail found (read-only recover) or cut (open), if any. */
  tornTail: TornTail | undefined;
  /** Wall time, ms. */
  durationMs: number;
}

/** What recovery rebuilt. */
export interface RecoveredState {
  /** Manifest of the checkpoint recovery started from (connectors, sinks, per-core positions, …), if any. */
  checkpoint: CheckpointManifest | undefined;
  /** Operator state of that checkpoint, by operator name. */
  operators: Map<string, Uint8Array>;
  /** Epoch of the last Commit applied (or of the checkpoint). */
  epoch: number;
  /** Per-source offsets as of the last Commit applied (or the checkpoint). */
  sourceOffsets: SourceOffsets;
  /** Watermark (event time, ms) of the last Commit applied (or the checkpoint); undefined when none. */
  watermark: number | undefined;
  /** The key/value state (see `StateBackend`: get, has, size, scans in UTF-8 byte order, snapshot). */
  state: StateBackend;
  /** LSN of the last record applied (or covered by the checkpoint). */
  lsn: number;
  /** With `trackChangedKeys`: the keys the replay changed since `checkpoint` (undefined: deleted). */
  changedSinceCheckpoint?: Map<string, Uint8Array | undefined> | undefined;
  /** What recovery did: checkpoint loaded, records replayed, damage, timings. */
  stats: RecoveryStats;
}

/** An open, recovered store: write through `store`, checkpoint with `checkpoint()`. */
export interface OpenedStore {
  /** The open store, holding the recovered state; mutations are logged to the WAL before they apply. */
  store: WalStateStore;
  /** What recovery found (the store's initial state and position). */
  recovered: RecoveredState;
  /** The checkpointer (base/delta checkpoints from its own copy of the state). */
  checkpoints: IncrementalCheckpointManager;
  /** With WAL archiving (an object store): the archiver shipping sealed segments. */
  archiver: WalArchiver | undefined;
  /**
   * Syncs the WAL, advances the store's epoch and checkpoints everything durable (in
   * transactional mode, up to the last Commit). See {@link IncrementalCheckpointManager.createCheckpoint}.
   * `extras` and `options` are objects or undefined: anything else rejects with
   * `TIDEMARK_INVALID_ARGUMENT` before anything is written; after `close()`, `TIDEMARK_CLOSED`.
   *
   * The first argument is either the extras themselves or an options object
   * `{ extras?, signal?, forceBase? }` (see {@link CheckpointCallOptions}); `options.signal`
   * works too. A call with a signal never joins another call's checkpoint (its abort would
   * abandon theirs): it runs as its own, after the ones queued. An abort before the publish
   * point abandons the draft (`TIDEMARK_ABORTED`); past it the checkpoint completes.
   */
  checkpoint(
    extras?: CheckpointExtras | (CheckpointCallOptions & Pick<CreateCheckpointOptions, 'forceBase'>),
    options?: CreateCheckpointOptions,
  ): Promise<IncrementalCheckpointMetadata>;
  /**
   * Syncs and closes the WAL and releases the directory lock. With WAL archiving it first seals
   * the active segment and archives it, so the archive holds the whole log; an archiving failure
   * rejects (`TIDEMARK_IO`) after everything is closed. Memoized: every call returns the same promise.
   */
  close(): Promise<void>;
  /** `await using opened = await manager.open()`: {@link close} when the scope ends. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Recovers state from a data directory.
 *
 * Threads: use from one thread; the store `open()` returns belongs to that thread (see
 * `WalStateStore`).
 */
export class RecoveryManager {
  /** Checks every option (throws `TIDEMARK_INVALID_ARGUMENT` naming it) before anything is touched. */
  constructor(
    /** Where and how to recover: data directory, recovery mode, checkpoint and object-store options. */
    readonly config: RecoveryConfig,
  ) {
    checkRecoveryConfig(config);
  }

  /**
   * The data directory for read-only recovery, which creates nothing: a missing path is
   * `TIDEMARK_NOT_FOUND` — unless checkpoints live in an object store, where a missing local
   * directory is an empty one (recovery then reads the store, and refuses to drop an archived
   * WAL it cannot read locally).
   */
  private async readOnlyRoot(): Promise<Directory> {
    try {
      return await this.root(false);
    } catch (err) {
      if (!isTidemarkError(err, 'TIDEMARK_NOT_FOUND') || objectStoreOf(this.config) === undefined) throw err;
      return new MemoryDirectory(path.resolve(this.config.dir as string));
    }
  }

  /** The data directory; read-only recovery creates nothing (a missing path is `TIDEMARK_NOT_FOUND`). */
  private async root(create: boolean): Promise<Directory> {
    const d = this.config.dir;
    if (typeof d !== 'string') return d;
    return create ? FsDirectory.open(d) : FsDirectory.openExisting(d);
  }

  /**
   * Read-only recovery (the seed's `recover`): nothing on disk changes. Same as
   * {@link recoverLatestValidated} (and takes the same `{ signal }`).
   */
  recover(options?: AbortOptions): Promise<RecoveredState> {
    return this.recoverLatestValidated(options);
  }

  /**
   * Recovers from the newest checkpoint whose whole chain validates, walking back past invalid
   * ones (reported in `stats.checkpointsSkipped` with their code and reason), then replays the
   * WAL from it. Read-only. Throws `TIDEMARK_DATA_LOSS` when the WAL no longer reaches back to
   * the checkpoint used — or, with no valid checkpoint left, to LSN 1 — never a partial start;
   * also `TIDEMARK_CORRUPTION`, `TIDEMARK_UNSUPPORTED_VERSION`, `TIDEMARK_IO`.
   *
   * `options.signal` stops the recovery between WAL segments (and between its other steps):
   * it rejects with `TIDEMARK_ABORTED` (`cause` = `signal.reason`); an already aborted signal
   * rejects before anything is read. Nothing on disk changes either way.
   */
  recoverLatestValidated(options?: AbortOptions): Promise<RecoveredState> {
    let signal: AbortSignal | undefined;
    try {
      signal = abortSignalOf('recover(options)', options);
      throwIfAborted(`recovering ${this.describeDir()}`, signal);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.traced(
      'recover',
      () => this.recoverNow(signal),
      (r) => r,
    );
  }

  private describeDir(): string {
    const d = this.config.dir;
    return typeof d === 'string' ? path.resolve(d) : d.path;
  }

  private async recoverNow(signal: AbortSignal | undefined): Promise<RecoveredState> {
    const what = `recovering ${this.describeDir()}`;
    const root = await this.readOnlyRoot();
    const walDir = await root.subdirectory(WAL_DIR_NAME);
    const checkpoints = await openCheckpointStore(root, objectStoreOf(this.config));
    try {
      await requireLocalWalWhenArchived(walDir, checkpoints.store, this.config);
      const latest = await loadLatestCheckpoint(checkpoints.store, {
        stateBackend: this.config.stateBackend,
      });
      throwIfAborted(what, signal);
      await requireWalFrom(walDir, latest);
      const historyDamage = await checkHistory(walDir, latest, this.config.mode);
      const recovered = await this.replay(walDir, latest, signal);
      recovered.stats.walDamage.unshift(...historyDamage);
      return recovered;
    } finally {
      checkpoints.close();
    }
  }

  /**
   * Takes the directory's lock, recovers, cuts a torn WAL tail, and returns a writable store.
   * Throws `TIDEMARK_LOCKED` when another writer has the directory.
   *
   * `options.signal` stops the open at its next safe point — between WAL segments of the replay
   * and between the steps before the store is handed out: it rejects with `TIDEMARK_ABORTED`
   * (`cause` = `signal.reason`) after closing the WAL and releasing the lock. Nothing is
   * half-published: the directory recovers as before (a torn tail the open already cut stays
   * cut; an archive fetch stopped midway is restarted by the next open). An already aborted
   * signal rejects before the lock is taken.
   */
  open(options?: AbortOptions): Promise<OpenedStore> {
    let signal: AbortSignal | undefined;
    try {
      signal = abortSignalOf('open(options)', options);
      throwIfAborted(`opening ${this.describeDir()}`, signal);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.traced(
      'open',
      () => this.openNow(signal),
      (opened) => opened.recovered,
    );
  }

  /**
   * Runs a recovery as a `tidemark:recovery` span (plainly when nobody subscribes): the context
   * names the directory, then the checkpoint used and the records replayed once it is done.
   */
  private traced<R>(
    operation: 'recover' | 'open',
    run: () => Promise<R>,
    recoveredOf: (result: R) => RecoveredState,
  ): Promise<R> {
    const d = this.config.dir;
    return traceAsync(
      tracing.recovery,
      (): RecoverySpanContext => ({ dir: typeof d === 'string' ? path.resolve(d) : d.path, operation }),
      async (ctx) => {
        const result = await run();
        if (ctx) {
          const { stats } = recoveredOf(result);
          ctx.checkpointId = stats.checkpointId;
          ctx.recordsReplayed = stats.recordsReplayed;
        }
        return result;
      },
    );
  }

  private async openNow(signal: AbortSignal | undefined): Promise<OpenedStore> {
    const what = `opening ${this.describeDir()}`;
    if (this.config.mode === 'salvage')
      throw new TidemarkError(
        'TIDEMARK_INVALID_ARGUMENT',
        'salvage recovery is read-only: use recover(), then write what it found into a new directory',
      );
    const root = await this.root(true);
    const lock: DirectoryLock = await root.lock();
    const opened: { close(): void }[] = [];
    try {
      const walDir = await root.subdirectory(WAL_DIR_NAME);
      // A writer on an object store claims its epoch first (fencing the previous writer): what
      // it fetches and recovers next is then exactly the history its claim records as valid.
      const objectStore = objectStoreOf(this.config);
      const claimed = objectStore
        ? await claimWriter(objectStore, { root, takeover: this.config.takeover ?? false })
        : undefined;
      if (claimed) opened.push(claimed);
      throwIfAborted(what, signal);
      const checkpointStore =
        claimed ??
        (await openCheckpointStore(root, objectStore, { compression: this.config.checkpoint?.compression }));
      if (!claimed) opened.push(checkpointStore);
      const store = checkpointStore.store;
      let loaded: LatestCheckpoint | undefined;
      const loadLatest = async () => {
        loaded ??= await loadLatestCheckpoint(store, { stateBackend: this.config.stateBackend });
        return loaded;
      };
      // A fresh directory (a takeover) fetches the archive; when nothing after the checkpoint
      // reached it, the previous writer's unarchived tail is the takeover's documented loss
      // bound, not missing WAL (unarchived-tail.ts).
      const segmentsFetched = await fetchWalForOpen({
        walDir,
        storage: this.config,
        checkpointLsn: async () => (await loadLatest()).checkpoint?.manifest.walPosition.lsn ?? 0,
        signal,
      });
      const latest = await loadLatest();
      throwIfAborted(what, signal);
      const ckptLsn = latest.checkpoint?.manifest.walPosition.lsn ?? 0;
      await requireWalFrom(walDir, latest);
      const historyDamage = await checkHistory(walDir, latest, this.config.mode);
      let cut: WalDamage | undefined;
      if (this.config.mode === 'point-in-time') {
        // End the log at its first damage before the writer opens it.
        const read = await WalReader.read(
          walDir,
          { fromLsn: ckptLsn + 1, mode: 'point-in-time', signal },
          () => {},
        );
        cut = read.damage[0];
        if (cut) await cutWalAt(walDir, cut);
      }
      const wal = await WriteAheadLog.open(walDir, {
        ...this.config.wal,
        lock: false,
        initialLsn: ckptLsn + 1,
        recoveryMode:
          this.config.mode === 'absolute-consistency' ? 'absolute-consistency' : 'tolerate-torn-tail',
      });
      let archiver: WalArchiver | undefined;
      try {
        if (wal.lastLsn < ckptLsn) {
          throw new TidemarkError(
            'TIDEMARK_DATA_LOSS',
            `WAL in ${walDir.path} ends at LSN ${wal.lastLsn}, before checkpoint ${latest.checkpoint?.manifest.id} (LSN ${ckptLsn})`,
            { path: walDir.path },
          );
        }
        const recovered = await this.replay(walDir, latest, signal);
        // The last safe point: past it the open appends (an Abort) and hands the store out.
        throwIfAborted(what, signal);
        recovered.stats.tornTail = wal.repairedTail ?? recovered.stats.tornTail;
        recovered.stats.segmentsFetched = segmentsFetched;
        if (cut) recovered.stats.walDamage = [cut];
        recovered.stats.walDamage.unshift(...historyDamage);
        archiver = await startWalArchiver(store, wal, this.config);
        // A fenced writer stops: nothing more is acknowledged, every waiter fails.
        claimed?.fence.onFenced((err) => wal.failWith(err));
        const transactional = this.config.transactional ?? false;
        if (transactional && recovered.stats.uncommittedDiscarded > 0) wal.append(ABORT_ENCODER);
        const stateStore = new WalStateStore(wal, {
          state: recovered.state,
          epoch: recovered.epoch,
          sourceOffsets: recovered.sourceOffsets,
          watermark: recovered.watermark,
          transactional,
        });
        const checkpoints = new IncrementalCheckpointManager({
          store,
          wal,
          transactional,
          archiver,
          options: { maxRetained: this.config.maxRetained, ...this.config.checkpoint },
          walBytesSinceCheckpoint: recovered.stats.bytesReplayed,
          recoveryReplay: { bytes: recovered.stats.bytesReplayed, ms: recovered.stats.durationMs },
          stateSize: () => stateStore.size,
          verifiedCheckpointId: recovered.checkpoint?.id,
        });
        await checkpoints.cleanupOrphans();
        let closing: Promise<void> | undefined;
        let inFlight: Promise<IncrementalCheckpointMetadata> | undefined;
        const walArchiver = archiver;
        // intervalMs / walSizeThresholdBytes: checkpoints start on their own (auto-checkpoint.ts).
        const auto = startAutoCheckpoint({ manager: checkpoints, checkpoint: () => opened.checkpoint() });
        const opened: OpenedStore = {
          store: stateStore,
          recovered,
          checkpoints,
          archiver,
          // One at a time, as the changelog-aware store does: a call while one runs joins it,
          // unless it brings extras or options of its own (then it runs next, in order).
          checkpoint: (first, options) => {
            let call: ReturnType<typeof parseCheckpointCall>;
            let signal: AbortSignal | undefined;
            try {
              call = parseCheckpointCall('checkpoint(extras)', first, true);
              checkOptionsObject('checkpoint(options)', options);
              signal = abortSignalOf('checkpoint(options)', options) ?? call.signal;
              throwIfAborted('checkpoint', signal);
            } catch (err) {
              return Promise.reject(err);
            }
            if (closing) return Promise.reject(closedError(walDir.path));
            const { extras } = call;
            const plain = extras === undefined && options === undefined && first === undefined;
            if (inFlight && plain) return inFlight;
            const run = checkpoints.createCheckpoint(stateStore.advanceEpoch(), extras, {
              ...options,
              ...(call.forceBase !== undefined ? { forceBase: call.forceBase } : {}),
              signal,
            });
            // A call with a signal is nobody else's to join: their checkpoint must not be aborted by it.
            if (signal !== undefined) return run;
            inFlight = run;
            const clear = () => {
              if (inFlight === run) inFlight = undefined;
            };
            run.then(clear, clear);
            return run;
          },
          close,
          [Symbol.asyncDispose]: close,
        };
        return opened;
        function close(): Promise<void> {
          stateStore.markClosing();
          closing ??= closeOnce();
          return closing;
        }
        async function closeOnce(): Promise<void> {
          let archiveError: unknown;
          try {
            await auto.stop();
            await checkpoints.idle();
            if (walArchiver) {
              await walArchiver.archiveAll().catch((err: unknown) => {
                archiveError = err;
              });
              await walArchiver.stop();
            }
            await wal.close();
          } finally {
            checkpointStore.close();
            await lock.release();
          }
          if (archiveError !== undefined) throw archiveError;
        }
      } catch (err) {
        await archiver?.stop();
        await wal.close().catch(() => {});
        throw err;
      }
    } catch (err) {
      for (const o of opened) o.close();
      await lock.release();
      throw err;
    }
  }

  private async replay(
    walDir: Directory,
    latest: LatestCheckpoint,
    signal: AbortSignal | undefined,
  ): Promise<RecoveredState> {
    const t0 = performance.now();
    const ckpt = latest.checkpoint;
    const target = replayStartOf(ckpt, { stateBackend: this.config.stateBackend });
    const fromLsn = target.lsn + 1;
    const tracked = this.config.trackChangedKeys ? new Map<string, Uint8Array | undefined>() : undefined;
    const replayer = new StateReplayer(target, this.config.transactional ?? false, tracked);
    // A replay of more changed keys than one checkpoint takes gives the record up (the checkpoint
    // on open is then skipped; Ring 1 checkpoints the backlog in steps) rather than hit V8's limit.
    replayer.changedLimit = MAX_CHECKPOINT_REPLAY_RECORDS;
    const read = await replayWal(walDir, replayer, { fromLsn, mode: this.config.mode, signal });
    const changed = replayer.changed;
    if (read.lastLsn < target.lsn) {
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `WAL in ${walDir.path} ends at LSN ${read.lastLsn}, before checkpoint ${ckpt?.manifest.id} (LSN ${target.lsn}): the records after it are lost`,
        { path: walDir.path },
      );
    }
    const transactional = this.config.transactional ?? false;
    return {
      checkpoint: ckpt?.manifest,
      operators: ckpt?.operators ?? new Map(),
      epoch: target.epoch,
      sourceOffsets: target.sourceOffsets,
      watermark: target.watermark,
      state: target.state,
      lsn: transactional ? Math.max(target.lastCommitLsn, fromLsn - 1) : read.lastReplayedLsn,
      ...(changed ? { changedSinceCheckpoint: changed } : {}),
      stats: {
        checkpointId: ckpt?.manifest.id,
        checkpointLsn: target.lsn,
        checkpointsSkipped: latest.skipped,
        recordsReplayed: read.records,
        uncommittedDiscarded: replayer.pendingCount,
        bytesRead: read.bytesRead,
        bytesReplayed: read.bytesReplayed,
        segmentsFetched: 0,
        walDamage: read.damage,
        tornTail: read.tornTail,
        durationMs: performance.now() - t0,
      },
    };
  }
}

/**
 * The WAL checks recovery makes before replaying (see {@link checkWalHistory}): no missing
 * segment, no vanished WAL behind a checkpoint, an intact retained history. Damage in the
 * history is refused, except in the modes that accept losing damaged records, which report it.
 */
function checkHistory(walDir: Directory, latest: LatestCheckpoint, mode: WalRecoveryMode | undefined) {
  return checkWalHistory({
    dir: walDir,
    checkpointLsn: latest.checkpoint?.manifest.walPosition.lsn ?? 0,
    checkpointId: latest.checkpoint?.manifest.id,
    reportHistoryDamage: mode === 'salvage' || mode === 'point-in-time',
  });
}

/**
 * Read-only recovery never copies anything: an empty local WAL in front of a WAL archive that
 * holds segments would recover only the checkpoint, silently missing the archived records after
 * it. That is `TIDEMARK_DATA_LOSS`, pointing at `open()` (which fetches the archive) and
 * `restoreFromObjectStore()`.
 */
async function requireLocalWalWhenArchived(
  walDir: Directory,
  store: CheckpointStore,
  options: StorageOptions,
): Promise<void> {
  if (!(store instanceof ObjectStoreCheckpointStore) || options.archiveWal === false) return;
  if ((await listSegments(walDir)).length > 0) return;
  const archived = await listArchivedSegments(store.storage);
  if (archived.length === 0) return;
  throw new TidemarkError(
    'TIDEMARK_DATA_LOSS',
    `the local WAL in ${walDir.path} is empty but ${store.storage.url} archives ${archived.length} segment(s): recovering without them would drop their records; open() fetches them, or restore first (restoreFromObjectStore, tidemark recover --from)`,
    { path: walDir.path },
  );
}

/**
 * Throws `TIDEMARK_DATA_LOSS` when checkpoints exist but none is valid and the WAL does not hold
 * every record from LSN 1: starting from an empty state would silently drop what they held.
 * (A WAL that starts after a *valid* checkpoint's LSN is caught by the reader.)
 */
async function requireWalFrom(walDir: Directory, latest: LatestCheckpoint): Promise<void> {
  if (latest.checkpoint !== undefined || latest.skipped.length === 0) return;
  const segments = await listSegments(walDir);
  const first = segments.length > 0 ? (await readSegmentHead(walDir, segments[0]!)).header : undefined;
  const firstLsn = first === undefined || typeof first === 'string' ? undefined : first.firstLsn;
  if (firstLsn !== 1) {
    const why = latest.skipped.map((s) => `checkpoint ${s.id}: ${s.code} ${s.reason}`).join('; ');
    throw new TidemarkError(
      'TIDEMARK_DATA_LOSS',
      `no valid checkpoint is left (${why}) and the WAL in ${walDir.path} ${
        firstLsn === undefined ? 'is empty' : `starts at LSN ${firstLsn}`
      }, not at LSN 1`,
      { path: walDir.path },
    );
  }
}

function closedError(path: string): TidemarkError {
  return new TidemarkError('TIDEMARK_CLOSED', `the store on ${path} is closed`, { path });
}
