// The HTML report of a benchmark run (`npm run bench -- --html FILE`): one self-contained page —
// Chart.js inlined, the run's figures inlined as JSON, a Content-Security-Policy that forbids every
// fetch — so it can be mailed, attached to a CI run or opened offline and shows the same charts.
//
// renderReport is pure apart from reading Chart.js's bundle from node_modules (once): the charts
// are chosen here, from the figures' names, and the page's script only draws them.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

let chartJsSource;
/** Chart.js's UMD bundle (it defines `window.Chart`), with its license header. */
function chartJs() {
  if (chartJsSource === undefined) {
    const main = createRequire(import.meta.url).resolve('chart.js'); // …/chart.js/dist/chart.cjs
    // `</script` would end the inline script early; `<\/script` means the same inside JS strings,
    // regular expressions and comments. (Chart.js 4.6 contains none; this keeps a later one safe.)
    chartJsSource = fs
      .readFileSync(path.join(path.dirname(main), 'chart.umd.js'), 'utf8')
      .replace(/<\/(script)/gi, '<\\/$1');
  }
  return chartJsSource;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Text for HTML element content and attribute values. */
function escapeHtml(value) {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

/** JSON for a `<script type="application/json">`: `<` escaped, so `</script>` or `<!--` in a name cannot end it. */
function scriptJson(value) {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Groups the figures whose name matches `re` into one chart: `label(m)` is the x-axis category,
 * `series(m)` the dataset, `value(r)` the bar. Categories keep their first-seen order unless
 * `sortLabels` is given. Returns undefined when no figure matches.
 */
function groupChart(results, re, { label, series, value = (r) => r.value, sortLabels, ...spec }) {
  const labels = [];
  const datasets = new Map();
  for (const r of results) {
    const m = re.exec(r.name);
    if (!m || !Number.isFinite(r.value)) continue;
    const l = label(m);
    if (!labels.includes(l)) labels.push(l);
    const s = series(m);
    if (!datasets.has(s)) datasets.set(s, new Map());
    datasets.get(s).set(l, value(r));
  }
  if (labels.length === 0) return undefined;
  if (sortLabels) labels.sort(sortLabels);
  return {
    ...spec,
    labels,
    datasets: [...datasets].map(([name, byLabel], i) => ({
      label: name,
      data: labels.map((l) => byLabel.get(l) ?? null),
      backgroundColor: PALETTE[i % PALETTE.length],
    })),
  };
}

const byConcurrency = (a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, ''));

function formatUs(us) {
  if (us === null) return '> 100 s';
  if (us >= 1e6) return `≤ ${us / 1e6} s`;
  if (us >= 1e3) return `≤ ${us / 1e3} ms`;
  return `≤ ${us} µs`;
}

/** One chart per `<prefix>_histogram_c<C>`: each engine's share of commits per latency bucket. */
function histogramCharts(results) {
  const groups = new Map();
  for (const r of results) {
    const m = /^(.+)_histogram_(c\d+)_(.+)$/.exec(r.name);
    if (!m || r.unit !== 'histogram' || !Array.isArray(r.buckets)) continue;
    const key = `${m[1]}_histogram_${m[2]}`;
    if (!groups.has(key)) groups.set(key, { prefix: m[1], c: m[2], series: [] });
    groups.get(key).series.push({ engine: m[3], buckets: r.buckets });
  }
  const charts = [];
  for (const [key, g] of groups) {
    const bounds = [...new Set(g.series.flatMap((s) => s.buckets.map((b) => b.le_us)))].sort((a, b) =>
      a === null ? 1 : b === null ? -1 : a - b,
    );
    charts.push({
      id: key,
      title: `${g.prefix.replace(/_/g, ' ')}: latency distribution at concurrency ${g.c.slice(1)}`,
      note: 'Share of commits whose latency (put to durable) fell in each bucket; buckets are log-spaced.',
      labels: bounds.map(formatUs),
      yTitle: '% of commits',
      xTitle: 'latency',
      datasets: g.series.map((s, i) => {
        const total = s.buckets.reduce((sum, b) => sum + b.count, 0) || 1;
        const byBound = new Map(s.buckets.map((b) => [b.le_us, b.count]));
        return {
          label: s.engine,
          data: bounds.map((b) => Math.round(((byBound.get(b) ?? 0) / total) * 10000) / 100),
          backgroundColor: PALETTE[i % PALETTE.length],
        };
      }),
    });
  }
  return charts;
}

/**
 * The charts of a run, from the figures' names (the benchmarks' naming is documented in each
 * bench/*.ts): commits/s against the peers per value size and concurrency, tidemark ÷ best peer,
 * WAL appends/s and every `*_vs_raw_*` ratio against the raw disk, commit-latency commits/s, and
 * one latency histogram chart per concurrency. Only charts with data are returned.
 *
 * @param {{name: string, value: number, unit: string}[]} results
 */
export function reportCharts(results) {
  const charts = [];
  const sizes = [
    ...new Set(results.map((r) => /^commits_per_s_c\d+_.+_([^_]+)$/.exec(r.name)?.[1]).filter(Boolean)),
  ];
  for (const size of sizes) {
    charts.push(
      groupChart(results, new RegExp(`^commits_per_s_c(\\d+)_(.+)_${size}$`), {
        id: `peers_commits_per_s_${size}`,
        title: `Durable commits/s against the peers, ${size} values`,
        note: 'One put per commit, C clients each awaiting durability (bench/peers.ts). Log scale.',
        label: (m) => `C = ${m[1]}`,
        series: (m) => m[2],
        sortLabels: byConcurrency,
        yTitle: 'commits/s',
        xTitle: 'concurrent clients',
        logY: true,
      }),
    );
  }
  charts.push(
    groupChart(results, /^tidemark_vs_best_peer_c(\d+)_(.+)$/, {
      id: 'tidemark_vs_best_peer',
      title: 'tidemark ÷ the better peer (commits/s)',
      note: 'Above 1: the better tidemark engine commits faster than the better of sqlite and lmdb.',
      label: (m) => `C = ${m[1]}`,
      series: (m) => m[2],
      sortLabels: byConcurrency,
      yTitle: 'ratio',
      xTitle: 'concurrent clients',
    }),
    groupChart(results, /^(raw|wal|wal_serial)_appends_per_s_(.+)$/, {
      id: 'wal_vs_raw_records_per_s',
      title: 'Durable appends/s: WriteAheadLog against the raw disk',
      note: 'raw = writeSync + fdatasyncSync of the same bytes, same run (bench/wal-append.ts). Log scale.',
      label: (m) => m[2],
      series: (m) => m[1],
      yTitle: 'records/s',
      xTitle: 'record size, records per group',
      logY: true,
    }),
    groupChart(
      results.filter((r) => r.unit === 'ratio'),
      /^(.+)_vs_raw_(.+)$/,
      {
        id: 'ratio_vs_raw',
        title: 'Throughput ÷ the raw disk',
        note: '1.0 = raw writeSync + fdatasyncSync of the same bytes measured in the same run.',
        label: (m) => m[2],
        series: (m) => m[1],
        yTitle: 'ratio',
        xTitle: 'case',
      },
    ),
    groupChart(results, /^commit_latency_commits_per_s_c(\d+)_(.+)$/, {
      id: 'commit_latency_commits_per_s',
      title: 'Commits/s with default WAL options (commit-latency)',
      note: 'put 200 B + commit + await flushed (bench/commit-latency.ts). Log scale.',
      label: (m) => `C = ${m[1]}`,
      series: (m) => m[2],
      sortLabels: byConcurrency,
      yTitle: 'commits/s',
      xTitle: 'concurrent clients',
      logY: true,
    }),
    ...histogramCharts(results),
  );
  return charts.filter(Boolean);
}

function formatValue(r) {
  if (r.unit === 'histogram') return `${Number(r.value).toLocaleString('en-US')} samples`;
  return typeof r.value === 'number'
    ? r.value.toLocaleString('en-US', { maximumFractionDigits: 3 })
    : r.value;
}

// Static: draws the charts listed in the inlined JSON. `window.tidemarkReport` lets a test (or a
// curious reader's console) find the Chart instances.
const PAGE_SCRIPT = `
const report = JSON.parse(document.getElementById('tidemark-data').textContent);
const instances = [];
const container = document.getElementById('charts');
for (const spec of report.charts) {
  const section = document.createElement('section');
  const h2 = document.createElement('h2');
  h2.textContent = spec.title;
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = spec.note || '';
  const box = document.createElement('div');
  box.className = 'chart';
  const canvas = document.createElement('canvas');
  canvas.id = 'chart-' + spec.id;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', spec.title);
  box.append(canvas);
  section.append(h2, note, box);
  container.append(section);
  instances.push(new Chart(canvas, {
    type: 'bar',
    data: { labels: spec.labels, datasets: spec.datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { title: { display: Boolean(spec.xTitle), text: spec.xTitle } },
        y: { type: spec.logY ? 'logarithmic' : 'linear', title: { display: true, text: spec.yTitle } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  }));
}
window.tidemarkReport = { charts: instances, done: true };
`;

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; color: #444; }
dl.meta dt { font-weight: 600; }
.warn { background: #fff4d6; border-left: 4px solid #e0a800; padding: .5rem .8rem; }
section { margin: 2rem 0; }
h2 { font-size: 1.1rem; margin-bottom: .2rem; }
.note { color: #555; margin-top: 0; }
.chart { position: relative; height: 340px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
`;

/**
 * The report page of a benchmark run, as one self-contained HTML string.
 *
 * @param {{bench?: string, name: string, value: number, unit: string, buckets?: {le_us: number|null, count: number}[]}[]} results
 *   every JSON line the run printed, with the benchmark that printed it
 * @param {{date?: string, node?: string, commit?: string, machine?: string, quick?: boolean, [key: string]: unknown}} meta
 *   shown at the top (strings); `quick: true` adds a warning that the figures are not for quoting
 * @returns {string} the HTML: no external resource (a CSP forbids them), the figures inlined as JSON
 */
export function renderReport(results, meta) {
  const charts = reportCharts(results);
  const metaRows = Object.entries(meta)
    .filter(([k, v]) => k !== 'quick' && v !== undefined)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('\n');
  const rows = results
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.bench ?? '')}</td><td>${escapeHtml(r.name)}</td><td class="num">${escapeHtml(formatValue(r))}</td><td>${escapeHtml(r.unit)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tidemark benchmarks${meta.date ? ` — ${escapeHtml(meta.date)}` : ''}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>tidemark benchmarks</h1>
<dl class="meta">
${metaRows}
</dl>
${meta.quick ? '<p class="warn">Quick mode (TIDEMARK_BENCH_QUICK=1): small cases that check the benchmarks run. These figures are not for quoting.</p>' : ''}
<div id="charts"></div>
${charts.length === 0 ? '<p class="note">No figure of this run has a chart (the table below has them all).</p>' : ''}
<section>
<h2>Every figure</h2>
<table>
<thead><tr><th>benchmark</th><th>name</th><th>value</th><th>unit</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>
<script type="application/json" id="tidemark-data">${scriptJson({ meta, results, charts })}</script>
<script>${chartJs()}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
