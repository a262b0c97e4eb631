/**
 * Ring 1's checkpoint spans, republished in Ring 0. `node:diagnostics_channel` is per thread:
 * checkpoints of the changelog-aware store run in the Ring 1 worker, where a subscriber in the
 * user's thread never sees them. The worker subscribes to `tidemark:checkpoint.create` in its
 * own thread and posts each span's start and finish (a few messages per checkpoint, never on the
 * write path); Ring 0 republishes them on its own channel when someone listens there, with
 * `thread: 'ring1'` and the duration measured in the worker (the events arrive a message later).
 * The WAL spans (`tidemark:wal.sync`, `tidemark:wal.group-commit`) are not forwarded: one per
 * group would put a message on the write path; they are published in the worker thread only.
 */
import { type CheckpointSpanContext, tracing } from '../diagnostics.js';
import { TidemarkError, type TidemarkErrorCode } from '../errors.js';
import type { WireError } from './ring1-protocol.js';

/** A span event posted by Ring 1. */
export interface SpanMessage {
  type: 'span';
  /** Span id, unique within the worker. */
  spanId: number;
  event: 'start' | 'finish';
  context: CheckpointSpanContext;
  /** The failure, on a `finish` that failed. */
  error?: WireError | undefined;
}

const SPAN_FIELDS = ['engine', 'epoch', 'id', 'kind', 'keysWritten', 'bytes', 'lsn'] as const;

function plain(ctx: CheckpointSpanContext): CheckpointSpanContext {
  const out: Record<string, unknown> = {};
  for (const f of SPAN_FIELDS) if (ctx[f] !== undefined) out[f] = ctx[f];
  return out as unknown as CheckpointSpanContext;
}

/** Ring 1's side: posts every checkpoint span of this thread with `post`. */
export function forwardCheckpointSpans(options: {
  post: (msg: SpanMessage) => void;
  wire: (err: unknown) => WireError;
}): void {
  const { wire } = options;
  // A subscriber's throw would end this worker (an uncaught exception): a lost span is better.
  const post = (msg: SpanMessage) => {
    try {
      options.post(msg);
    } catch {}
  };
  const ids = new WeakMap<object, { spanId: number; t0: number }>();
  let next = 1;
  const finish = (ctx: CheckpointSpanContext) => {
    const span = ids.get(ctx);
    if (span === undefined) return;
    ids.delete(ctx);
    const context = { ...plain(ctx), durationMs: performance.now() - span.t0 };
    const error = ctx.error === undefined ? undefined : wire(ctx.error);
    post({ type: 'span', spanId: span.spanId, event: 'finish', context, error });
  };
  tracing.checkpoint.subscribe({
    start(ctx) {
      const spanId = next++;
      ids.set(ctx, { spanId, t0: performance.now() });
      post({ type: 'span', spanId, event: 'start', context: plain(ctx) });
    },
    end() {},
    asyncStart() {},
    asyncEnd: finish,
    error() {},
  });
}

/**
 * Ring 0's side: republishes forwarded spans on this thread's `tidemark:checkpoint.create`.
 *
 * Threads: Ring 0's side: used in the thread that started the Ring 1 worker.
 */
export class SpanRelay {
  private readonly open = new Map<number, CheckpointSpanContext>();

  /** Handles one message from Ring 1. */
  receive(msg: SpanMessage): void {
    const ch = tracing.checkpoint;
    if (msg.event === 'start') {
      // A span that starts unobserved is not republished at all, so start and end always pair.
      if (!ch.hasSubscribers) return;
      const ctx: CheckpointSpanContext = { ...msg.context, thread: 'ring1' };
      this.open.set(msg.spanId, ctx);
      ch.start.publish(ctx);
      ch.end.publish(ctx);
      return;
    }
    const ctx = this.open.get(msg.spanId);
    if (ctx === undefined) return;
    this.open.delete(msg.spanId);
    Object.assign(ctx, msg.context);
    if (msg.error) {
      ctx.error = new TidemarkError(msg.error.code as TidemarkErrorCode, msg.error.message, {
        path: msg.error.path,
        offset: msg.error.offset,
      });
      ch.error.publish(ctx);
    }
    ch.asyncStart.publish(ctx);
    ch.asyncEnd.publish(ctx);
  }
}
