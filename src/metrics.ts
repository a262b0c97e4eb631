/**
 * OpenTelemetry metrics, opt-in, built on the tracing channels of `diagnostics.ts`: one call
 * subscribes to those channels and records each finished span into an OpenTelemetry histogram of
 * the user's `@opentelemetry/api` (an optional peer dependency, imported on that call only).
 * Nothing is subscribed until {@link enableOpenTelemetryMetrics} runs, so the channels keep
 * `hasSubscribers === false` and the store pays nothing otherwise.
 *
 * Durations are histograms in seconds, as the OpenTelemetry semantic conventions ask
 * (`http.server.request.duration`, `db.client.operation.duration`), and as etcd exports its
 * `etcd_disk_wal_fsync_duration_seconds`; failures are recorded too, with `error.type`.
 *
 * The OpenTelemetry types are declared here structurally (the real `MeterProvider` and `Meter`
 * fit them) so that the package's type declarations do not name `@opentelemetry/api`, which a
 * TypeScript user without it installed could not resolve.
 */

import type { TracingChannel } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import {
  type CheckpointSpanContext,
  type ObjectStoreRequestContext,
  type RecoverySpanContext,
  type SpanOutcome,
  tracing,
  type WalGroupCommitContext,
  type WalSyncContext,
} from './diagnostics.js';
import { TidemarkError } from './errors.js';
import { importOptional } from './io/optional-dependency.js';
import { checkOptionsObject, invalidArgument } from './validation.js';

/** Attribute values tidemark records (a subset of OpenTelemetry's `Attributes`). */
export type MetricAttributes = Record<string, string | number | boolean>;

