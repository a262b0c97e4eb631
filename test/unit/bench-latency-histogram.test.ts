// The commit-latency benchmark's histogram lines feed the HTML report's latency charts: a sample
// counted in the wrong bucket, or cumulative counts, would draw a distribution that never happened.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../../bench/helpers/latency-histogram.ts';

test('a latency histogram counts each sample once, in the first bucket whose bound is not below it', () => {
  const h = new LatencyHistogram();
  h.record(1_000_000); // 1 ms: exactly the 1000 µs bound
  h.record(1_000_001); // just above: the next bucket (1330 µs)
  h.record(1_200_000);
  h.record(3_000_000); // 3 ms: ≤ 3160 µs
  const line = h.toLine('commit_latency_histogram_c1_simple');
  assert.equal(line.unit, 'histogram');
  assert.equal(line.value, 4);
  assert.deepEqual(line.buckets, [
    { le_us: 1000, count: 1 },
    { le_us: 1330, count: 2 },
    { le_us: 1780, count: 0 },
    { le_us: 2370, count: 0 },
    { le_us: 3160, count: 1 },
  ]);
  assert.equal(h.quantileUpperBoundUs(0.5), 1330);
  assert.equal(h.quantileUpperBoundUs(1), 3160);
});

test('a latency above the last bound (100 s) lands in the overflow bucket, null in JSON', () => {
  const h = new LatencyHistogram();
  h.record(200e9);
  assert.deepEqual(JSON.parse(JSON.stringify(h.toLine('x'))).buckets, [{ le_us: null, count: 1 }]);
  assert.equal(h.quantileUpperBoundUs(0.99), null);
  assert.deepEqual(new LatencyHistogram().toLine('empty').buckets, []);
});
