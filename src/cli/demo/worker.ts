/**
 * The demo's ingest process (run by the supervisor as a child, killed with SIGKILL at random):
 * recovers the store, resumes the flights stream at the recovered row offset, folds each batch
 * into the durable aggregates, commits the row offset with the state, checkpoints periodically.
 */
import { isTidemarkError, type TidemarkError } from '../../errors.js';
import type { IncrementalCheckpointMetadata } from '../../format/checkpoint-manifest.js';
import type { SourceOffsets } from '../../format/entry-codec.js';
import { openChangelogAwareStore } from '../../pipeline/open-changelog-store.js';
import { type RecoveredState, RecoveryManager } from '../../recovery/recovery-manager.js';
import { foldFlights } from './aggregates.js';
import { readFlights } from './flights.js';

/** Messages from worker to supervisor (over the IPC channel). */
export type WorkerMessage =
  | {
      type: 'recovered';
      rows: number;
      recoveryMs: number;
      recordsReplayed: number;
      checkpointId: number | undefined;
    }
  | {
      type: 'progress';
      rows: number;
      durableRows: number;
      walBytes: number;
      syncs: number;
      checkpoints: number;
      /** Of the checkpoints, how many were deltas (the rest bases). */
      deltas: number;
    }
  | { type: 'done'; rows: number; walBytes: number; syncs: number; checkpoints: number; deltas: number }
  /** Sent the moment a checkpoint is published, so a worker killed right after still has it counted. */
  | { type: 'checkpointed'; id: number; kind: 'base' | 'delta' }
  /** The worker learnt it was fenced (another writer took over its object store); it exits with {@link FENCED_EXIT_CODE}. */
  | { type: 'fenced'; message: string };

/** Exit code of a demo worker that stopped because it was fenced (`TIDEMARK_FENCED`). */
export const FENCED_EXIT_CODE = 3;

/** Which store the demo drives: the Ring 0 / Ring 1 pipeline, or the simple synchronous WAL store. */
export type DemoEngine = 'ring' | 'simple';

export interface WorkerOptions {
  dir: string;
  engine: DemoEngine;
  limit: number;
  batchRows: number;
  checkpointEveryRows: number;
  /** `s3://BUCKET/PREFIX` for checkpoints and the WAL archive, or undefined for local checkpoints. */
  store?: string | undefined;
  /** Take over the object store's writer (a fresh `dir` on "another machine"), fencing the previous one. */
  takeover?: boolean | undefined;
}

/** The source name under which the row offset is committed. */
export const SOURCE = 'flights';

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

/** What the demo needs from either store. */
interface DemoStore {
  get(key: string): Uint8Array | undefined;
  put(key: string, value: Uint8Array): number;
  commit(sourceOffsets: SourceOffsets, watermark?: number): number;
  flushed(position: number): Promise<void>;
  durable(): Promise<void>;
}

interface OpenedDemoStore {
  store: DemoStore;
  recovered: RecoveredState;
  /** Starts an incremental checkpoint; with the pipeline it runs in Ring 1 while ingest continues. */
  checkpoint(): Promise<IncrementalCheckpointMetadata>;
  walStats(): { walBytes: number; syncs: number };
  close(): Promise<void>;
}

async function openDemoStore(opts: WorkerOptions): Promise<OpenedDemoStore> {
  const { dir, engine, store: objectStore } = opts;
  const takeover = opts.takeover === true;
  if (engine === 'ring') {
    const { store, recovered } = await openChangelogAwareStore({
      dir,
      transactional: true,
      objectStore,
      takeover,
    });
    return {
      store,
      recovered,
      checkpoint: () => store.checkpoint(),
      walStats: () => {
        const s = store.stats();
        return { walBytes: s.walBytesWritten, syncs: s.walSyncs };
      },
      close: () => store.close(),
    };
  }
  const opened = await new RecoveryManager({ dir, transactional: true, objectStore, takeover }).open();
  return {
    store: opened.store,
    recovered: opened.recovered,
    checkpoint: () => opened.checkpoint(),
    walStats: () => {
      const s = opened.store.wal.stats();
      return { walBytes: s.bytesWritten, syncs: s.syncs };
    },
    close: () => opened.close(),
  };
}

