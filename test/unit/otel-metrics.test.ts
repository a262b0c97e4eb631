/**
 * OpenTelemetry metrics (docs/OBSERVABILITY.md, "OpenTelemetry metrics"): every documented
 * histogram is recorded with a positive value, its unit and its documented attributes after a
 * simple-store run; the global provider of `@opentelemetry/api` is used when none is given; after
 * `disable()` nothing more is recorded and the channels have no subscriber left (zero cost).
 *
 * The OpenTelemetry SDK is not a dependency of this repository: the meter provider here is a
 * hand-written implementation of `@opentelemetry/api`'s `MeterProvider` interface that logs the
 * calls, which checks tidemark's wiring against the API's own types.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Gauge,
  type Histogram,
  type Meter,
  type MeterProvider,
  type MetricOptions,
  metrics,
  type ObservableCounter,
  type ObservableGauge,
  type ObservableUpDownCounter,
  type UpDownCounter,
} from '@opentelemetry/api';
import { tracing } from '../../src/diagnostics.ts';
import { channels, enableOpenTelemetryMetrics, RecoveryManager, S3ObjectStorage } from '../../src/index.ts';
import { payloadFor, tmpDir } from '../helpers/tmp.ts';

interface Recorded {
  name: string;
  value: number;
  attributes: Attributes;
}

/** A `MeterProvider` whose histograms log every `record` call; other instruments are no-ops. */
class RecordingMeterProvider implements MeterProvider {
  readonly meters: { name: string; version: string | undefined }[] = [];
  readonly instruments = new Map<string, MetricOptions | undefined>();
  readonly records: Recorded[] = [];

  getMeter(name: string, version?: string): Meter {
    this.meters.push({ name, version });
    const noop = createNoopMeter();
    const provider = this;
    const meter: Meter = {
      createHistogram(instrument: string, options?: MetricOptions): Histogram {
        provider.instruments.set(instrument, options);
        return {
          record(value: number, attributes?: Attributes) {
            provider.records.push({ name: instrument, value, attributes: { ...attributes } });
          },
        };
      },
      createGauge: (n, o): Gauge => noop.createGauge(n, o),
      createCounter: (n, o): Counter => noop.createCounter(n, o),
      createUpDownCounter: (n, o): UpDownCounter => noop.createUpDownCounter(n, o),
      createObservableGauge: (n, o): ObservableGauge => noop.createObservableGauge(n, o),
      createObservableCounter: (n, o): ObservableCounter => noop.createObservableCounter(n, o),
      createObservableUpDownCounter: (n, o): ObservableUpDownCounter =>
        noop.createObservableUpDownCounter(n, o),
      addBatchObservableCallback: (cb, obs) => noop.addBatchObservableCallback(cb, obs),
      removeBatchObservableCallback: (cb, obs) => noop.removeBatchObservableCallback(cb, obs),
    };
    return meter;
  }

  named(name: string): Recorded[] {
    return this.records.filter((r) => r.name === name);
  }
}

/** Puts, a flushed commit, a checkpoint, a close and a recovery of `dir`. */
async function simpleStoreRun(dir: string): Promise<void> {
  const opened = await new RecoveryManager({ dir, wal: { syncMethod: 'fdatasync' } }).open();
  for (let i = 0; i < 20; i++) opened.store.put(`k${i}`, payloadFor(i));
  await opened.store.flushed(opened.store.commit({ src: 20 }));
  await opened.checkpoint();
  opened.store.put('after', payloadFor(99));
  await opened.close();
  await new RecoveryManager({ dir }).recover();
}

const noSubscribers = () => Object.values(tracing).every((channel) => !channel.hasSubscribers);

