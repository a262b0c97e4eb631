/**
 * The demo's ingest process with `--cores N` (thread-per-core): N core threads, each with its own
 * state and its own log; this thread reads the flights, sends each core its airports' rows of
 * every batch, and coordinates checkpoints (epoch barrier → merged replay → publish → truncate).
 * A batch is durable once every core has made its share durable; each core commits the batch's
 * end row with its share, so after a crash every core resumes exactly where it committed.
 *
 * With an object store the ingest is one writer of its prefix: it claims a writer epoch on open
 * (`claimPerCoreWriter`, as `openPerCoreOnObjectStore` does; a fresh directory fetches every
 * core's archive first), each core thread archives under that epoch, and the coordinator
 * publishes checkpoints through it. Once a newer writer has taken over, the first publish that
 * notices fails with `TIDEMARK_FENCED` and the whole ingest stops: it reports `fenced` and exits
 * with `FENCED_EXIT_CODE`, publishing nothing more.
 */
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { type CheckpointStore, FileSystemCheckpointStore } from '../../checkpoint/checkpoint-store.js';
import {
  type CoreCheckpointParticipant,
  PerCoreCheckpointCoordinator,
} from '../../checkpoint/per-core-checkpoint-coordinator.js';
import { isTidemarkError, TidemarkError, type TidemarkErrorCode } from '../../errors.js';
import type { DirectoryLock } from '../../io/directory.js';
import { FsDirectory } from '../../io/fs-directory.js';
import { parseObjectStoreUrl } from '../../io/object-store-config.js';
import { startModuleWorker } from '../../pipeline/module-worker.js';
import { claimPerCoreWriter } from '../../recovery/claim-per-core-writer.js';
import { type PerCoreRecoveredState, recoverPerCore } from '../../recovery/per-core-recovery.js';
import { CHECKPOINT_DIR_NAME, WAL_DIR_NAME } from '../../recovery/storage-location.js';
import type { ClaimedWriter } from '../../recovery/writer-claim.js';
import type { WalPosition } from '../../wal/wal-reader.js';
import { ORIGIN_PREFIX, ROUTE_PREFIX } from './aggregates.js';
import { type CoreWorkerData, coreOf, type FromCore, type ToCore } from './core-protocol.js';
import { readFlights } from './flights.js';
import { FENCED_EXIT_CODE, SOURCE, type WorkerMessage } from './worker.js';

export interface CoresIngestOptions {
  dir: string;
  cores: number;
  limit: number;
  batchRows: number;
  checkpointEveryRows: number;
  /**
   * `s3://BUCKET/PREFIX`: checkpoints there, and every core's sealed segments archived there,
   * under a writer epoch claimed on open (every publish fence-checked).
   */
  store?: string | undefined;
  /** With `store`: take the prefix over from a fresh `dir` ("another machine"), fencing its writer. */
  takeover?: boolean | undefined;
}

/** Batches a core may have in flight before the reader waits. */
const MAX_IN_FLIGHT = 4;

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

/** The partition of `key` (`o:<origin>` or `r:<origin>-<dest>`). */
function coreOfKey(key: string, cores: number): number {
  const rest = key.startsWith(ORIGIN_PREFIX)
    ? key.slice(ORIGIN_PREFIX.length)
    : key.slice(ROUTE_PREFIX.length).split('-')[0]!;
  return coreOf(rest, cores);
}

/** A core thread and what is outstanding with it. */
class CoreHandle implements CoreCheckpointParticipant {
  durableRow: number;
  inFlight = 0;
  walBytes = 0;
  syncs = 0;
  private nextRequest = 1;
  private readonly requests = new Map<
    number,
    { resolve: (v: never) => void; reject: (e: unknown) => void }
  >();
  private waiters: (() => void)[] = [];
  failure: TidemarkError | undefined;
  private closed: (() => void) | undefined;

  constructor(
    readonly coreId: number,
    readonly worker: Worker,
    committedRow: number,
  ) {
    this.durableRow = committedRow;
    worker.on('message', (m: FromCore) => this.onMessage(m));
    worker.on('error', (err) =>
      this.fail(new TidemarkError('TIDEMARK_BUG', `core ${coreId} crashed: ${err.message}`)),
    );
  }

