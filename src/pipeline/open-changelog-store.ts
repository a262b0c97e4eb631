/**
 * `openChangelogAwareStore()`: recovery (latest valid checkpoint + WAL replay, in this thread)
 * followed by the Ring 0 / Ring 1 pipeline — a {@link ChangelogAwareStore} in this thread and a
 * Ring 1 worker thread that owns the WAL and the checkpoints (DESIGN.md, "Threads").
 *
 * The data directory is the same as `RecoveryManager`'s (`LOCK`, `wal/`, `checkpoints/`) and the
 * on-disk format is the same: either store can open what the other wrote.
 */
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { type AbortOptions, abortSignalOf, operationAborted, throwIfAborted } from '../abort-steps.js';
import type { ChangelogDrainerOptions } from '../changelog/changelog-drainer.js';
import { publishFailure, storeEpoch } from '../changelog/ring-status.js';
import {
  StateChangelogBuffer,
  type StateChangelogBufferOptions,
} from '../changelog/state-changelog-buffer.js';
import { loadLatestCheckpoint } from '../checkpoint/checkpoint-chain.js';
import { type CheckpointOptions, resolveCheckpointOptions } from '../checkpoint/checkpoint-config.js';
import { TidemarkError, type TidemarkErrorCode } from '../errors.js';
import type { IncrementalCheckpointMetadata } from '../format/checkpoint-manifest.js';
import { FsDirectory } from '../io/fs-directory.js';
import { checkChangelogStoreConfig } from '../recovery/config-validation.js';
import {
  CHECKPOINT_DIR_NAME,
  type RecoveredState,
  RecoveryManager,
  WAL_DIR_NAME,
} from '../recovery/recovery-manager.js';
import { type ClaimedEpoch, objectStoreOf, type StorageOptions } from '../recovery/storage-location.js';
import { fetchWalForOpen } from '../recovery/unarchived-tail.js';
import { claimWriter } from '../recovery/writer-claim.js';
import {
  type BackpressurePolicy,
  ChangelogAwareStore,
  type Ring1CheckpointResult,
  type Ring1Link,
} from '../state/changelog-aware-store.js';
import type { StateBackendKind } from '../state/state-backend.js';
import type { WalOptions } from '../wal/write-ahead-log.js';
import { checkpointRecoveredState } from './checkpoint-on-open.js';
import { SpanRelay } from './forward-spans.js';
import { startModuleWorker } from './module-worker.js';
import type { Ring0ToRing1, Ring1ToRing0, Ring1WorkerData, WireError } from './ring1-protocol.js';

/**
 * Configuration of {@link openChangelogAwareStore}. With `objectStore`, Ring 1 keeps checkpoints
 * in object storage and archives sealed WAL segments there (see {@link StorageOptions}).
 */
export interface ChangelogStoreConfig extends StorageOptions, AbortOptions {
  /** The data directory (a path: Ring 1 opens it from its own thread). */
  dir: string;
  /** Only committed transactions survive recovery (see `RecoveryConfig.transactional`). Default false. */
  transactional?: boolean;
  /** WAL options used by Ring 1 (group commit size and delay, segment size, sync method). */
  wal?: Omit<WalOptions, 'lock' | 'initialLsn'>;
  /** Checkpoints kept; the WAL is kept back to the oldest of them. Default 2 (shorthand for `checkpoint.maxRetained`). */
  maxRetained?: number;
  /** Incremental checkpointing in Ring 1: base/delta, compaction thresholds (see `CheckpointOptions`). */
  checkpoint?: Partial<CheckpointOptions>;
  /** Ring sizes: `capacityEntries` (default 65,536) and `arenaBytes` (default 32 MiB), powers of two. */
  ring?: StateChangelogBufferOptions;
  /** Policy for a full ring: `'wait'` (default) or `'throw'`. */
  backpressure?: BackpressurePolicy;
  /** Bytes Ring 0 may queue behind a full ring in `'wait'` mode. Default 16 MiB. */
  maxQueuedBytes?: number;
  /** Ring 1's drain loop: batch size, spin before sleeping (µs), longest idle sleep (ms). */
  drainer?: Pick<ChangelogDrainerOptions, 'maxBatchEntries' | 'spinMicros' | 'idleSleepMs'>;
  /** Ring 1 checkpoints on its own this often, ms. Default 0 (only when asked). Shorthand for `checkpoint.intervalMs`. */
  checkpointIntervalMs?: number;
  /**
   * What holds Ring 0's state (what `get`, `has` and the scans read): `'slab'` (default) or
   * `'map'` — see `RecoveryConfig.stateBackend` for the trade-off. Ring 1's own copy of the state
   * (what it checkpoints from) is always a slab store. Anything else is `TIDEMARK_INVALID_ARGUMENT`.
   */
  stateBackend?: StateBackendKind;
  /** Ring 1 checkpoints early once this many WAL bytes were appended since the last checkpoint (before this open too). Default 0 (never). Shorthand for `checkpoint.walSizeThresholdBytes`. */
  checkpointWalBytes?: number;
}

