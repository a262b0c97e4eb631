/**
 * Tracing spans on `node:diagnostics_channel`, named and shaped the way undici and fastify name
 * theirs: each span is a `TracingChannel` whose events are published on
 * `tracing:<name>:start|end|asyncStart|asyncEnd|error` (see docs/OBSERVABILITY.md). Subscribe by
 * name from the user's side:
 *
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * import { channels } from 'tidemark';
 * diagnosticsChannel.tracingChannel(channels.walSync).subscribe({
 *   start(ctx) { ... }, asyncEnd(ctx) { ... }, error(ctx) { ... },
 *   end() {}, asyncStart() {},
 * });
 * ```
 *
 * Costs nothing when nobody listens: every call site checks `hasSubscribers` before it builds a
 * context object. A subscriber that throws cannot fail the traced operation: Node catches it in
 * `publish` and rethrows it on the next tick as an `uncaughtException` (its documented behaviour),
 * so the store's promise settles as it would have and the process sees the subscriber's bug.
 *
 * Channels are per thread: spans of work done in a worker thread (the Ring 1 worker of the
 * changelog-aware store) are published in that thread. The Ring 1 runtime forwards its
 * checkpoint spans to the store's thread (`forwardable`); its WAL spans stay in the worker.
 *
 * A leaf module at the bottom of the layers (beside errors.ts): it imports nothing from src/.
 */
import diagnosticsChannel, { type TracingChannel } from 'node:diagnostics_channel';

/**
 * The names of tidemark's tracing channels, for `diagnostics_channel.tracingChannel(name)`.
 * Each name `n` publishes on `tracing:n:start`, `tracing:n:end`, `tracing:n:asyncStart`,
 * `tracing:n:asyncEnd` and `tracing:n:error`.
 */
export const channels = {
  /** One WAL durability barrier: an fdatasync, or one O_DSYNC write. Context: {@link WalSyncContext}. */
  walSync: 'tidemark:wal.sync',
  /** One group of WAL records written and made durable. Context: {@link WalGroupCommitContext}. */
  walGroupCommit: 'tidemark:wal.group-commit',
  /** One checkpoint created and published. Context: {@link CheckpointSpanContext}. */
  checkpoint: 'tidemark:checkpoint.create',
  /** One recovery of a data directory (`RecoveryManager.recover()` / `open()`). Context: {@link RecoverySpanContext}. */
  recovery: 'tidemark:recovery',
  /** One object-store request attempt. Context: {@link ObjectStoreRequestContext}. */
  objectStoreRequest: 'tidemark:object-store.request',
} as const;

/** Fields Node adds to every context: `error` on `error`/`asyncEnd` of a failure, `result` on `end`/`asyncEnd`. */
export interface SpanOutcome {
  /** What the traced operation threw or rejected with (on `error` and the failure's `asyncEnd`). */
  error?: unknown;
  /** What it returned or resolved with (on `end` / `asyncEnd`). */
  result?: unknown;
}

/** Context of `tidemark:wal.sync`. */
export interface WalSyncContext extends SpanOutcome {
  /** Full path of the segment file made durable. */
  path: string;
  /** Bytes this barrier made durable (written since the previous barrier of the file). */
  bytes: number;
  /** `fdatasync` (a separate call after the writes) or `o_dsync` (the write itself is the barrier). */
  syncMethod: 'fdatasync' | 'o_dsync';
}

/** Context of `tidemark:wal.group-commit`. */
export interface WalGroupCommitContext extends SpanOutcome {
  /** The log's directory. */
  path: string;
  /** Records in the group. */
  records: number;
  /** Framed bytes of the group. */
  bytes: number;
  /** LSN of the group's first record. */
  firstLsn: number;
  /** LSN of the group's last record. */
  lastLsn: number;
}

/** Context of `tidemark:checkpoint.create`. */
export interface CheckpointSpanContext extends SpanOutcome {
  /** Which engine took it: the single-WAL incremental manager, or the per-core coordinator. */
  engine: 'incremental' | 'per-core';
  /** Epoch asked for. */
  epoch: number;
  /** Checkpoint id, once allocated (set before `asyncEnd`; absent when it failed before that). */
  id?: number | undefined;
  /** `base` or `delta`, once decided. */
  kind?: 'base' | 'delta' | undefined;
  /** State entries written to the data file (every key for a base, the changed ones for a delta). */
  keysWritten?: number | undefined;
  /** Bytes of the checkpoint's files. */
  bytes?: number | undefined;
  /** WAL LSN the checkpoint covers (`incremental` only). */
  lsn?: number | undefined;
  /** `ring1` when taken in the Ring 1 worker and republished in the store's thread. */
  thread?: 'ring1' | undefined;
  /** Wall-clock duration measured where the work ran (set on forwarded spans, whose events arrive late). */
  durationMs?: number | undefined;
}

/** Context of `tidemark:recovery`. */
export interface RecoverySpanContext extends SpanOutcome {
  /** The data directory. */
  dir: string;
  /** `recover` (rebuild the state) or `open` (rebuild it and open the WAL for writing). */
  operation: 'recover' | 'open';
  /** Id of the checkpoint recovery started from (set before `asyncEnd`; undefined: none). */
  checkpointId?: number | undefined;
  /** WAL records replayed after it. */
  recordsReplayed?: number | undefined;
}

/** Context of `tidemark:object-store.request`. */
export interface ObjectStoreRequestContext extends SpanOutcome {
  /** S3 operation (`PutObject`, `GetObject`, `UploadPart`, …). */
  operation: string;
  /** Object key, relative to the store's prefix. */
  key: string;
  /** 1 for the first try; retries count up. */
  attempt: number;
  /** HTTP status of the answer, when the SDK reported one (set before `asyncEnd`). */
  status?: number | undefined;
}

/** The tracing channels themselves (tidemark's side; users subscribe by {@link channels} name). */
export const tracing = {
  walSync: diagnosticsChannel.tracingChannel<unknown, WalSyncContext>(channels.walSync),
  walGroupCommit: diagnosticsChannel.tracingChannel<unknown, WalGroupCommitContext>(channels.walGroupCommit),
  checkpoint: diagnosticsChannel.tracingChannel<unknown, CheckpointSpanContext>(channels.checkpoint),
  recovery: diagnosticsChannel.tracingChannel<unknown, RecoverySpanContext>(channels.recovery),
  objectStoreRequest: diagnosticsChannel.tracingChannel<unknown, ObjectStoreRequestContext>(
    channels.objectStoreRequest,
  ),
} satisfies Record<keyof typeof channels, TracingChannel<unknown, object>>;

/**
 * Runs `fn` as a span of `channel` when it has subscribers (context from `context()`, built only
 * then), or plainly otherwise. For cold paths; hot ones check `hasSubscribers` inline.
 */
export function traceAsync<C extends object, R>(
  channel: TracingChannel<unknown, C>,
  context: () => C,
  fn: (ctx: C | undefined) => Promise<R>,
): Promise<R> {
  if (!channel.hasSubscribers) return fn(undefined);
  const ctx = context();
  return channel.tracePromise(() => fn(ctx), ctx);
}
