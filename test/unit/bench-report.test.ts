// `npm run bench -- --html FILE` writes a page meant to be looked at: these render it from a fixed
// set of figures (no benchmark run: fast) and open it in a real headless Chromium, so a report
// whose charts do not draw (a Chart.js option it rejects, a script error, data that breaks out of
// its <script>, a fetch the page's CSP blocks) fails here rather than in someone's browser.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { type BenchResult, renderReport, reportCharts } from '../../scripts/bench-report.mjs';
import { tmpDir } from '../helpers/tmp.ts';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium tries to reach Google's services at start.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const haveChromium = fs.existsSync(CHROMIUM);
// In CI a missing browser is a broken setup (.ci/run installs it), never a reason to skip.
const skipBrowser =
  !haveChromium && process.env.CI !== 'true'
    ? `${CHROMIUM} is missing (apt-get install chromium): the report is not opened in a browser`
    : false;

/** What the page reports about one canvas. */
interface ChartCheck {
  id: string;
  hasChart: boolean;
  datasets: number;
  width: number;
  height: number;
  painted: number;
  firstColour: number;
}

const HOSTILE = 'evil</script><script>window.__pwned = 1</script><!--';

/** Every kind of figure a full run prints, with made-up values. */
function sampleResults(): BenchResult[] {
  const out: BenchResult[] = [];
  const engines = ['tidemark_simple', 'tidemark_ring', 'sqlite', 'lmdb'];
  for (const size of ['100B', '1KiB'])
    for (const c of [1, 16, 256]) {
      engines.forEach((e, i) => {
        out.push({
          bench: 'peers',
          name: `commits_per_s_c${c}_${e}_${size}`,
          value: 3000 * c + 700 * i,
          unit: 'commits/s',
        });
      });
      out.push({
        bench: 'peers',
        name: `tidemark_vs_best_peer_c${c}_${size}`,
        value: 0.8 + c / 200,
        unit: 'ratio',
      });
    }
  for (const key of ['100B_b1', '100B_b64', '1KiB_b512']) {
    out.push(
      { bench: 'wal-append', name: `raw_appends_per_s_${key}`, value: 50_000, unit: 'records/s' },
      { bench: 'wal-append', name: `wal_appends_per_s_${key}`, value: 45_000, unit: 'records/s' },
      { bench: 'wal-append', name: `wal_serial_appends_per_s_${key}`, value: 30_000, unit: 'records/s' },
      { bench: 'wal-append', name: `append_vs_raw_${key}`, value: 0.9, unit: 'ratio' },
      { bench: 'wal-append', name: `append_serial_vs_raw_${key}`, value: 0.6, unit: 'ratio' },
    );
  }
  out.push({ bench: 'pipeline', name: 'pipeline_vs_raw_1KiB_b512', value: 0.85, unit: 'ratio' });
  out.push({ bench: 'pipeline', name: 'ring0_put_p50_ns', value: 180, unit: 'ns' });
  for (const c of [1, 16, 256]) {
    for (const store of ['simple', 'ring'])
      out.push({
        bench: 'commit-latency',
        name: `commit_latency_commits_per_s_c${c}_${store}`,
        value: 2000 * c,
        unit: 'commits/s',
      });
    ['simple', 'ring', 'sqlite', 'lmdb'].forEach((e, i) => {
      out.push({
        bench: 'commit-latency',
        name: `commit_latency_histogram_c${c}_${e}`,
        value: 100,
        unit: 'histogram',
        buckets: [
          { le_us: 237 * (i + 1), count: 10 },
          { le_us: 316 * (i + 1), count: 70 },
          { le_us: 10_000, count: 15 },
          { le_us: null, count: 5 },
        ],
      });
    });
  }
  out.push({ bench: 'checkpoint', name: HOSTILE, value: 1, unit: '<b>unit</b>' });
  return out;
}

const meta = {
  date: '2026-12-03T16:00:00.000Z',
  node: 'v20.20.2',
  commit: 'abc123def456',
  machine: `2 CPUs ${HOSTILE}`,
  quick: true,
};