/** The open pipeline and what recovery found. */
export interface OpenedChangelogStore {
  /** The open store: Ring 0's side, with the Ring 1 worker writing its WAL and checkpoints. */
  store: ChangelogAwareStore;
  /** What recovery found (the store's initial state and position). */
  recovered: RecoveredState;
  /**
   * The checkpoint of the recovered state written before the store opened, when recovery
   * replayed at least `checkpoint.recoveryCheckpointRecords` WAL records (see `CheckpointOptions`).
   */
  recoveryCheckpoint: IncrementalCheckpointMetadata | undefined;
}

/** Starts the Ring 1 worker (`ring1-worker.js`, or `.ts` under tsx). */
function startWorker(workerData: Ring1WorkerData): Worker {
  return startModuleWorker(import.meta.url, 'ring1-worker', { workerData, name: 'tidemark-ring1' });
}

function fromWire(e: WireError): TidemarkError {
  const details: { path?: string; offset?: number } = {};
  if (e.path !== undefined) details.path = e.path;
  if (e.offset !== undefined) details.offset = e.offset;
  return new TidemarkError(e.code as TidemarkErrorCode, e.message, details);
}

/**
 * Recovers the data directory `config.dir`, checkpoints the recovered state when recovery
 * replayed at least `checkpoint.recoveryCheckpointRecords` WAL records (`recoveryCheckpoint` in
 * the result), and starts the pipeline. Throws `TIDEMARK_LOCKED` (another writer),
 * `TIDEMARK_CORRUPTION`, `TIDEMARK_DATA_LOSS`, `TIDEMARK_UNSUPPORTED_VERSION`, `TIDEMARK_IO`,
 * `TIDEMARK_NO_SPACE` (that checkpoint did not fit; no WAL was deleted), `TIDEMARK_CONFLICT`
 * (WAL archive), `TIDEMARK_INVALID_ARGUMENT`.
 *
 * `config.signal` stops the open at its next safe point — between WAL segments of the replay,
 * between the steps of the checkpoint on open (abandoning its draft), before the worker starts,
 * and once it is ready (the store is then closed again): it rejects with `TIDEMARK_ABORTED`
 * (`cause` = `signal.reason`) having stopped Ring 1 and released the lock, and the directory
 * recovers as before. An already aborted signal rejects before the lock is taken. The signal
 * only bounds the open: aborting it later does nothing to the store.
 */
