/**
 * Messages between Ring 0 (the store's thread) and the Ring 1 worker. The hot traffic never uses
 * them: entries, the durable watermark, the epoch, failures and counters all go through shared
 * memory. Messages carry only start-up, checkpoint requests, checkpoint spans and close.
 */
import type { ChangelogDrainerOptions } from '../changelog/changelog-drainer.js';
import type { CheckpointOptions } from '../checkpoint/checkpoint-config.js';
import type { CheckpointExtras } from '../format/checkpoint-manifest.js';
import type { ObjectStoreConfig } from '../io/object-store-config.js';
import type { ClaimedEpoch } from '../io/writer-epoch.js';
import type { Ring1CheckpointResult } from '../state/changelog-aware-store.js';
import type { TornTail } from '../wal/segment-scanner.js';
import type { WalOptions } from '../wal/write-ahead-log.js';
import type { SpanMessage } from './forward-spans.js';

/** `workerData` of the Ring 1 worker. */
export interface Ring1WorkerData {
  shared: SharedArrayBuffer;
  walDirPath: string;
  checkpointDirPath: string;
  wal: Omit<WalOptions, 'lock' | 'initialLsn'>;
  /** LSN the latest checkpoint covers: the WAL must reach it. */
  checkpointLsn: number;
  /** LSN of the last Commit recovered (the first checkpoint target in transactional mode). */
  recoveredCommitLsn: number;
  /** Bytes of WAL records after the latest checkpoint at open: they count toward `walSizeThresholdBytes`. */
  walBytesSinceCheckpoint: number;
  /** Id of the checkpoint recovery loaded and verified (or wrote on open): Ring 1 builds on it. */
  checkpointId?: number | undefined;
  /** What recovery replayed at open (bytes, ms): seeds Ring 1's replay-rate estimate. */
  recoveryReplay?: { bytes: number; ms: number };
  transactional: boolean;
  drainer: ChangelogDrainerOptions;
  /** Incremental checkpointing, retention, and when Ring 1 checkpoints on its own. */
  checkpoint: CheckpointOptions;
  /** Checkpoints in an object store (and WAL archiving), or undefined for `checkpointDirPath`. */
  objectStore: ObjectStoreConfig | undefined;
  archiveWal: boolean | undefined;
  archiveIntervalMs: number | undefined;
  /** With an object store: the writer epoch Ring 0 claimed; Ring 1 publishes under it, fence-checked. */
  writer: ClaimedEpoch | undefined;
}

/** A TidemarkError flattened for postMessage. */
export interface WireError {
  code: string;
  message: string;
  path?: string | undefined;
  offset?: number | undefined;
}

export type Ring0ToRing1 =
  | { type: 'checkpoint'; requestId: number; extras: CheckpointExtras | undefined }
  /** Ring 0's signal aborted: abandon checkpoint `requestId` if it is not past its publish point. */
  | { type: 'abort-checkpoint'; requestId: number }
  | { type: 'close' };

export type Ring1ToRing0 =
  | { type: 'ready'; lastLsn: number; repairedTail: TornTail | undefined }
  | { type: 'start-failed'; error: WireError }
  | { type: 'checkpointed'; requestId: number; result: Ring1CheckpointResult }
  | { type: 'checkpoint-failed'; requestId: number; error: WireError }
  | { type: 'closed'; error: WireError | undefined }
  /** A checkpoint span of Ring 1, republished in Ring 0 (see forward-spans.ts). */
  | SpanMessage;
