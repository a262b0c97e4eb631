/**
 * The `tidemark:object-store.request` span of `S3ObjectStorage`: one span per attempt, whose
 * context gets the HTTP status of the answer. The requests' bodies are consumed inside the
 * attempt (a GET's bytes, a PUT's output is dropped), so the status is taken where the SDK sees
 * the raw response: a middleware at its `deserialize` step writes it into the context of the
 * attempt running in that async context (AsyncLocalStorage; nothing is stored when no span is
 * open, i.e. when nobody subscribes).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import { type ObjectStoreRequestContext, tracing } from '../diagnostics.js';

const currentAttempt = new AsyncLocalStorage<ObjectStoreRequestContext>();

/** True when someone subscribes to the request span (check before building a context). */
export function tracingRequests(): boolean {
  return tracing.objectStoreRequest.hasSubscribers;
}

/** Adds the middleware that records each answer's HTTP status into the open attempt span, if any. */
export function recordHttpStatus(client: S3Client): void {
  type Next = (args: unknown) => Promise<{ response?: unknown }>;
  const middleware = (next: Next) => async (args: unknown) => {
    const out = await next(args);
    const ctx = currentAttempt.getStore();
    if (ctx) {
      const status = (out.response as { statusCode?: unknown } | undefined)?.statusCode;
      if (typeof status === 'number') ctx.status = status;
    }
    return out;
  };
  // The stack's generic types are per command; this middleware only reads `response`.
  (client.middlewareStack as unknown as { add(m: unknown, o: object): void }).add(middleware, {
    step: 'deserialize',
    name: 'tidemarkRecordHttpStatus',
  });
}

/**
 * Runs one attempt (`send(signal)`) as a span with context `ctx`. A failed attempt's status comes
 * from the error's `$metadata.httpStatusCode` when the middleware did not see an answer.
 */
export function traceRequest<T>(
  ctx: ObjectStoreRequestContext,
  send: (signal: AbortSignal) => Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  return tracing.objectStoreRequest.tracePromise(
    () =>
      currentAttempt.run(ctx, async () => {
        try {
          return await send(signal);
        } catch (err) {
          ctx.status ??= httpStatusOf(err);
          throw err;
        }
      }),
    ctx,
  );
}

function httpStatusOf(x: unknown): number | undefined {
  const meta = (x as { $metadata?: { httpStatusCode?: unknown } } | null | undefined)?.$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}