/**
 * Runs the ingest; returns the process's exit code: 0, or {@link FENCED_EXIT_CODE} for a worker
 * fenced by a takeover (its checkpoint, archive or WAL refusing with `TIDEMARK_FENCED`), which
 * reports it and publishes nothing more.
 */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  let opened: OpenedDemoStore | undefined;
  try {
    opened = await openDemoStore(opts);
    await ingest(opts, opened);
    return 0;
  } catch (err) {
    if (!isTidemarkError(err, 'TIDEMARK_FENCED')) throw err;
    send({ type: 'fenced', message: err.message });
    // Closing a fenced store publishes nothing (it refuses again); it only stops its threads.
    await opened?.close().catch(() => {});
    return FENCED_EXIT_CODE;
  }
}

async function ingest(opts: WorkerOptions, opened: OpenedDemoStore): Promise<void> {
  const { store, recovered } = opened;
  const startRow = recovered.sourceOffsets[SOURCE] ?? 0;
  send({
    type: 'recovered',
    rows: startRow,
    recoveryMs: recovered.stats.durationMs,
    recordsReplayed: recovered.stats.recordsReplayed,
    checkpointId: recovered.stats.checkpointId,
  });
  let checkpoints = 0;
  let deltas = 0;
  let checkpointRunning = false;
  let fenced: TidemarkError | undefined;
  let lastCheckpointRow = startRow;
  let pendingCommitLsn = 0;
  let durableRows = startRow;
  let pendingRows = startRow;
  await readFlights({ start: startRow, end: opts.limit }, async (chunk) => {
    const { firstRow, dates, origins } = chunk;
    for (let b = 0; b < origins.length; b += opts.batchRows) {
      if (fenced) throw fenced;
      const end = Math.min(origins.length, b + opts.batchRows);
      foldFlights(chunk, store, { from: b, to: end });
      const rows = firstRow + end;
      const lsn = store.commit({ [SOURCE]: rows }, dates[end - 1]!.getTime());
      // Pipeline: keep at most one batch in flight behind the one being built.
      if (pendingCommitLsn > 0) {
        await store.flushed(pendingCommitLsn);
        durableRows = pendingRows;
      }
      pendingCommitLsn = lsn;
      pendingRows = rows;
      if (rows - lastCheckpointRow >= opts.checkpointEveryRows && !checkpointRunning) {
        // The pipeline checkpoints in Ring 1 while ingest goes on; the simple store pauses for it.
        checkpointRunning = true;
        lastCheckpointRow = rows;
        const done = opened.checkpoint().then(
          (meta) => {
            checkpoints++;
            if (meta.kind === 'delta') deltas++;
            checkpointRunning = false;
            send({ type: 'checkpointed', id: meta.id, kind: meta.kind });
          },
          (err: unknown) => {
            // A failed checkpoint deletes no WAL and the store goes on; the next one retries.
            // Fenced is for good: the store's next commit or flush refuses with it as well.
            checkpointRunning = false;
            if (isTidemarkError(err, 'TIDEMARK_FENCED')) fenced = err;
            else process.stderr.write(`checkpoint failed: ${String(err)}\n`);
          },
        );
        if (opts.engine === 'simple') await done;
      }
      const s = opened.walStats();
      send({
        type: 'progress',
        rows,
        durableRows,
        walBytes: s.walBytes,
        syncs: s.syncs,
        checkpoints,
        deltas,
      });
    }
  });
  await store.durable();
  await opened.close();
  const s = opened.walStats();
  send({
    type: 'done',
    rows: Math.max(pendingRows, startRow),
    walBytes: s.walBytes,
    syncs: s.syncs,
    checkpoints,
    deltas,
  });
}