/** The part of an OpenTelemetry `Histogram` tidemark uses. */
export interface MetricsHistogram {
  /** Records one observation: a duration in seconds, or a count or size, with its attributes. */
  record(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `Meter` tidemark uses (`@opentelemetry/api`'s `Meter` fits). */
export interface MetricsMeter {
  /** Creates the histogram named `name` (unit and bucket advice in `options`). */
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): MetricsHistogram;
}

/** The part of an OpenTelemetry `MeterProvider` tidemark uses (an SDK `MeterProvider` fits). */
export interface MetricsMeterProvider {
  /** The meter of the instrumentation scope `name` (tidemark asks for `'tidemark'` and its version). */
  getMeter(name: string, version?: string): MetricsMeter;
}

/** Options of {@link enableOpenTelemetryMetrics}. */
export interface OpenTelemetryMetricsOptions {
  /**
   * The meter to record with. Default: `meterProvider.getMeter('tidemark', <version>)`.
   */
  meter?: MetricsMeter | undefined;
  /**
   * Where to get the meter from when `meter` is absent. Default: the global provider of
   * `@opentelemetry/api` (`metrics.getMeter('tidemark', <version>)`, a no-op until an SDK
   * registers one with `metrics.setGlobalMeterProvider`).
   */
  meterProvider?: MetricsMeterProvider | undefined;
}

/** What {@link enableOpenTelemetryMetrics} returns: stops the recording. */
export interface OpenTelemetryMetrics extends Disposable {
  /** Unsubscribes from every channel; nothing more is recorded. Idempotent. */
  disable(): void;
}

/** The peer dependency's package name. */
export const OPENTELEMETRY_API_PACKAGE = '@opentelemetry/api';

/**
 * Bucket boundaries (seconds) for tidemark's durations: an fdatasync takes tens of microseconds
 * on a battery-backed controller and tens of milliseconds on a consumer disk; a checkpoint or a
 * recovery seconds. The SDK's default boundaries (0 … 10 000) suit milliseconds, not seconds.
 */
const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60,
];

/** This package's version, for the meter's instrumentation scope (undefined when not found, e.g. bundled). */
function packageVersion(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url)('../package.json') as { name?: unknown; version?: unknown };
    return pkg.name === 'tidemark' && typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/** `error.type` of the semantic conventions: the TidemarkError's code, else the error's name. */
function errorType(err: unknown): string {
  if (err instanceof TidemarkError) return err.code;
  if (err instanceof Error) return err.name;
  return '_OTHER';
}

/**
 * Subscribes `onDone(ctx, seconds)` to `channel`: called once per span, when it settles (on
 * `asyncEnd`, or on `end` when the traced function threw synchronously). Returns the unsubscriber.
 */
function onSpanDone<C extends SpanOutcome>(
  channel: TracingChannel<unknown, C>,
  onDone: (ctx: C, seconds: number) => void,
): () => void {
  const starts = new WeakMap<object, number>();
  const done = (ctx: C) => {
    const t0 = starts.get(ctx);
    if (t0 === undefined) return; // started before enable()
    starts.delete(ctx);
    onDone(ctx, (performance.now() - t0) / 1000);
  };
  const handlers = {
    start(ctx: C) {
      starts.set(ctx, performance.now());
    },
    end(ctx: C) {
      // A synchronous throw publishes error then end, and no asyncEnd follows.
      if (ctx.error !== undefined) done(ctx);
    },
    asyncStart() {},
    asyncEnd: done,
    error() {},
  };
  channel.subscribe(handlers);
  return () => {
    channel.unsubscribe(handlers);
  };
}

/** Adds `error.type` when the span failed. */
function withError(ctx: SpanOutcome, attributes: MetricAttributes): MetricAttributes {
  if (ctx.error !== undefined) attributes['error.type'] = errorType(ctx.error);
  return attributes;
}

/**
 * Records tidemark's spans as OpenTelemetry metrics until `disable()` (or `using`'s dispose):
 *
 * | metric | unit | attributes |
 * | --- | --- | --- |
 * | `tidemark.wal.fsync.duration` | s | `tidemark.wal.sync_method`, `error.type` |
 * | `tidemark.wal.group_commit.duration` | s | `error.type` |
 * | `tidemark.wal.group_commit.records` | `{record}` | `error.type` |
 * | `tidemark.wal.group_commit.bytes` | By | `error.type` |
 * | `tidemark.checkpoint.duration` | s | `tidemark.checkpoint.engine`, `tidemark.checkpoint.kind`, `tidemark.thread`, `error.type` |
 * | `tidemark.checkpoint.bytes` | By | as the duration |
 * | `tidemark.recovery.duration` | s | `tidemark.recovery.operation`, `error.type` |
 * | `tidemark.object_store.request.duration` | s | `tidemark.object_store.operation`, `http.response.status_code`, `error.type` |
 *
 * Spans are per thread (docs/OBSERVABILITY.md): call this in the thread whose work you want
 * measured. Calling it twice records everything twice.
 *
 * Rejects `TIDEMARK_INVALID_ARGUMENT` for options that are not an object, or a `meter` /
 * `meterProvider` without `createHistogram` / `getMeter`, before anything subscribes; rejects
 * `TIDEMARK_MISSING_DEPENDENCY` (naming `@opentelemetry/api` and its install command)
 * when neither `meter` nor `meterProvider` is given and `@opentelemetry/api` is not installed.
 */
export async function enableOpenTelemetryMetrics(
  options: OpenTelemetryMetricsOptions = {},
): Promise<OpenTelemetryMetrics> {
  // Checked before anything subscribes: a wrong object would otherwise fail later, inside a
  // span, as a bare TypeError.
  checkOptionsObject('enableOpenTelemetryMetrics(options)', options);
  if (
    options.meter !== undefined &&
    typeof (options.meter as Partial<MetricsMeter>)?.createHistogram !== 'function'
  )
    throw invalidArgument(
      'enableOpenTelemetryMetrics(options.meter)',
      options.meter,
      'an OpenTelemetry Meter',
    );
  if (
    options.meterProvider !== undefined &&
    typeof (options.meterProvider as Partial<MetricsMeterProvider>)?.getMeter !== 'function'
  )
    throw invalidArgument(
      'enableOpenTelemetryMetrics(options.meterProvider)',
      options.meterProvider,
      'an OpenTelemetry MeterProvider',
    );
  const meter =
    options.meter ??
    (options.meterProvider ?? (await globalMeterProvider())).getMeter('tidemark', packageVersion());
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  const fsync = seconds(
    'tidemark.wal.fsync.duration',
    'Duration of one WAL durability barrier (fdatasync or O_DSYNC write)',
  );
  const groupDuration = seconds(
    'tidemark.wal.group_commit.duration',
    'Duration of one WAL group commit, write to durable',
  );
  const groupRecords = meter.createHistogram('tidemark.wal.group_commit.records', {
    description: 'Records per WAL group commit',
    unit: '{record}',
  });
  const groupBytes = meter.createHistogram('tidemark.wal.group_commit.bytes', {
    description: 'Framed bytes per WAL group commit',
    unit: 'By',
  });
  const checkpoint = seconds('tidemark.checkpoint.duration', 'Duration of one checkpoint, data to published');
  const checkpointBytes = meter.createHistogram('tidemark.checkpoint.bytes', {
    description: "Bytes of one checkpoint's files",
    unit: 'By',
  });
  const recovery = seconds('tidemark.recovery.duration', 'Duration of one recovery of a data directory');
  const objectStore = seconds(
    'tidemark.object_store.request.duration',
    'Duration of one object-store request attempt',
  );

  const stops = [
    onSpanDone<WalSyncContext>(tracing.walSync, (ctx, s) => {
      fsync.record(s, withError(ctx, { 'tidemark.wal.sync_method': ctx.syncMethod }));
    }),
    onSpanDone<WalGroupCommitContext>(tracing.walGroupCommit, (ctx, s) => {
      const attributes = withError(ctx, {});
      groupDuration.record(s, attributes);
      groupRecords.record(ctx.records, attributes);
      groupBytes.record(ctx.bytes, attributes);
    }),
    onSpanDone<CheckpointSpanContext>(tracing.checkpoint, (ctx, s) => {
      const attributes: MetricAttributes = { 'tidemark.checkpoint.engine': ctx.engine };
      if (ctx.kind !== undefined) attributes['tidemark.checkpoint.kind'] = ctx.kind;
      if (ctx.thread !== undefined) attributes['tidemark.thread'] = ctx.thread;
      withError(ctx, attributes);
      // A span republished from the Ring 1 worker arrives a message late: its own duration is exact.
      checkpoint.record(ctx.durationMs === undefined ? s : ctx.durationMs / 1000, attributes);
      if (ctx.bytes !== undefined) checkpointBytes.record(ctx.bytes, attributes);
    }),
    onSpanDone<RecoverySpanContext>(tracing.recovery, (ctx, s) => {
      recovery.record(s, withError(ctx, { 'tidemark.recovery.operation': ctx.operation }));
    }),
    onSpanDone<ObjectStoreRequestContext>(tracing.objectStoreRequest, (ctx, s) => {
      const attributes: MetricAttributes = { 'tidemark.object_store.operation': ctx.operation };
      if (ctx.status !== undefined) attributes['http.response.status_code'] = ctx.status;
      objectStore.record(s, withError(ctx, attributes));
    }),
  ];
  let enabled = true;
  const disable = () => {
    if (!enabled) return;
    enabled = false;
    for (const stop of stops) stop();
  };
  return { disable, [Symbol.dispose]: disable };
}

/** `@opentelemetry/api`'s global meter provider, the package imported now (not at `import 'tidemark'`). */
async function globalMeterProvider(): Promise<MetricsMeterProvider> {
  const api = await importOptional({
    name: OPENTELEMETRY_API_PACKAGE,
    neededFor: 'OpenTelemetry metrics (enableOpenTelemetryMetrics)',
    load: () => import('@opentelemetry/api'),
  });
  return api.metrics.getMeterProvider();
}
