// Types of scripts/bench-report.mjs, for the TypeScript tests that import it.

/** One JSON line of a benchmark run, with the benchmark that printed it. */
export interface BenchResult {
  bench?: string;
  name: string;
  value: number;
  unit: string;
  /** Histogram lines (`unit: 'histogram'`): non-cumulative counts per upper bound in µs (`null`: overflow). */
  buckets?: { le_us: number | null; count: number }[];
}

/** Shown at the top of the report; `quick: true` adds a "not for quoting" warning. */
export interface BenchMeta {
  date?: string;
  node?: string;
  commit?: string;
  machine?: string;
  quick?: boolean;
  [key: string]: unknown;
}

/** A bar chart of the report, as the page draws it with Chart.js. */
export interface ChartSpec {
  id: string;
  title: string;
  note?: string;
  labels: string[];
  datasets: { label: string; data: (number | null)[]; backgroundColor: string }[];
  xTitle?: string;
  yTitle: string;
  logY?: boolean;
}

/** The charts a run's figures give (only those with data). */
export function reportCharts(results: BenchResult[]): ChartSpec[];

/** The self-contained HTML report of a run (Chart.js and the figures inlined, no fetches). */
export function renderReport(results: BenchResult[], meta: BenchMeta): string;
