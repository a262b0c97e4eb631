/**
 * `openPerCoreOnObjectStore()`: the per-core engine as one writer of an object-store prefix —
 * the per-core counterpart of `RecoveryManager.open()` with `objectStore`. One writer per prefix
 * is enforced the same way (writer epochs and fencing, docs/OBJECT-STORE.md), by the same
 * module (`writer-claim.ts`, `io/writer-epoch.ts`); steps 1 and 2 are `claimPerCoreWriter`
 * (`claim-per-core-writer.ts`), shared with callers that write from worker threads:
 *
 * 1. Claim the next writer epoch before anything is fetched or recovered (its cutoff records the
 *    newest visible checkpoint and, per core, the newest visible archived segment), fencing the
 *    previous writer.
 * 2. A fresh directory (a takeover) fetches every core's visible archive from the newest visible
 *    checkpoint's position on; a core whose archive ends before that position continues right
 *    after it (the unarchived tail is the takeover's loss bound, not data loss).
 * 3. Recover the valid history (`PerCoreRecoveryManager` on a view of the prefix that hides what
 *    fenced writers published after a takeover) and open every core's writer.
 * 4. Every publish — checkpoint manifests, `latest`, archived segments, retention deletes — is
 *    checked against the epoch before and after, and names it. Once a newer epoch exists the
 *    writer is fenced: `TIDEMARK_FENCED` for that publish, every later one, every waiter and
 *    every later append of every core (the logs go read-only), nothing retried.
 *
 * Threads: everything runs in the calling thread. To write from worker threads, hand each worker
 * `fence.claimed()` and resume it there (`WriterFence.resume`) for its core's `CoreWalArchive`.
 */

