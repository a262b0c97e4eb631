/** Messages between the demo's per-core ingest (main thread) and its core threads. */
import type { ClaimedEpoch } from '../../io/writer-epoch.js';
import type { WalPosition } from '../../wal/wal-reader.js';

/** `workerData` of a core thread. */
export interface CoreWorkerData {
  walRoot: string;
  coreId: number;
  /** Epoch to write at: one above everything recovered. */
  epoch: number;
  /** This core's partition of the recovered state. */
  state: [string, Uint8Array][];
  /** The row offset this core has committed: batches ending at or before it are skipped. */
  committedRow: number;
  /** `s3://BUCKET/PREFIX`: archive this core's sealed segments there (`wal/core-<id>/`). */
  objectStore?: string | undefined;
  /**
   * With `objectStore`: the writer epoch the ingest claimed on it. The core's archive publishes
   * under it (fence-checked), and once it is fenced the core's log fails with `TIDEMARK_FENCED`.
   */
  writer?: ClaimedEpoch | undefined;
}

/** One batch's rows for one core (its partition), ending at source row `rowEnd`. */
export interface CoreBatch {
  type: 'batch';
  rowEnd: number;
  origins: string[];
  destinations: string[];
  delays: number[];
}

export type ToCore =
  | CoreBatch
  | { type: 'barrier'; requestId: number; epoch: number }
  | { type: 'mark-checkpoint'; requestId: number; checkpointId: number; position: WalPosition }
  | { type: 'truncate'; requestId: number; position: WalPosition }
  | { type: 'close' };

export type FromCore =
  | { type: 'ready' }
  | { type: 'durable'; rowEnd: number; walBytes: number; syncs: number }
  | { type: 'barrier-done'; requestId: number; position: WalPosition }
  | { type: 'checkpoint-marked'; requestId: number; sequence: number }
  | { type: 'truncated'; requestId: number; segments: number }
  | { type: 'failed'; code: string; message: string }
  | { type: 'closed' };

/** Core owning the keys of `origin` (`o:<origin>` and `r:<origin>-…`). */
export function coreOf(origin: string, cores: number): number {
  let h = 2166136261;
  for (let i = 0; i < origin.length; i++) h = Math.imul(h ^ origin.charCodeAt(i), 16777619);
  return (h >>> 0) % cores;
}