  private fail(err: TidemarkError): void {
    this.failure ??= err;
    for (const r of this.requests.values()) r.reject(err);
    this.requests.clear();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onMessage(m: FromCore): void {
    if (m.type === 'durable') {
      this.durableRow = Math.max(this.durableRow, m.rowEnd);
      this.inFlight--;
      if (m.walBytes > 0) this.walBytes = m.walBytes;
      if (m.syncs > 0) this.syncs = m.syncs;
      this.wake();
    } else if (m.type === 'barrier-done' || m.type === 'checkpoint-marked' || m.type === 'truncated') {
      const r = this.requests.get(m.requestId);
      this.requests.delete(m.requestId);
      const answer =
        m.type === 'barrier-done' ? m.position : m.type === 'truncated' ? m.segments : m.sequence;
      r?.resolve(answer as never);
    } else if (m.type === 'failed') {
      this.fail(new TidemarkError(m.code as TidemarkErrorCode, `core ${this.coreId}: ${m.message}`));
    } else if (m.type === 'closed') this.closed?.();
  }

  post(m: ToCore): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(m);
  }

  /** Resolves once fewer than `max` batches are in flight. */
  async room(max: number): Promise<void> {
    while (this.inFlight >= max) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    if (this.failure) throw this.failure;
  }

  private request<T>(make: (requestId: number) => ToCore): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const requestId = this.nextRequest++;
      this.requests.set(requestId, { resolve: resolve as (v: never) => void, reject });
      try {
        this.post(make(requestId));
      } catch (err) {
        this.requests.delete(requestId);
        reject(err);
      }
    });
  }

  barrier(epoch: number): Promise<WalPosition> {
    return this.request((requestId) => ({ type: 'barrier', requestId, epoch }));
  }

  markCheckpoint(options: { checkpointId: number; position: WalPosition }): Promise<number> {
    return this.request((requestId) => ({ type: 'mark-checkpoint', requestId, ...options }));
  }

  truncateBefore(position: WalPosition): Promise<number> {
    return this.request((requestId) => ({ type: 'truncate', requestId, position }));
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.closed = resolve;
      this.worker.once('exit', () => resolve()); // a thread that died posts nothing more
      this.worker.postMessage({ type: 'close' } satisfies ToCore);
    });
  }
}

/** The data directory opened for ingest: its lock, the writer claim (with a store), what was recovered. */
interface OpenedCoresDir {
  walRoot: FsDirectory;
  store: CheckpointStore;
  claimed: ClaimedWriter | undefined;
  lock: DirectoryLock;
  recovered: PerCoreRecoveredState;
}

async function openCoresDir(opts: CoresIngestOptions): Promise<OpenedCoresDir> {
  const root = await FsDirectory.open(opts.dir);
  const lock = await root.lock();
  let claimed: ClaimedWriter | undefined;
  try {
    // The claim comes before anything is recovered: what this writer recovers is exactly the
    // history its claim records as valid (fenced writers' late publishes hidden).
    claimed =
      opts.store === undefined
        ? undefined
        : await claimPerCoreWriter(parseObjectStoreUrl(opts.store), {
            root,
            cores: opts.cores,
            takeover: opts.takeover ?? false,
          });
    const walRoot = await FsDirectory.open(path.join(opts.dir, WAL_DIR_NAME));
    const store: CheckpointStore =
      claimed?.store ??
      new FileSystemCheckpointStore(await FsDirectory.open(path.join(opts.dir, CHECKPOINT_DIR_NAME)));
    const recovered = await recoverPerCore({ walRoot, store, cores: opts.cores, transactional: true });
    return { walRoot, store, claimed, lock, recovered };
  } catch (err) {
    claimed?.close();
    await lock.release().catch(() => {});
    throw err;
  }
}

/**
 * Runs the per-core ingest; resolves the process's exit code: 0, or `FENCED_EXIT_CODE` once a
 * takeover fenced this writer (a core's archive or a checkpoint refused with `TIDEMARK_FENCED`):
 * it reports `fenced`, stops its core threads and publishes nothing more.
 */
export async function runCoresIngest(opts: CoresIngestOptions): Promise<number> {
  const opened = await openCoresDir(opts);
  const cores: CoreHandle[] = [];
  try {
    await ingest(opts, opened, cores);
    return 0;
  } catch (err) {
    if (!isTidemarkError(err, 'TIDEMARK_FENCED')) throw err;
    send({ type: 'fenced', message: err.message });
    // Stopped, not closed: a clean close would archive, and a fenced writer publishes nothing.
    await Promise.allSettled(cores.map((c) => c.worker.terminate()));
    opened.claimed?.close();
    await opened.lock.release().catch(() => {});
    return FENCED_EXIT_CODE;
  }
}

