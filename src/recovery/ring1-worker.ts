/**
 * The Ring 1 worker thread: opens the WAL (cutting a torn tail), runs the `ChangelogDrainer`,
 * and takes checkpoints — when Ring 0 asks, every `checkpointIntervalMs`, and early once the WAL
 * passes `checkpointWalBytes` — from its own copy of the state. Started by
 * `openChangelogAwareStore()`; never imported by user code.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ChangelogDrainer } from '../changelog/changelog-drainer.js';
import { loadEpoch, publishFailure, storeEpoch, storeRingState } from '../changelog/ring-status.js';
import { StateChangelogBuffer } from '../changelog/state-changelog-buffer.js';
import { CheckpointPublisher } from '../checkpoint/checkpoint-publisher.js';
import { FileSystemCheckpointStore } from '../checkpoint/checkpoint-store.js';
import { Ring1Checkpointer } from '../checkpoint/ring1-checkpointer.js';
import { TidemarkError } from '../errors.js';
import { RingStat, RingState } from '../format/constants.js';
import { FsDirectory } from '../io/fs-directory.js';
import type { Ring1CheckpointResult } from '../state/changelog-aware-store.js';
import { WriteAheadLog } from '../wal/write-ahead-log.js';
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
  const checkpointDir = await FsDirectory.open(data.checkpointDirPath);
  const publisher = new CheckpointPublisher(new FileSystemCheckpointStore(checkpointDir), data.maxRetained);
  const checkpointer = new Ring1Checkpointer(publisher, wal.directory, wal, data.transactional);
  let lastCheckpointLsn = data.checkpointLsn;
  let chain: Promise<unknown> = Promise.resolve();

  /** One checkpoint at a time; each covers everything durable (and committed) when it starts. */
  const checkpoint = (): Promise<Ring1CheckpointResult> => {
    const run = chain.then(async () => {
      const target = data.transactional ? drainer.durableCommitLsn : wal.durableLsn;
      const epoch = loadEpoch(buffer) + 1;
      const t0 = performance.now();
      const done = await checkpointer.checkpoint(Math.max(target, 0), epoch);
      storeEpoch(buffer, epoch);
      lastCheckpointLsn = done.manifest.walPosition.lsn;
      const ms = performance.now() - t0;
      buffer.statsArea[RingStat.checkpoints]!++;
      buffer.statsArea[RingStat.checkpointLastMs] = ms;
      buffer.statsArea[RingStat.walSizeBytes] = wal.walSize();
      return {
        id: done.manifest.id,
        epoch: done.manifest.epoch,
        lsn: done.manifest.walPosition.lsn,
        keys: done.keys,
        stateBytes: done.stateBytes,
        recordsReplayed: done.recordsReplayed,
        deletedWalSegments: done.deletedWalSegments,
        durationMs: ms,
      };
    });
    chain = run.catch(() => {});
    return run;
  };

  let periodic: NodeJS.Timeout | undefined;
  const tickMs =
    data.checkpointIntervalMs > 0 ? data.checkpointIntervalMs : data.checkpointWalBytes > 0 ? 100 : 0;
  let lastPeriodic = performance.now();
  if (tickMs > 0) {
    periodic = setInterval(() => {
      const now = performance.now();
      const due = data.checkpointIntervalMs > 0 && now - lastPeriodic >= data.checkpointIntervalMs;
      const big = data.checkpointWalBytes > 0 && wal.walSize() >= data.checkpointWalBytes;
      const target = data.transactional ? drainer.durableCommitLsn : wal.durableLsn;
      if ((due || big) && target > lastCheckpointLsn && !wal.failed) {
        lastPeriodic = now;
        checkpoint().catch((err) => post({ type: 'checkpoint-failed', requestId: -1, error: wire(err) }));
      }
    }, tickMs);
  }

  const running = drainer.run();
  storeRingState(buffer, RingState.Running);
  post({ type: 'ready', lastLsn: wal.lastLsn, repairedTail: wal.repairedTail });

  port.on('message', (msg: Ring0ToRing1) => {
    if (msg.type === 'checkpoint') {
      checkpoint().then(
        (result) => post({ type: 'checkpointed', requestId: msg.requestId, result }),
        (err) => post({ type: 'checkpoint-failed', requestId: msg.requestId, error: wire(err) }),
      );
    } else if (msg.type === 'close') {
      if (periodic) clearInterval(periodic);
      drainer.stop();
      void (async () => {
        let error: WireError | undefined;
        await running;
        await chain;
        try {
          await wal.close();
        } catch (err) {
          error = wire(err);
        }
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