test('every documented metric is recorded with a positive value, its unit and its attributes after a simple-store run; disable() stops it', async () => {
  const dir = tmpDir('otel');
  const provider = new RecordingMeterProvider();
  const m = await enableOpenTelemetryMetrics({ meterProvider: provider });
  try {
    await simpleStoreRun(path.join(dir, 'a'));
  } finally {
    m.disable();
  }
  assert.deepEqual(provider.meters, [{ name: 'tidemark', version: '0.1.0' }]);
  const units: Record<string, string> = {
    'tidemark.wal.fsync.duration': 's',
    'tidemark.wal.group_commit.duration': 's',
    'tidemark.wal.group_commit.records': '{record}',
    'tidemark.wal.group_commit.bytes': 'By',
    'tidemark.checkpoint.duration': 's',
    'tidemark.checkpoint.bytes': 'By',
    'tidemark.recovery.duration': 's',
    'tidemark.object_store.request.duration': 's',
  };
  for (const [name, unit] of Object.entries(units))
    assert.equal(provider.instruments.get(name)?.unit, unit, name);

  for (const name of Object.keys(units).filter((n) => !n.startsWith('tidemark.object_store'))) {
    const got = provider.named(name);
    assert.ok(got.length >= 1, `${name} was recorded`);
    for (const r of got) assert.ok(r.value > 0 && Number.isFinite(r.value), `${name}: ${r.value}`);
    for (const r of got) assert.equal(r.attributes['error.type'], undefined, `${name}: no failure`);
  }
  for (const r of provider.named('tidemark.wal.fsync.duration'))
    assert.equal(r.attributes['tidemark.wal.sync_method'], 'fdatasync');
  assert.ok(
    provider.named('tidemark.wal.group_commit.records').some((r) => r.value >= 21),
    'the commit group',
  );
  const ckpts = provider.named('tidemark.checkpoint.duration');
  assert.equal(ckpts.length, 1);
  assert.deepEqual(ckpts[0]!.attributes, {
    'tidemark.checkpoint.engine': 'incremental',
    'tidemark.checkpoint.kind': 'base',
  });
  assert.deepEqual(
    provider.named('tidemark.recovery.duration').map((r) => r.attributes),
    [{ 'tidemark.recovery.operation': 'open' }, { 'tidemark.recovery.operation': 'recover' }],
  );
  // The durations are in seconds: a local run of a few puts takes well under a minute.
  for (const r of provider.records.filter((x) => x.name.endsWith('.duration')))
    assert.ok(r.value < 60, `${r.name}`);

  // After disable(): no subscriber left, and a second run records nothing.
  assert.ok(noSubscribers(), 'disable() unsubscribed from every channel');
  const before = provider.records.length;
  await simpleStoreRun(path.join(dir, 'b'));
  assert.equal(provider.records.length, before, 'nothing recorded after disable()');
  m.disable(); // idempotent
});

test("without options the metrics go to @opentelemetry/api's global meter provider (imported on that call), and using disposes them", async () => {
  const dir = tmpDir('otel-global');
  const provider = new RecordingMeterProvider();
  assert.ok(metrics.setGlobalMeterProvider(provider), 'the global provider was not set before');
  try {
    {
      using _m = await enableOpenTelemetryMetrics();
      await simpleStoreRun(dir);
    }
    assert.equal(provider.meters[0]?.name, 'tidemark');
    assert.ok(provider.named('tidemark.wal.fsync.duration').length >= 1);
    assert.ok(noSubscribers(), 'disposal unsubscribed from every channel');
  } finally {
    metrics.disable();
  }
});

test('an object-store request attempt is recorded with its operation, HTTP status and error.type for a failed one', async () => {
  // A loopback HTTP server standing in for S3: the object's first HEAD answers 503, the retry 200.
  let objectHeads = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'HEAD' && req.url?.startsWith('/bkt/obj') && ++objectHeads === 1) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-length': '0' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const storage = new S3ObjectStorage({
    bucket: 'bkt',
    prefix: '',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    accessKeyId: 'test',
    secretAccessKey: 'test',
    createBucket: false,
    baseBackoffMs: 1,
    maxBackoffMs: 1,
  });
  const provider = new RecordingMeterProvider();
  const m = await enableOpenTelemetryMetrics({ meter: provider.getMeter('mine') });
  try {
    assert.ok(await storage.head('obj'));
  } finally {
    m.disable();
    storage.destroy();
    server.close();
  }
  const got = provider.named('tidemark.object_store.request.duration');
  assert.deepEqual(
    got.map((r) => [
      r.attributes['tidemark.object_store.operation'],
      r.attributes['http.response.status_code'],
      r.attributes['error.type'] !== undefined,
    ]),
    [
      ['HeadBucket', 200, false],
      ['HeadObject', 503, true],
      ['HeadObject', 200, false],
    ],
  );
  for (const r of got) assert.ok(r.value > 0);
  assert.equal(channels.objectStoreRequest, 'tidemark:object-store.request');
});

test('enableOpenTelemetryMetrics refuses options that are not an object, a meter or a meter provider, before subscribing to anything', async () => {
  for (const bad of [
    null,
    5,
    'x',
    { meter: {} },
    { meter: 3 },
    { meterProvider: {} },
    { meterProvider: 'p' },
  ]) {
    await assert.rejects(
      enableOpenTelemetryMetrics(bad as never),
      { code: 'TIDEMARK_INVALID_ARGUMENT' },
      JSON.stringify(bad),
    );
  }
  for (const [name, channel] of Object.entries(tracing))
    assert.equal(
      (channel as { hasSubscribers: boolean }).hasSubscribers,
      false,
      `${name}: nothing subscribed`,
    );
});