import type { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import {
  PerCoreCheckpointCoordinator,
  type PerCoreCheckpointOptions,
} from '../checkpoint/per-core-checkpoint-coordinator.js';
import type { DirectoryLock } from '../io/directory.js';
import { FsDirectory } from '../io/fs-directory.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import type { WriterFence } from '../io/writer-epoch.js';
import type { StateBackendKind } from '../state/state-backend.js';
import {
  booleanOption,
  checkInteger,
  checkOptionsObject,
  checkPath,
  invalidArgument,
} from '../validation.js';
import type { CoreWalWriter } from '../wal/core-wal-writer.js';
import { archivingParticipant, CoreWalArchive } from '../wal/per-core-wal-archive.js';
import type { WalOptions } from '../wal/write-ahead-log.js';
import { claimPerCoreWriter } from './claim-per-core-writer.js';
import { type PerCoreRecoveredState, PerCoreRecoveryManager } from './per-core-recovery.js';
import { objectStoreOf, WAL_DIR_NAME } from './storage-location.js';
import type { ClaimedWriter } from './writer-claim.js';

/** Options of {@link openPerCoreOnObjectStore}. */
export interface PerCoreObjectStoreOptions {
  /** The local data directory (`wal/core-<id>/`, the writer-epoch record, its lock). */
  dir: string;
  /** The object store: `s3://BUCKET/PREFIX`, `file:///PATH`, or a config. */
  objectStore: string | ObjectStoreConfig;
  /** Number of cores, 1..1024. */
  cores: number;
  /**
   * Take the prefix over from another machine (its writer is fenced from its next publish on):
   * `dir` must be fresh (no WAL segment), else `TIDEMARK_INVALID_ARGUMENT`. A fresh directory
   * takes over without it too. Default false.
   */
  takeover?: boolean | undefined;
  /** Apply only committed batches (per core). Default false. */
  transactional?: boolean | undefined;
  /** `tolerate-torn-tail` (default) or `point-in-time` (see `PerCoreRecoveryConfig.mode`). */
  mode?: 'tolerate-torn-tail' | 'point-in-time' | undefined;
  /** What holds the recovered state (default `'slab'`). */
  stateBackend?: StateBackendKind | undefined;
  /** Options of every core's WAL (segment size, group commit, sync method…). */
  wal?: Omit<WalOptions, 'lock'> | undefined;
  /** Also archive newly sealed segments this often, ms (0: only at checkpoints and close). Default 1,000. */
  archiveIntervalMs?: number | undefined;
  /** Options of the checkpoint coordinator (retention, deltas, barrier timeout). */
  checkpoint?:
    | Omit<PerCoreCheckpointOptions, 'store' | 'walRoot' | 'participants' | 'transactional' | 'epoch'>
    | undefined;
}

/** What {@link openPerCoreOnObjectStore} opened. */
export interface OpenedPerCoreStore {
  /** The recovered state and where each core stands. */
  recovered: PerCoreRecoveredState;
  /** One open writer per core, at `recovered.epoch + 1`. */
  writers: CoreWalWriter[];
  /** Each core's WAL archive (`stats().unarchivedBytes`: what losing this machine now would lose). */
  archives: CoreWalArchive[];
  /** Checkpoints every core, publishing to the object store (fenced). */
  coordinator: PerCoreCheckpointCoordinator;
  /** The writer epoch claimed. */
  fence: WriterFence;
  /** The prefix's checkpoints, as this writer's claim sees them. */
  store: ObjectStoreCheckpointStore;
  /**
   * Archives every core's whole log, closes the writers, releases the store and the directory's
   * lock. Rejects with the first failure once everything was tried (`TIDEMARK_FENCED` for a
   * fenced writer: its last segments are not archived).
   */
  close(): Promise<void>;
}

function checkOptions(options: PerCoreObjectStoreOptions): ObjectStoreConfig {
  checkOptionsObject('options', options);
  if (options === undefined) throw invalidArgument('options', options, 'an options object');
  checkPath('options.dir', options.dir);
  checkInteger('options.cores', options.cores, 1, 1024);
  booleanOption('options.takeover', options.takeover, false);
  if (options.archiveIntervalMs !== undefined)
    checkInteger('options.archiveIntervalMs', options.archiveIntervalMs, 0, 2 ** 31 - 1);
  if (options.checkpoint !== undefined) checkOptionsObject('options.checkpoint', options.checkpoint);
  const config = objectStoreOf({ objectStore: options.objectStore });
  if (config === undefined)
    throw invalidArgument('options.objectStore', options.objectStore, 'an object store');
  return config;
}

/**
 * Opens the per-core engine on `options.dir` as the writer of `options.objectStore`'s prefix
 * (see the module comment). Rejects `TIDEMARK_INVALID_ARGUMENT` (before anything is touched) for
 * bad options and for `takeover` into a directory that holds a WAL; `TIDEMARK_LOCKED` when
 * another writer has the directory; `TIDEMARK_FENCED` when this directory's writer was fenced
 * since (open a fresh directory with `takeover: true`); `TIDEMARK_DATA_LOSS` for a gap in a core's
 * archive or log; `TIDEMARK_CONFLICT` when the claim race was lost too often;
 * `TIDEMARK_CORRUPTION`; `TIDEMARK_IO`.
 */
export async function openPerCoreOnObjectStore(
  options: PerCoreObjectStoreOptions,
): Promise<OpenedPerCoreStore> {
  const config = checkOptions(options);
  const root = await FsDirectory.open(options.dir);
  const lock: DirectoryLock = await root.lock();
  let claimed: ClaimedWriter | undefined;
  let writers: CoreWalWriter[] = [];
  const archives: CoreWalArchive[] = [];
  let handedOver = false;
  try {
    claimed = await claimPerCoreWriter(config, {
      root,
      cores: options.cores,
      takeover: options.takeover ?? false,
    });
    const { store, fence } = claimed;
    const walRoot = await root.subdirectory(WAL_DIR_NAME);
    const manager = new PerCoreRecoveryManager({
      walRoot,
      store,
      cores: options.cores,
      ...(options.transactional === undefined ? {} : { transactional: options.transactional }),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.stateBackend === undefined ? {} : { stateBackend: options.stateBackend }),
    });
    // The writers share the lock from here on: the last to close releases it.
    handedOver = true;
    const opened = await manager.open({ lock, ...(options.wal ? { wal: options.wal } : {}) });
    writers = opened.writers;
    for (const writer of writers)
      archives.push(
        await CoreWalArchive.start({
          storage: store.storage,
          writer,
          fence,
          archiveIntervalMs: options.archiveIntervalMs ?? 1_000,
        }),
      );
    const coordinator = await PerCoreCheckpointCoordinator.open({
      ...options.checkpoint,
      store,
      walRoot,
      participants: archives.map(archivingParticipant),
      transactional: options.transactional ?? false,
      epoch: opened.recovered.epoch + 1,
    });
    const held = claimed;
    let closing: Promise<void> | undefined;
    return {
      recovered: opened.recovered,
      writers,
      archives,
      coordinator,
      fence,
      store,
      close: () => {
        closing ??= closeAll({ archives, writers, claimed: held, lock: undefined });
        return closing;
      },
    };
  } catch (err) {
    await closeAll({ archives, writers, claimed, lock: handedOver ? undefined : lock }).catch(() => {});
    throw err;
  }
}

async function closeAll(opened: {
  archives: readonly CoreWalArchive[];
  writers: readonly CoreWalWriter[];
  claimed: ClaimedWriter | undefined;
  lock: DirectoryLock | undefined;
}): Promise<void> {
  const { archives, writers, claimed, lock } = opened;
  const results = await Promise.allSettled(archives.map((a) => a.close()));
  results.push(...(await Promise.allSettled(writers.map((w) => w.close()))));
  claimed?.close();
  if (lock) results.push(...(await Promise.allSettled([lock.release()])));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
