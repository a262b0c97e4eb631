/**
 * A core of the demo's per-core ingest (`--cores N`): a worker thread with its own state (its
 * partition of the airports) and its own log (`CoreWalWriter`, `wal/core-<id>/`). It folds each
 * batch it is sent, commits the batch's end row with it, and reports it durable; between
 * batches it answers the checkpoint coordinator's epoch barriers, checkpoint markers and
 * truncations.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isTidemarkError } from '../../errors.js';
import { createObjectStorage } from '../../io/file-object-storage.js';
import { FsDirectory } from '../../io/fs-directory.js';
import { parseObjectStoreUrl } from '../../io/object-store-config.js';
import { WriterFence, WriterHistory } from '../../io/writer-epoch.js';
import { CoreWalWriter } from '../../wal/core-wal-writer.js';
import { CoreWalArchive } from '../../wal/per-core-wal-archive.js';
import { foldFlights } from './aggregates.js';
import type { CoreWorkerData, FromCore, ToCore } from './core-protocol.js';
import { SOURCE } from './worker.js';

const port = parentPort!;
const data = workerData as CoreWorkerData;
const post = (m: FromCore) => port.postMessage(m);
const state = new Map<string, Uint8Array>(data.state);
let committedRow = data.committedRow;

// The ingest thread that started this one holds the data directory's lock for all cores.
const writer = await CoreWalWriter.open(await FsDirectory.open(data.walRoot), data.coreId, {
  lock: false,
  epoch: data.epoch,
});
// With an object store: sealed segments are archived there before this core is truncated, each
// publish checked against the ingest's writer epoch (a fenced core's log fails, nothing retried).
const storage =
  data.objectStore === undefined ? undefined : createObjectStorage(parseObjectStoreUrl(data.objectStore));
const archive =
  storage === undefined
    ? undefined
    : await CoreWalArchive.start({
        storage,
        writer,
        fence:
          data.writer === undefined
            ? undefined
            : WriterFence.resume(storage, data.writer.epoch, new WriterHistory(data.writer.records)),
      });

function put(key: string, value: Uint8Array): void {
  state.set(key, value);
  writer.appendPut(key, value);
}

function fail(err: unknown): void {
  post({
    type: 'failed',
    code: isTidemarkError(err) ? err.code : 'TIDEMARK_BUG',
    message: err instanceof Error ? err.message : String(err),
  });
}

port.on('message', (m: ToCore) => {
  try {
    if (m.type === 'batch') {
      if (m.rowEnd <= committedRow) {
        // Committed before a crash: exactly once means it is not applied again.
        post({ type: 'durable', rowEnd: m.rowEnd, walBytes: 0, syncs: 0 });
        return;
      }
      foldFlights(m, { get: (k) => state.get(k), put });
      const seq = writer.appendCommit({ [SOURCE]: m.rowEnd });
      committedRow = m.rowEnd;
      writer.flushed(seq).then(() => {
        const s = writer.stats();
        post({ type: 'durable', rowEnd: m.rowEnd, walBytes: s.bytesWritten, syncs: s.syncs });
      }, fail);
    } else if (m.type === 'barrier') {
      writer
        .barrier(m.epoch)
        .then((position) => post({ type: 'barrier-done', requestId: m.requestId, position }), fail);
    } else if (m.type === 'mark-checkpoint') {
      writer
        .markCheckpoint({ checkpointId: m.checkpointId, position: m.position })
        .then((sequence) => post({ type: 'checkpoint-marked', requestId: m.requestId, sequence }), fail);
    } else if (m.type === 'truncate') {
      (archive ?? writer)
        .truncateBefore(m.position)
        .then((segments) => post({ type: 'truncated', requestId: m.requestId, segments }), fail);
    } else if (m.type === 'close') {
      // A clean close archives the whole log (the active segment sealed first). 'closed' is
      // posted whatever failed (after the failure), so the ingest never waits for it forever.
      (archive ? archive.close().catch(fail) : Promise.resolve())
        .then(() => writer.close())
        .catch(fail)
        .finally(() => {
          storage?.destroy();
          post({ type: 'closed' });
          port.close();
        });
    }
  } catch (err) {
    fail(err);
  }
});
post({ type: 'ready' });