export async function openChangelogAwareStore(config: ChangelogStoreConfig): Promise<OpenedChangelogStore> {
  checkChangelogStoreConfig(config);
  const signal = abortSignalOf('config', config);
  const what = `opening ${path.resolve(config.dir)}`;
  throwIfAborted(what, signal);
  const root = await FsDirectory.open(config.dir);
  const lock = await root.lock();
  let worker: Worker | undefined;
  // Set once the store's own close() stopped Ring 1 and released the lock.
  let closedByStore = false;
  let writer: ClaimedEpoch | undefined;
  try {
    throwIfAborted(what, signal);
    const transactional = config.transactional ?? false;
    const objectStore = objectStoreOf(config);
    // A writer on an object store claims its epoch first (fencing the previous writer,
    // docs/OBJECT-STORE.md): what it fetches and recovers next is what its claim records as valid.
    const claimed = objectStore
      ? await claimWriter(objectStore, { root, takeover: config.takeover ?? false })
      : undefined;
    let segmentsFetched: number;
    try {
      writer = claimed?.fence.claimed();
      // A new machine taking over: the archived WAL is fetched before recovery reads it, and
      // continues after the checkpoint when the previous writer's tail never reached the
      // archive. (Only then is the checkpoint loaded here as well as by the recovery below.)
      segmentsFetched = await fetchWalForOpen({
        walDir: await root.subdirectory(WAL_DIR_NAME),
        storage: config,
        checkpointLsn: async () => {
          if (!claimed) return 0;
          const latest = await loadLatestCheckpoint(claimed.store, { stateBackend: config.stateBackend });
          return latest.checkpoint?.manifest.walPosition.lsn ?? 0;
        },
        signal,
      });
    } finally {
      claimed?.close();
    }
    const recovered = await new RecoveryManager({
      dir: root,
      transactional,
      objectStore,
      trackChangedKeys: true,
      stateBackend: config.stateBackend,
    }).recover({ signal });
    recovered.stats.segmentsFetched = segmentsFetched;
    const checkpointOptions = resolveCheckpointOptions({
      maxRetained: config.maxRetained,
      intervalMs: config.checkpointIntervalMs,
      walSizeThresholdBytes: config.checkpointWalBytes,
      ...config.checkpoint,
    });
    // A long replay is checkpointed now, so a crash loop cannot make the next one longer still.
    const recoveryCheckpoint = await checkpointRecoveredState({
      root,
      recovered,
      transactional,
      wal: config.wal ?? {},
      checkpoint: checkpointOptions,
      storage: config,
      signal,
      writer,
    });
    recovered.changedSinceCheckpoint = undefined;
    throwIfAborted(what, signal);
    const buffer = StateChangelogBuffer.create(config.ring);
    storeEpoch(buffer, recoveryCheckpoint?.epoch ?? recovered.epoch);
    const data: Ring1WorkerData = {
      shared: buffer.shared,
      walDirPath: path.join(root.path, WAL_DIR_NAME),
      checkpointDirPath: path.join(root.path, CHECKPOINT_DIR_NAME),
      wal: config.wal ?? {},
      checkpointLsn: recoveryCheckpoint?.lsn ?? recovered.stats.checkpointLsn,
      recoveredCommitLsn: transactional ? recovered.lsn : 0,
      walBytesSinceCheckpoint: recoveryCheckpoint ? 0 : recovered.stats.bytesReplayed,
      checkpointId: recoveryCheckpoint?.id ?? recovered.checkpoint?.id,
      recoveryReplay: { bytes: recovered.stats.bytesReplayed, ms: recovered.stats.durationMs },
      transactional,
      drainer: config.drainer ?? {},
      checkpoint: checkpointOptions,
      objectStore,
      archiveWal: config.archiveWal,
      archiveIntervalMs: config.archiveIntervalMs,
      writer,
    };
    const w = startWorker(data);
    worker = w;
    let workerFailure: TidemarkError | undefined;
    let lastCheckpointError: TidemarkError | undefined;
    let closedMessage: ((error: WireError | undefined) => void) | undefined;
    const requests = new Map<
      number,
      { resolve: (r: Ring1CheckpointResult) => void; reject: (e: unknown) => void }
    >();
    let nextRequest = 1;
    let exited = false;
    const dead = (err: TidemarkError) => {
      workerFailure ??= err;
      publishFailure(buffer, err);
      for (const r of requests.values()) r.reject(err);
      requests.clear();
    };

    const spans = new SpanRelay();
    const ready = new Promise<Extract<Ring1ToRing0, { type: 'ready' }>>((resolve, reject) => {
      w.on('message', (msg: Ring1ToRing0) => {
        switch (msg.type) {
          case 'ready':
            resolve(msg);
            break;
          case 'start-failed':
            reject(fromWire(msg.error));
            break;
          case 'checkpointed':
            requests.get(msg.requestId)?.resolve(msg.result);
            requests.delete(msg.requestId);
            break;
          case 'checkpoint-failed': {
            const err = fromWire(msg.error);
            // A checkpoint abandoned on request is not a failure of Ring 1's checkpointing.
            if (err.code !== 'TIDEMARK_ABORTED') lastCheckpointError = err;
            requests.get(msg.requestId)?.reject(err);
            requests.delete(msg.requestId);
            break;
          }
          case 'closed':
            closedMessage?.(msg.error);
            break;
          case 'span':
            spans.receive(msg);
            break;
        }
      });
      w.on('error', (err) => {
        const e = new TidemarkError('TIDEMARK_BUG', `Ring 1 worker crashed: ${err.message}`, { cause: err });
        dead(e);
        reject(e);
      });
      w.on('exit', (code) => {
        exited = true;
        if (!closedMessage) {
          const e = new TidemarkError('TIDEMARK_BUG', `Ring 1 worker exited unexpectedly (code ${code})`);
          dead(e);
          reject(e);
        }
        closedMessage?.(undefined);
      });
    });
    await ready;

    let closing: Promise<void> | undefined;
    // The worker holds the process open only while Ring 0 awaits it (a durability wait, queued
    // entries, a checkpoint, a close); an idle, unclosed store lets the process exit.
    let storeActive = false;
    const updateRef = () => {
      if (exited) return;
      if (storeActive || requests.size > 0 || closing) w.ref();
      else w.unref();
    };
    const link: Ring1Link = {
      checkpoint(extras, options) {
        if (workerFailure) return Promise.reject(workerFailure);
        if (closing || exited)
          return Promise.reject(new TidemarkError('TIDEMARK_CLOSED', 'the store is closed or closing'));
        const signal = options?.signal;
        if (signal?.aborted) return Promise.reject(operationAborted('checkpoint', signal));
        const requestId = nextRequest++;
        // Ring 1 decides: abandoned before its publish point, or completed. Either answer settles this.
        const onAbort = () => {
          if (!exited) w.postMessage({ type: 'abort-checkpoint', requestId } satisfies Ring0ToRing1);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        return new Promise<Ring1CheckpointResult>((resolve, reject) => {
          requests.set(requestId, {
            resolve,
            // Ring 1's TIDEMARK_ABORTED is re-made here, carrying the signal's own reason as cause.
            reject: (err) =>
              reject(
                signal?.aborted && err instanceof TidemarkError && err.code === 'TIDEMARK_ABORTED'
                  ? operationAborted('checkpoint (abandoned in Ring 1 before its publish point)', signal)
                  : err,
              ),
          });
          updateRef();
          w.postMessage({ type: 'checkpoint', requestId, extras } satisfies Ring0ToRing1);
        }).finally(() => {
          signal?.removeEventListener('abort', onAbort);
          updateRef();
        });
      },
      close() {
        closing ??= (async () => {
          let error: WireError | undefined;
          if (!exited) {
            w.ref();
            error = await new Promise<WireError | undefined>((resolve) => {
              closedMessage = resolve;
              w.postMessage({ type: 'close' } satisfies Ring0ToRing1);
            });
            await w.terminate();
          }
          // A checkpoint request the worker never answered (it closed first) settles here.
          const closedErr = new TidemarkError('TIDEMARK_CLOSED', 'the store closed before Ring 1 answered');
          for (const r of requests.values()) r.reject(closedErr);
          requests.clear();
          await lock.release();
          if (error) throw fromWire(error);
        })();
        return closing;
      },
      setActive(active) {
        storeActive = active;
        updateRef();
      },
      failure() {
        return workerFailure;
      },
      lastCheckpointError() {
        return lastCheckpointError;
      },
    };
    updateRef();
    const store = new ChangelogAwareStore(
      {
        buffer,
        ring1: link,
        state: recovered.state,
        sourceOffsets: recovered.sourceOffsets,
        watermark: recovered.watermark,
      },
      {
        transactional,
        ...(config.backpressure ? { backpressure: config.backpressure } : {}),
        ...(config.maxQueuedBytes !== undefined ? { maxQueuedBytes: config.maxQueuedBytes } : {}),
      },
    );
    if (signal?.aborted) {
      // Aborted while Ring 1 started: stop it the orderly way (it drains nothing, syncs, closes).
      closedByStore = true;
      await store.close().catch(() => {});
      throw operationAborted(what, signal);
    }
    // A discarded uncommitted tail is fenced by an Abort, so no later commit can revive it.
    if (transactional && recovered.stats.uncommittedDiscarded > 0) store.pushAbort();
    return { store, recovered, recoveryCheckpoint };
  } catch (err) {
    if (closedByStore) throw err;
    if (worker) await worker.terminate().catch(() => {});
    await lock.release();
    throw err;
  }
}
