/**
 * The demo's ingest process (run by the supervisor as a child, killed with SIGKILL at random):
 * recovers the store, resumes the flights stream at the recovered row offset, folds each batch
 * into the durable aggregates, commits the row offset with the state, checkpoints periodically.
 */
import { RecoveryManager } from '../../recovery/recovery-manager.js';
import {
  decodeCount,
  decodeOrigin,
  encodeCount,
  encodeOrigin,
  ORIGIN_PREFIX,
  ROUTE_PREFIX,
} from './aggregates.js';
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
    }
  | { type: 'done'; rows: number; walBytes: number; syncs: number; checkpoints: number };

export interface WorkerOptions {
  dir: string;
  limit: number;
  batchRows: number;
  checkpointEveryRows: number;
}

/** The source name under which the row offset is committed. */
export const SOURCE = 'flights';

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

export async function runWorker(opts: WorkerOptions): Promise<void> {
  const opened = await new RecoveryManager({ dir: opts.dir, transactional: true }).open();
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
  let lastCheckpointRow = startRow;
  let pendingCommitLsn = 0;
  let durableRows = startRow;
  let pendingRows = startRow;
  const originDelta = new Map<string, [number, number, number]>();
  const routeDelta = new Map<string, number>();

  await readFlights(startRow, opts.limit, async (firstRow, dates, delays, origins, destinations) => {
    for (let b = 0; b < origins.length; b += opts.batchRows) {
      const end = Math.min(origins.length, b + opts.batchRows);
      originDelta.clear();
      routeDelta.clear();
      for (let i = b; i < end; i++) {
        const delay = Number(delays[i]);
        const o = originDelta.get(origins[i]!);
        if (o) {
          o[0]++;
          o[1] += delay;
          if (delay > o[2]) o[2] = delay;
        } else originDelta.set(origins[i]!, [1, delay, delay]);
        const route = `${origins[i]}-${destinations[i]}`;
        routeDelta.set(route, (routeDelta.get(route) ?? 0) + 1);
      }
      for (const [origin, [count, sum, max]] of originDelta) {
        const key = ORIGIN_PREFIX + origin;
        const old = store.get(key);
        if (old) {
          const [c, s, m] = decodeOrigin(old);
          store.put(key, encodeOrigin(c + count, s + sum, Math.max(m, max)));
        } else store.put(key, encodeOrigin(count, sum, max));
      }
      for (const [route, count] of routeDelta) {
        const key = ROUTE_PREFIX + route;
        const old = store.get(key);
        store.put(key, encodeCount((old ? decodeCount(old) : 0) + count));
      }
      const rows = firstRow + end;
      const lsn = store.commit({ [SOURCE]: rows }, dates[end - 1]!.getTime());
      // Pipeline: keep at most one batch in flight behind the one being built.
      if (pendingCommitLsn > 0) {
        await store.flushed(pendingCommitLsn);
        durableRows = pendingRows;
      }
      pendingCommitLsn = lsn;
      pendingRows = rows;
      if (rows - lastCheckpointRow >= opts.checkpointEveryRows) {
        await opened.checkpoint();
        checkpoints++;
        lastCheckpointRow = rows;
      }
      const s = store.wal.stats();
      send({
        type: 'progress',
        rows,
        durableRows,
        walBytes: s.bytesWritten,
        syncs: s.syncs,
        checkpoints,
      });
    }
  });
  await store.durable();
  const s = store.wal.stats();
  await opened.close();
  send({
    type: 'done',
    rows: Math.max(pendingRows, startRow),
    walBytes: s.bytesWritten,
    syncs: s.syncs,
    checkpoints,
  });
}
