/**
 * The Ring 1 worker thread: opens the WAL (cutting a torn tail), runs the `ChangelogDrainer`,
 * and takes checkpoints — when Ring 0 asks, every `checkpointIntervalMs`, and early once
 * `checkpointWalBytes` were appended to the WAL since the last one — from its own copy of the state. Started by
 * `openChangelogAwareStore()`; never imported by user code.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { ChangelogDrainer } from '../changelog/changelog-drainer.js';
import { loadEpoch, publishFailure, storeEpoch, storeRingState } from '../changelog/ring-status.js';
import { StateChangelogBuffer } from '../changelog/state-changelog-buffer.js';
import { autoCheckpointTickMs } from '../checkpoint/auto-checkpoint.js';
import { type CheckpointStore, FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { epochFilter, FilteredCheckpointView } from '../checkpoint/filtered-checkpoint-view.js';
import { IncrementalCheckpointManager } from '../checkpoint/incremental-checkpoint-manager.js';
import { ObjectStoreCheckpointStore } from '../checkpoint/object-store-checkpoint-store.js';
import { TidemarkError } from '../errors.js';
import type { CheckpointExtras, IncrementalCheckpointMetadata } from '../format/checkpoint-manifest.js';
import { RingStat, RingState } from '../format/constants.js';
import { createObjectStorage } from '../io/file-object-storage.js';
import { FsDirectory } from '../io/fs-directory.js';
import { WriterFence, WriterHistory } from '../io/writer-epoch.js';
import { startWalArchiver } from '../recovery/storage-location.js';
import type { WalArchiver } from '../wal/wal-archiver.js';
import { WriteAheadLog } from '../wal/write-ahead-log.js';
import { forwardCheckpointSpans } from './forward-spans.js';
import type { Ring0ToRing1, Ring1ToRing0, Ring1WorkerData, WireError } from './ring1-protocol.js';

const port = parentPort!;
const data = workerData as Ring1WorkerData;
const buffer = StateChangelogBuffer.attach(data.shared);

function post(msg: Ring1ToRing0): void {
  port.postMessage(msg);
}

function wire(err: unknown): WireError {
  if (err instanceof TidemarkError)
    return { code: err.code, message: err.message, path: err.path, offset: err.offset };
  return { code: 'TIDEMARK_IO', message: err instanceof Error ? err.message : String(err) };
}

async function main(): Promise<void> {
  let wal: WriteAheadLog;
  try {
    const walDir = await FsDirectory.open(data.walDirPath);
    wal = await WriteAheadLog.open(walDir, { ...data.wal, lock: false, initialLsn: data.checkpointLsn + 1 });
    if (wal.lastLsn < data.checkpointLsn) {
      await wal.close();
      throw new TidemarkError(
        'TIDEMARK_DATA_LOSS',
        `WAL in ${walDir.path} ends at LSN ${wal.lastLsn}, before the checkpoint's LSN ${data.checkpointLsn}`,
        { path: walDir.path },
      );
    }
  } catch (err) {
    post({ type: 'start-failed', error: wire(err) });
    port.close();
    return;
  }
  const drainer = new ChangelogDrainer(buffer, wal, {
    ...data.drainer,
    initialCommitLsn: data.recoveredCommitLsn,
  });
  let store: CheckpointStore;
  let archiver: WalArchiver | undefined;
  try {
    if (data.objectStore) {
      // Only the valid history of the prefix's writer epochs; publishes under Ring 0's claim.
      const storage = createObjectStorage(data.objectStore);
      const history = new WriterHistory(data.writer?.records ?? []);
      // A fenced writer stops: the log goes read-only, so the drainer fails every waiter.
      if (data.writer)
        WriterFence.resume(storage, data.writer.epoch, history).onFenced((err) => wal.failWith(err));
      store = new FilteredCheckpointView(
        storage,
        epochFilter(data.writer ? history : await WriterHistory.read(storage)),
      );
    } else
      store = new FileSystemCheckpointStore(await FsDirectory.open(data.checkpointDirPath), {
        compression: data.checkpoint.compression,
      });
    archiver = await startWalArchiver(store, wal, data);
  } catch (err) {
    await wal.close().catch(() => {});
    post({ type: 'start-failed', error: wire(err) });
    port.close();
    return;
  }
  // Users subscribe in their own thread: this one's checkpoint spans are republished there.
  forwardCheckpointSpans({ post, wire });
  const manager = new IncrementalCheckpointManager({
    store,
    wal,
    options: data.checkpoint,
    transactional: data.transactional,
    archiver,
    walBytesSinceCheckpoint: data.walBytesSinceCheckpoint,
    recoveryReplay: data.recoveryReplay,
    verifiedCheckpointId: data.checkpointId,
  });
  // Ring 0's stats() derives the WAL since the newest checkpoint and the replay estimate from these.
  const publishReplayStats = () => {
    buffer.statsArea[RingStat.walCheckpointMark] = manager.walBytesMark();
    buffer.statsArea[RingStat.replayBytesPerMs] = manager.stats().replayBytesPerMs;
  };
  publishReplayStats();
  // Ring 0's stats() reports the archive's lag (the RPO) from these.
  const publishArchiveStats = () => {
    if (!archiver) return;
    const a = archiver.stats();
    buffer.statsArea[RingStat.unarchivedBytes] = a.unarchivedBytes;
    buffer.statsArea[RingStat.segmentsArchived] = a.segmentsArchived;
  };
  publishArchiveStats();
  const archiveStatsTimer = archiver ? setInterval(publishArchiveStats, 250).unref() : undefined;
  // Half-written checkpoints of an earlier run; the manager queues it before any checkpoint.
  manager
    .cleanupOrphans()
    .catch((err) => post({ type: 'checkpoint-failed', requestId: -1, error: wire(err) }));

  /** Checkpoints queue in the manager; each covers everything durable (and committed) when it starts. */
  const checkpoint = async (
    extras?: CheckpointExtras,
    signal?: AbortSignal,
  ): Promise<IncrementalCheckpointMetadata> => {
    const epoch = loadEpoch(buffer) + 1;
    const done = await manager.createCheckpoint(epoch, extras, { signal });
    storeEpoch(buffer, done.epoch);
    buffer.statsArea[RingStat.checkpoints]!++;
    buffer.statsArea[RingStat.checkpointLastMs] = done.durationMs;
    buffer.statsArea[RingStat.walSizeBytes] = wal.walSize();
    buffer.statsArea[RingStat.checkpointObjectPuts] = manager.stats().objectPuts;
    publishReplayStats();
    return done;
  };

  let periodic: NodeJS.Timeout | undefined;
  const { intervalMs, walSizeThresholdBytes } = data.checkpoint;
  const tickMs = autoCheckpointTickMs({ intervalMs, walSizeThresholdBytes });
  let automatic: Promise<unknown> | undefined;
  if (tickMs > 0) {
    periodic = setInterval(() => {
      if (automatic || !manager.isDue()) return;
      automatic = checkpoint()
        .catch((err) => post({ type: 'checkpoint-failed', requestId: -1, error: wire(err) }))
        .finally(() => {
          automatic = undefined;
        });
    }, tickMs);
  }

  const running = drainer.run();
  storeRingState(buffer, RingState.Running);
  post({ type: 'ready', lastLsn: wal.lastLsn, repairedTail: wal.repairedTail });

  // Ring 0's requests by id, so an abort from Ring 0 reaches the checkpoint it is about.
  const aborts = new Map<number, AbortController>();
  port.on('message', (msg: Ring0ToRing1) => {
    if (msg.type === 'checkpoint') {
      const controller = new AbortController();
      aborts.set(msg.requestId, controller);
      checkpoint(msg.extras, controller.signal)
        .then(
          (result) => post({ type: 'checkpointed', requestId: msg.requestId, result }),
          (err) => post({ type: 'checkpoint-failed', requestId: msg.requestId, error: wire(err) }),
        )
        .finally(() => aborts.delete(msg.requestId));
    } else if (msg.type === 'abort-checkpoint') {
      aborts.get(msg.requestId)?.abort(new Error('aborted in Ring 0'));
    } else if (msg.type === 'close') {
      if (periodic) clearInterval(periodic);
      if (archiveStatsTimer) clearInterval(archiveStatsTimer);
      drainer.stop();
      void (async () => {
        let error: WireError | undefined;
        await running;
        await manager.idle();
        if (archiver && drainer.failed === undefined) {
          // A clean shutdown leaves the whole log in the archive.
          await archiver.archiveAll().catch((err: unknown) => {
            error = wire(err);
          });
          await archiver.stop();
          publishArchiveStats();
        }
        try {
          await wal.close();
        } catch (err) {
          error ??= wire(err);
        }
        if (store instanceof ObjectStoreCheckpointStore) store.storage.destroy();
        if (drainer.failed !== undefined) error ??= wire(drainer.failed);
        else storeRingState(buffer, RingState.Closed);
        post({ type: 'closed', error });
        port.close();
      })();
    }
  });
}

main().catch((err) => {
  publishFailure(buffer, err);
  post({ type: 'start-failed', error: wire(err) });
});