test('the report inlines Chart.js and its data, and a name cannot end its <script> or fetch anything', () => {
  const html = renderReport(sampleResults(), meta);
  assert.match(html, /Chart\.js v4\./, 'Chart.js is not inlined');
  assert.doesNotMatch(html, /<(script|link|img)[^>]*\s(src|href)=/i, 'the page loads an external resource');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  // Only the page's own three scripts: the hostile name is text, not markup.
  assert.equal(html.match(/<script/gi)?.length, 3);
  assert.equal(html.match(/<\/script/gi)?.length, 3);
  const json = /<script type="application\/json" id="tidemark-data">([^<]*)<\/script>/.exec(html);
  assert.ok(json, 'the data block is not one <script> without "<" in it');
  const data = JSON.parse(json[1]!);
  assert.equal(data.results.length, sampleResults().length);
  assert.ok(data.results.some((r: BenchResult) => r.name === HOSTILE));
});

test('the charts are chosen from the figures present, and none without data', () => {
  const ids = reportCharts(sampleResults()).map((c) => c.id);
  assert.deepEqual(ids, [
    'peers_commits_per_s_100B',
    'peers_commits_per_s_1KiB',
    'tidemark_vs_best_peer',
    'wal_vs_raw_records_per_s',
    'ratio_vs_raw',
    'commit_latency_commits_per_s',
    'commit_latency_histogram_c1',
    'commit_latency_histogram_c16',
    'commit_latency_histogram_c256',
  ]);
  const ratio = reportCharts(sampleResults()).find((c) => c.id === 'ratio_vs_raw')!;
  assert.deepEqual(
    ratio.datasets.map((d) => d.label),
    ['append', 'append_serial', 'pipeline'],
  );
  const hist = reportCharts(sampleResults()).find((c) => c.id === 'commit_latency_histogram_c16')!;
  assert.equal(hist.labels.at(-1), '> 100 s');
  for (const d of hist.datasets)
    assert.equal(
      Math.round(d.data.reduce<number>((a, b) => a + (b ?? 0), 0)),
      100,
      `${d.label}: shares do not add up to 100 %`,
    );
  assert.deepEqual(reportCharts([{ name: 'ring0_put_p50_ns', value: 1, unit: 'ns' }]), []);
});

test('every chart of the report renders in headless Chromium, with no page error, console error or network request', {
  skip: skipBrowser,
  timeout: 120_000,
}, async () => {
  assert.ok(haveChromium, `${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does)`);
  const results = sampleResults();
  const expected = reportCharts(results);
  const file = path.join(tmpDir('bench-report'), 'report.html');
  fs.writeFileSync(file, renderReport(results, meta));

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    const url = pathToFileURL(file).href;
    page.on('request', (r) => {
      if (r.url() !== url) problems.push(`request: ${r.url()}`);
    });
    await page.goto(url);
    await page.waitForFunction('window.tidemarkReport?.done === true', null, { timeout: 30_000 });

    // Runs in the page (a string: this file is type-checked without the DOM's types).
    const charts = await page.evaluate<
      ChartCheck[]
    >(`[...document.querySelectorAll('canvas')].map((canvas) => {
      const chart = Chart.getChart(canvas);
      const { width, height } = canvas;
      const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
      let painted = 0;
      let firstColour = 0; // pixels in the first dataset's colour, #1f77b4: its bars were drawn
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] > 0) painted++;
        if (pixels[i] === 0x1f && pixels[i + 1] === 0x77 && pixels[i + 2] === 0xb4) firstColour++;
      }
      const datasets = chart ? chart.data.datasets.length : 0;
      return { id: canvas.id, hasChart: chart !== undefined, datasets, width, height, painted, firstColour };
    })`);
    assert.deepEqual(
      charts.map((c) => c.id),
      expected.map((c) => `chart-${c.id}`),
    );
    charts.forEach((c, i) => {
      assert.ok(c.hasChart, `${c.id}: no Chart.js instance`);
      assert.equal(c.datasets, expected[i]!.datasets.length, `${c.id}: datasets`);
      assert.ok(c.width > 300 && c.height > 200, `${c.id}: canvas ${c.width}×${c.height}`);
      assert.ok(
        c.painted > (c.width * c.height) / 100,
        `${c.id}: canvas is blank (${c.painted} pixels painted)`,
      );
      assert.ok(c.firstColour > 50, `${c.id}: no bar of the first dataset drawn (${c.firstColour} pixels)`);
    });

    // The hostile figure name stayed text: shown in the table, never run.
    assert.equal(await page.evaluate('typeof window.__pwned'), 'undefined');
    const cells = await page.locator('td').allTextContents();
    assert.ok(cells.includes(HOSTILE), 'the hostile name is not shown as text in the table');
    assert.ok(await page.getByText('not for quoting').isVisible(), 'the quick-mode warning is missing');
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