async function ingest(opts: CoresIngestOptions, opened: OpenedCoresDir, cores: CoreHandle[]): Promise<void> {
  const { walRoot, store, claimed, recovered } = opened;
  const committed = (c: number) => recovered.cores.get(c)?.sourceOffsets[SOURCE] ?? 0;
  const startRow = Math.min(...Array.from({ length: opts.cores }, (_, c) => committed(c)));
  send({
    type: 'recovered',
    rows: startRow,
    recoveryMs: recovered.durationMs,
    recordsReplayed: recovered.segmentStats.reduce((n, s) => n + s.records, 0),
    checkpointId: recovered.checkpointId,
  });
  const partitions: [string, Uint8Array][][] = Array.from({ length: opts.cores }, () => []);
  for (const [k, v] of recovered.state) partitions[coreOfKey(k, opts.cores)]!.push([k, v]);
  for (let coreId = 0; coreId < opts.cores; coreId++) {
    const workerData: CoreWorkerData = {
      walRoot: walRoot.path,
      coreId,
      epoch: recovered.epoch + 1,
      state: partitions[coreId]!,
      committedRow: committed(coreId),
      objectStore: opts.store,
      writer: claimed?.fence.claimed(),
    };
    cores.push(
      new CoreHandle(
        coreId,
        startModuleWorker(import.meta.url, 'core-worker', { workerData, name: `tidemark-core-${coreId}` }),
        committed(coreId),
      ),
    );
  }
  // Ready, or dead (its failure then surfaces at the first batch).
  await Promise.all(
    cores.map(
      (c) =>
        new Promise<void>((r) => {
          c.worker.once('message', () => r());
          c.worker.once('exit', () => r());
        }),
    ),
  );
  const coordinator = await PerCoreCheckpointCoordinator.open({
    store,
    walRoot,
    participants: cores,
    transactional: true,
    epoch: recovered.epoch + 1,
  });
  let checkpoints = 0;
  let deltas = 0;
  let checkpointing: Promise<unknown> | undefined;
  let fenced: TidemarkError | undefined;
  let lastCheckpointRow = startRow;
  const durableRow = () => Math.min(...cores.map((c) => c.durableRow));
  const progress = (rows: number) => {
    send({
      type: 'progress',
      rows,
      durableRows: durableRow(),
      walBytes: cores.reduce((n, c) => n + c.walBytes, 0),
      syncs: cores.reduce((n, c) => n + c.syncs, 0),
      checkpoints,
      deltas,
    });
  };

  let rows = startRow;
  await readFlights({ start: startRow, end: opts.limit }, async (chunk) => {
    const { firstRow, delays, origins, destinations } = chunk;
    for (let b = 0; b < origins.length; b += opts.batchRows) {
      if (fenced) throw fenced;
      const end = Math.min(origins.length, b + opts.batchRows);
      const shares = cores.map(() => ({
        origins: [] as string[],
        destinations: [] as string[],
        delays: [] as number[],
      }));
      for (let i = b; i < end; i++) {
        const share = shares[coreOf(origins[i]!, opts.cores)]!;
        share.origins.push(origins[i]!);
        share.destinations.push(destinations[i]!);
        share.delays.push(Number(delays[i]));
      }
      rows = firstRow + end;
      for (const core of cores) {
        await core.room(MAX_IN_FLIGHT);
        core.inFlight++;
        core.post({ type: 'batch', rowEnd: rows, ...shares[core.coreId]! });
      }
      if (rows - lastCheckpointRow >= opts.checkpointEveryRows && !checkpointing) {
        lastCheckpointRow = rows;
        checkpointing = coordinator.checkpoint().then(
          (r) => {
            checkpoints++;
            if (r.kind === 'delta') deltas++;
            send({ type: 'checkpointed', id: r.id, kind: r.kind });
            checkpointing = undefined;
          },
          (err: unknown) => {
            // A failed checkpoint deletes no WAL and the ingest goes on; the next one retries.
            // Fenced is for good: the next batch stops the ingest with it.
            checkpointing = undefined;
            if (isTidemarkError(err, 'TIDEMARK_FENCED')) fenced = err;
            else process.stderr.write(`checkpoint failed: ${String(err)}\n`);
          },
        );
      }
      progress(rows);
    }
  });
  for (const core of cores) await core.room(1);
  if (checkpointing) await checkpointing;
  if (fenced) throw fenced;
  progress(rows);
  await Promise.all(cores.map((c) => c.close()));
  // A fenced core's failure first: the ingest stopped for it, whatever else failed after.
  const failed =
    cores.find((c) => c.failure && isTidemarkError(c.failure, 'TIDEMARK_FENCED')) ??
    cores.find((c) => c.failure);
  if (failed) throw failed.failure;
  // Done means every row is this writer's to publish: a writer fenced while it had nothing left
  // to archive would otherwise never find out, and report a stream it no longer owns as done.
  await claimed?.fence.check('the end of the ingest');
  claimed?.close();
  await opened.lock.release();
  send({
    type: 'done',
    rows,
    walBytes: cores.reduce((n, c) => n + c.walBytes, 0),
    syncs: cores.reduce((n, c) => n + c.syncs, 0),
    checkpoints,
    deltas,
  });
}
